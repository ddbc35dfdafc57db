"""What every command shares: the settings, the language, the consoles."""

import os
import sys
from collections.abc import Mapping

import attrs
from rich.console import Console

from kiebot_cli.errors import fail
from kiebot_cli.settings import CliSettings, load_settings
from kiebot_core.domain.catalog import Registry
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language, language_for


@attrs.frozen
class CliContext:
    """Built once per invocation by the root callback."""

    settings: CliSettings
    language: Language
    out: Console
    err: Console
    interactive: bool
    """True when a person is at the terminal: missing inputs are asked, runs confirmed."""
    debug: bool = False

    @property
    def registry(self) -> Registry:
        return load_registry()


def make_context(
    *,
    lang: str | None,
    debug: bool,
    interactive: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> CliContext:
    """Read the environment once; a malformed setting ends the command with exit code 2."""
    environment = dict(os.environ if env is None else env)
    code = lang or environment.get("KIEBOT_LANG") or environment.get("LANG")
    err = Console(stderr=True, highlight=False)
    try:
        settings = load_settings(environment)
    except SettingsError as problem:
        fail(err, f"{problem.variable}: {problem.problem}")
    return CliContext(
        settings=settings,
        language=language_for(code),
        out=Console(highlight=False),
        err=err,
        interactive=sys.stdin.isatty() and sys.stdout.isatty()
        if interactive is None
        else interactive,
        debug=debug,
    )
