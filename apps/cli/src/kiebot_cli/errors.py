"""The CLI's error boundary: one clear line and a documented exit code, never a traceback."""

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

EXIT_FAILED = 1
"""Failed at KIE or in delivery."""
EXIT_REJECTED = 2
"""Rejected: invalid input, short balance, missing or malformed setting."""
EXIT_INTERRUPTED = 130


def fail(err: Console, message: str, code: int = EXIT_REJECTED) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with ``code``."""
    err.print(f"[bold red]Error:[/bold red] {escape(message)}")
    raise typer.Exit(code)
