"""The CLI's error boundary: one clear line and a documented exit code, never a traceback."""

import functools
from collections.abc import Callable
from typing import NoReturn, ParamSpec

import typer
from rich.console import Console
from rich.markup import escape

from kiebot_core.domain.errors import KiebotError, SettingsError
from kiebot_core.domain.reasons import reason_text
from kiebot_core.domain.texts import DEFAULT_LANGUAGE

EXIT_FAILED = 1
"""Failed at KIE or in delivery."""
EXIT_REJECTED = 2
"""Rejected: invalid input, short balance, missing or malformed setting."""
EXIT_INTERRUPTED = 130


def fail(err: Console, message: str, code: int = EXIT_REJECTED) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    err.print(f"[bold red]Error:[/bold red] {escape(message)}")
    raise typer.Exit(code)


P = ParamSpec("P")


def guarded(command: Callable[P, None]) -> Callable[P, None]:
    """Wrap a command so a kiebot failure is one line on stderr and exit 1 (or 2 for a bad
    setting), never a traceback — unless ``--debug`` was given.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except KiebotError as error:
            context = getattr(kwargs.get("ctx"), "obj", None)  # Typer passes it by name
            if getattr(context, "debug", False):
                raise
            console = Console(stderr=True, highlight=False)
            if isinstance(error, SettingsError):
                fail(console, f"{error.variable} {error.problem}", EXIT_REJECTED)
            what = reason_text(error.reason_code, getattr(context, "language", DEFAULT_LANGUAGE))
            fail(console, f"{what} ({error})", EXIT_FAILED)

    return run
