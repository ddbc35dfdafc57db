"""``kiebot users export|forget``: a user's data for operators (the bot's store, ``DATABASE_URL``).

The same use cases as the bot's /privacy screen; both are recorded in the audit trail as
``cli:<KIEBOT_OPERATOR or the login name>`` (a forgetting names the anonymous id, never the
Telegram id).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kiebot_cli.errors import EXIT_FAILED, EXIT_REJECTED, fail

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.outcomes import Rejected
    from kiebot_core.use_cases.privacy import Forgotten, StoredData


async def _export(settings: CliSettings, user_id: int) -> dict[str, Any] | Rejected:
    from kiebot_cli.operator import operator_actor
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.domain.ids import UserId
    from kiebot_core.ports.runtime import SystemClock
    from kiebot_core.use_cases.privacy import export_user_data

    async with open_bot_store(settings) as store:
        return await export_user_data(
            store, SystemClock(), UserId(user_id), by=operator_actor(settings)
        )


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it is someone's personal data)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def export(
    ctx: typer.Context,
    telegram_id: Annotated[int, typer.Argument(help="The user's Telegram id.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the JSON document to this file (default: print it)."
        ),
    ] = None,
) -> None:
    """Export everything stored about a user as one JSON document.

    Profile, balance, generations, payments, ledger and favorites: what the bot's /privacy
    sends them. Recorded in the audit trail.
    """
    import asyncio

    from kiebot_core.domain.outcomes import Rejected

    context: CliContext = ctx.obj
    document = asyncio.run(_export(context.settings, telegram_id))
    if isinstance(document, Rejected):
        fail(context.err, f"no user {telegram_id}: never seen, or their data was deleted")
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        context.out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        return
    try:
        _write_private(out, text)
    except OSError as problem:
        fail(context.err, f"cannot write {out}: {problem.strerror or problem}", EXIT_FAILED)
    context.err.print(
        f"Wrote {out}: {len(document['generations'])} generations, "
        f"{len(document['payments'])} payments, {len(document['ledger'])} ledger moves, "
        f"{len(document['favorites'])} favorites.",
        markup=False,
        highlight=False,
    )


async def _stored(settings: CliSettings, user_id: int) -> StoredData | None:
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.domain.ids import UserId
    from kiebot_core.use_cases.privacy import stored_data

    async with open_bot_store(settings) as store:
        return await stored_data(store, UserId(user_id))


async def _forget(settings: CliSettings, user_id: int, reason: str) -> Forgotten | Rejected:
    from kiebot_cli.operator import operator_actor
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.domain.ids import UserId
    from kiebot_core.ports.runtime import SystemClock
    from kiebot_core.use_cases.privacy import forget_user

    async with open_bot_store(settings) as store:
        return await forget_user(
            store, SystemClock(), UserId(user_id), by=operator_actor(settings), reason=reason
        )


def forget(
    ctx: typer.Context,
    telegram_id: Annotated[int, typer.Argument(help="The user's Telegram id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking.")] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the audit trail), e.g. a request id.")
    ] = "",
) -> None:
    """Delete a user's personal data, keeping payments and the ledger anonymous.

    What the bot's "delete my data" does: profile, prompts, results, favorites and
    conversations are erased; payments and the ledger stay, as the law requires, under an
    anonymous id. Refused while their generations run or they owe Stars. Recorded in the audit
    trail under the anonymous id.
    """
    import asyncio

    from kiebot_core.domain.outcomes import Rejected
    from kiebot_core.domain.reasons import ReasonCode, reason_text

    context: CliContext = ctx.obj
    data = asyncio.run(_stored(context.settings, telegram_id))
    if data is None:
        fail(context.err, f"no user {telegram_id}: never seen, or their data was deleted")
    context.out.print(
        f"User {telegram_id}: {data.generations} generations, {data.payments} payments, "
        f"{data.moves} ledger moves, {data.favorites} favorites; balance "
        f"{data.balance.available} ⭐ (forfeited when forgotten).",
        highlight=False,
    )
    if not yes:
        if not context.interactive:
            fail(context.err, "not forgotten: pass --yes to forget this user")
        if not typer.confirm(f"Forget user {telegram_id}? This cannot be undone.", default=False):
            context.err.print("Not forgotten.")
            raise typer.Exit(EXIT_FAILED)
    if context.settings.redis_url is not None:
        from kiebot_core.domain.errors import StorageUnavailableError

        try:
            erased = asyncio.run(_erase_wizard_state(context.settings.redis_url, telegram_id))
        except StorageUnavailableError as error:
            fail(
                context.err,
                f"not forgotten: the bot's Redis (REDIS_URL) cannot be reached ({error.detail}), "
                "so the user's wizard state could not be erased; try again once it is back",
            )
        context.out.print(f"Erased {erased} wizard state keys from the bot's Redis.")
    outcome = asyncio.run(_forget(context.settings, telegram_id, reason.strip()))
    if isinstance(outcome, Rejected):
        text = reason_text(outcome.reason, context.language)
        if outcome.reason is ReasonCode.IN_DEBT:
            text += (
                f" ({outcome.detail}: settle it first, e.g. `kiebot users grant {telegram_id} "
                "N --reason ...` to waive it)"
            )
        fail(context.err, f"not forgotten: {text}", EXIT_REJECTED)
    context.out.print(
        f"Forgotten: user {telegram_id} is now anonymous id {outcome.record.anonymous_id}; "
        "their payments and ledger are kept under it, everything else is erased.",
        highlight=False,
    )


async def _erase_wizard_state(redis_url: str, telegram_id: int) -> int:
    from kiebot_redis.client import open_redis
    from kiebot_redis.fsm import erase_user_state

    async with open_redis(redis_url) as client:
        return await erase_user_state(client, telegram_id)
