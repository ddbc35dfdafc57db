"""``kiebot payments list|refund|reconcile``: the bot's Stars payments (``DATABASE_URL``).

``refund`` and ``reconcile`` also call the Bot API as the bot (``TELEGRAM_BOT_TOKEN``, at
``TELEGRAM_API_BASE``); aiogram loads only for them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

from kiebot_cli.errors import EXIT_FAILED, EXIT_REJECTED, fail, guarded

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from kiebot_cli.context import CliContext
    from kiebot_cli.settings import CliSettings
    from kiebot_core.domain.catalog import JsonValue
    from kiebot_core.domain.outcomes import Rejected
    from kiebot_core.domain.payments import Payment
    from kiebot_core.domain.reconciliation import Mismatch
    from kiebot_core.ports.storage import UnitOfWorkFactory
    from kiebot_core.use_cases.payments import ChargeRefunded, Payments

T = TypeVar("T")

payments_app = typer.Typer(
    help="Telegram Stars payments (against the store of DATABASE_URL).", no_args_is_help=True
)


def _row(payment: Payment) -> dict[str, JsonValue]:
    return {
        "charge_id": payment.charge_id,
        "user_id": payment.user_id,
        "order_id": payment.order_id,
        "stars": payment.stars,
        "credited": payment.credited,
        "state": payment.state.value,
        "created_at": payment.created_at.isoformat(),
    }


def _payments(store: UnitOfWorkFactory) -> Payments:
    from kiebot_core.ports.runtime import SystemClock, Uuid4Ids
    from kiebot_core.use_cases.payments import Payments

    return Payments(uow=store, clock=SystemClock(), ids=Uuid4Ids())


def _call_bot_api(context: CliContext, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``: Telegram's refusal or absence ends it with exit 1, in one line (a missing
    setting is the guard's: exit 2).
    """
    import asyncio

    from kiebot_core.domain.errors import StarsError

    try:
        return asyncio.run(work)
    except StarsError as error:
        fail(context.err, f"Telegram: {error.detail}", EXIT_FAILED)


async def _list(settings: CliSettings, user_id: int | None, limit: int) -> list[Payment]:
    from kiebot_cli.wiring import open_bot_store
    from kiebot_core.domain.ids import UserId

    async with open_bot_store(settings) as store, store() as uow:
        if user_id is None:
            return await uow.payments.recent(limit=limit)
        return await uow.payments.for_user(UserId(user_id), limit=limit)


@payments_app.command("list")
@guarded
def list_payments(
    ctx: typer.Context,
    user: Annotated[int | None, typer.Option("--user", help="Only this Telegram user's.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Payments, newest first."""
    import asyncio

    context: CliContext = ctx.obj
    found = asyncio.run(_list(context.settings, user, limit))
    if as_json:
        context.out.print_json(json.dumps([_row(p) for p in found], ensure_ascii=False))
        return
    table = Table(title=f"{len(found)} payments", title_justify="left")
    table.add_column("Charge", overflow="fold")
    for column in ("User", "Stars", "Credited", "State", "When"):
        table.add_column(column, no_wrap=True)
    for payment in found:
        table.add_row(
            payment.charge_id,
            str(payment.user_id),
            f"{payment.stars} ⭐",
            f"{payment.credited} ⭐",
            payment.state.value,
            payment.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    context.out.print(table)


async def _refund(settings: CliSettings, charge_id: str, reason: str) -> ChargeRefunded | Rejected:
    from kiebot_cli.operator import operator_actor
    from kiebot_cli.wiring import open_bot_store, open_stars_account
    from kiebot_core.domain.ids import PaymentChargeId
    from kiebot_core.use_cases.payments import refund_charge

    async with open_stars_account(settings) as account, open_bot_store(settings) as store:
        return await refund_charge(
            _payments(store),
            account,
            PaymentChargeId(charge_id),
            by=operator_actor(settings),
            reason=reason,
        )


@payments_app.command("refund")
@guarded
def refund(
    ctx: typer.Context,
    charge_id: Annotated[str, typer.Argument(help="The payment's Telegram charge id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")] = "",
) -> None:
    """Refund a payment at Telegram and book it once; spent Stars become the user's debt."""
    from kiebot_core.domain.outcomes import Rejected

    context: CliContext = ctx.obj
    result = _call_bot_api(context, _refund(context.settings, charge_id, reason))
    if isinstance(result, Rejected):
        fail(context.err, result.detail or result.reason, EXIT_REJECTED)
    payment, balance = result.booked.payment, result.booked.balance
    if result.refunded_now:
        done = f"Refunded {payment.stars} ⭐ to {payment.user_id} at Telegram"
    else:
        done = "Telegram had already refunded it (CHARGE_ALREADY_REFUNDED)"
    if result.booked.is_new:
        booked = f"booked: {payment.credited} ⭐ left the balance"
    else:
        booked = "the ledger had it already"
    context.out.print(
        f"{done}; {booked}. User {payment.user_id}: available {balance.available} ⭐, "
        f"held {balance.held} ⭐, debt {balance.debt} ⭐",
        soft_wrap=True,
    )


async def _reconcile(settings: CliSettings) -> list[Mismatch]:
    from kiebot_cli.wiring import open_bot_store, open_stars_account
    from kiebot_core.use_cases.payments import reconcile_payments

    async with open_stars_account(settings) as account, open_bot_store(settings) as store:
        return await reconcile_payments(_payments(store), account)


@payments_app.command("reconcile")
@guarded
def reconcile(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare the stored payments with Telegram's record; exit 1 when they differ.

    Changes nothing.
    """
    context: CliContext = ctx.obj
    mismatches = _call_bot_api(context, _reconcile(context.settings))
    if as_json:
        rows = [
            {"charge_id": m.charge_id, "kind": m.kind.value, "detail": m.detail}
            for m in mismatches
        ]
        context.out.print_json(json.dumps(rows, ensure_ascii=False))
    elif mismatches:
        context.out.print(f"{len(mismatches)} mismatches with Telegram's record:")
        for m in mismatches:
            context.out.print(f"{m.kind}  {m.charge_id}  {m.detail}", markup=False, soft_wrap=True)
    else:
        context.out.print("Every payment matches Telegram's record")
    if mismatches:
        raise typer.Exit(EXIT_FAILED)
