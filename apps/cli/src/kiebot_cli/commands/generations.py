"""``kiebot generations refund``: give a delivered generation's Stars back (``DATABASE_URL``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kiebot_cli.errors import EXIT_REJECTED, fail, guarded

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.outcomes import Rejected
    from kiebot_core.use_cases.generation import GenerationRefunded

generations_app = typer.Typer(
    help="Users' generations (against the store of DATABASE_URL).", no_args_is_help=True
)


async def _refund(
    settings: CliSettings, generation_id: str, reason: str
) -> GenerationRefunded | Rejected:
    from kiebot_cli.operator import operator_actor
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.domain.ids import GenerationId
    from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
    from kiebot_core.use_cases.generation import refund_generation

    async with open_bot_store(settings) as store:
        return await refund_generation(
            store,
            SystemClock(),
            Uuid4Ids(),
            GenerationId(generation_id),
            reason,
            by=operator_actor(settings),
        )


@generations_app.command("refund")
@guarded
def refund(
    ctx: typer.Context,
    generation_id: Annotated[str, typer.Argument(help="The generation's id (gen_…).")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="Why (kept in the event log and the audit trail; told to the user)."
        ),
    ],
) -> None:
    """Give a delivered generation's charged Stars back to its user, once.

    The user is told by the bot's worker, which sends the notice after this command.
    """
    import asyncio

    from kiebot_core.domain.outcomes import Rejected

    context: CliContext = ctx.obj
    result = asyncio.run(_refund(context.settings, generation_id, reason))
    if isinstance(result, Rejected):
        fail(context.err, result.detail or result.reason, EXIT_REJECTED)
    generation = result.generation
    what = f"{result.stars} ⭐ of {generation.id} ({generation.model_id}) to {generation.user_id}"
    if result.is_new:
        context.out.print(
            f"Refunded {what}. The bot's worker will send the user the notice.", soft_wrap=True
        )
    else:
        context.out.print(f"Already refunded: {what}; nothing changed.", soft_wrap=True)
