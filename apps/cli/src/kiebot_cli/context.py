"""What every command shares: the environment, the language, the console, the settings."""

import os
from collections.abc import Mapping

import attrs
from rich.console import Console

from kiebot_cli.errors import fail
from kiebot_core.domain.catalog import Registry
from kiebot_core.domain.errors import SettingsError
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.settings import price_settings_from_env
from kiebot_core.domain.texts import Language, language_for


@attrs.frozen
class CliContext:
    """Built once per invocation by the root callback."""

    env: Mapping[str, str]
    language: Language
    out: Console
    err: Console

    prices: PriceSettings
    debug: bool = False

    @property
    def registry(self) -> Registry:
        return load_registry()


def make_context(
    *, lang: str | None, debug: bool, env: Mapping[str, str] | None = None
) -> CliContext:
    """Read the environment once; a malformed setting ends the command with exit code 2."""
    environment = dict(os.environ if env is None else env)
    code = lang or environment.get("KIEBOT_LANG") or environment.get("LANG")
    err = Console(stderr=True)
    try:
        prices = price_settings_from_env(environment)
    except SettingsError as problem:
        fail(err, f"{problem.variable}: {problem.problem}")
    return CliContext(
        env=environment,
        language=language_for(code),
        out=Console(),
        err=err,
        prices=prices,
        debug=debug,
    )
