"""The ``kiebot`` command: Typer app construction."""

from typing import Annotated

import typer

from kiebot_cli.commands import models
from kiebot_cli.context import make_context


def make_app() -> typer.Typer:
    """Build the CLI (tests build their own and drive it with CliRunner)."""
    app = typer.Typer(
        name="kiebot",
        help="Run AI generations through KIE.ai from a terminal.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        lang: Annotated[
            str | None, typer.Option("--lang", help="ru or en (default: KIEBOT_LANG or LANG).")
        ] = None,
        debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    ) -> None:
        ctx.obj = make_context(lang=lang, debug=debug)

    app.add_typer(models.app, name="models")
    return app


def main() -> None:
    """Entry point of the ``kiebot`` script."""
    make_app()()
