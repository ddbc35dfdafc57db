"""``kiebot users grant``: operator grants, written to the bot's ledger (``DATABASE_URL``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kiebot_cli.commands import privacy
from kiebot_cli.errors import EXIT_REJECTED, fail, guarded

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.outcomes import Rejected
    from kiebot_core.use_cases.billing import Granted

users_app = typer.Typer(
    help="Bot users (against the store of DATABASE_URL).", no_args_is_help=True
)


async def _grant(
    settings: CliSettings, user_id: int, stars: int, reason: str
) -> Granted | Rejected:
    from kiebot_cli.operator import operator_actor
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.domain.ids import UserId
    from kiebot_core.ports.runtime import SystemClock
    from kiebot_core.use_cases.billing import grant_stars

    async with open_bot_store(settings) as store:
        return await grant_stars(
            store, SystemClock(), UserId(user_id), stars, reason, by=operator_actor(settings)
        )


@users_app.command("grant")
@guarded
def grant(
    ctx: typer.Context,
    telegram_id: Annotated[int, typer.Argument(help="The user's Telegram id.")],
    stars: Annotated[int, typer.Argument(min=1, help="How many Stars to give.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the ledger and the audit trail).")
    ],
) -> None:
    """Give a user Stars once: the same id, amount and reason again changes nothing.

    Recorded in the audit trail as cli:<KIEBOT_OPERATOR or your login name>.
    """
    import asyncio

    from kiebot_core.domain.outcomes import Rejected

    context: CliContext = ctx.obj
    if not reason.strip():
        fail(context.err, "--reason must not be empty", EXIT_REJECTED)
    result = asyncio.run(_grant(context.settings, telegram_id, stars, reason.strip()))
    if isinstance(result, Rejected):
        fail(context.err, result.detail or result.reason, EXIT_REJECTED)
    verb = "Granted" if result.is_new else "Already granted"
    context.out.print(
        f"{verb} {stars} ⭐ to {telegram_id} ({reason.strip()}); "
        f"available {result.balance.available} ⭐, held {result.balance.held} ⭐"
    )


users_app.command("export")(guarded(privacy.export))
users_app.command("forget")(guarded(privacy.forget))
