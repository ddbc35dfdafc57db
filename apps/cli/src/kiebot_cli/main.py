"""The ``kiebot`` command: Typer app construction."""

from typing import Annotated

import typer

from kiebot_cli.commands import (
    audit,
    generate,
    generations,
    models,
    operations,
    payments,
    pricing,
    promos,
    tasks,
    users,
)
from kiebot_cli.errors import guarded


def make_app(*, interactive: bool | None = None) -> typer.Typer:
    """Build the CLI; ``interactive`` overrides the terminal check (tests drive the wizard)."""
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
        from kiebot_cli.context import make_context  # noqa: PLC0415  # only when a command runs

        ctx.obj = make_context(lang=lang, debug=debug, interactive=interactive)

    app.add_typer(models.app, name="models")
    app.add_typer(pricing.app, name="pricing")
    app.command("generate")(guarded(generate.generate))
    app.command("credits")(guarded(operations.credits))
    app.command("history")(guarded(tasks.history))
    app.command("debug")(guarded(tasks.debug))
    app.command("replay")(guarded(tasks.replay))
    app.add_typer(tasks.tasks_app, name="tasks")
    app.add_typer(operations.sandbox_app, name="sandbox")
    app.add_typer(operations.db_app, name="db")
    app.add_typer(users.users_app, name="users")
    app.add_typer(payments.payments_app, name="payments")
    app.add_typer(promos.promo_app, name="promo")
    app.add_typer(generations.generations_app, name="generations")
    app.command("audit")(guarded(audit.audit))
    return app


def main() -> None:
    """Entry point of the ``kiebot`` script."""
    make_app()()
