from datetime import timedelta

import pytest

from kiebot_core.domain.audit import AuditAction, AuditEntry, cli_actor, telegram_actor
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

ADMIN = telegram_actor(4242)
OPERATOR = cli_actor("alice")


def entry(uow: Store, target: str, *, after: timedelta = timedelta(0), **changes: object):
    fields: dict[str, object] = {
        "actor": ADMIN,
        "action": AuditAction.GRANT,
        "target": target,
        "at": uow.now() + after,
    }
    fields.update(changes)
    return AuditEntry(**fields)  # type: ignore[arg-type]


async def test_the_trail_starts_empty(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.audit.recent(limit=10) == []


async def test_an_entry_reads_back_equal(uow: Store) -> None:
    recorded = entry(
        uow,
        "gen_42",
        actor=OPERATOR,
        action=AuditAction.GENERATION_REFUND,
        detail="user=7 stars=12",
        reason="Результат пустой — «возврат» <b>",
    )
    async with uow() as tx:
        await tx.audit.append(recorded)
        await tx.commit()
    async with uow() as tx:
        assert await tx.audit.recent(limit=10) == [recorded]


async def test_entries_come_newest_first_and_the_same_moment_in_reverse_recording_order(
    uow: Store,
) -> None:
    older = entry(uow, "1", after=-timedelta(hours=1))
    first, second = entry(uow, "2"), entry(uow, "3", action=AuditAction.BAN)
    newest = entry(uow, "4", after=timedelta(minutes=5), action=AuditAction.MODEL_DISABLE)
    async with uow() as tx:
        for recorded in (first, newest, older, second):
            await tx.audit.append(recorded)
        await tx.commit()
    async with uow() as tx:
        assert [e.target for e in await tx.audit.recent(limit=10)] == ["4", "3", "2", "1"]
        assert [e.target for e in await tx.audit.recent(limit=2)] == ["4", "3"]
        assert await tx.audit.recent(limit=0) == []


async def test_since_keeps_the_entries_at_or_after_it(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        for hours in (3, 2, 1):
            await tx.audit.append(entry(uow, f"{hours}h", after=-timedelta(hours=hours)))
        await tx.commit()
    async with uow() as tx:
        recent = await tx.audit.recent(limit=10, since=now - timedelta(hours=2))
        assert [e.target for e in recent] == ["1h", "2h"]
        assert await tx.audit.recent(limit=10, since=now) == []


async def test_an_uncommitted_entry_is_rolled_back_with_its_action(uow: Store) -> None:
    async with uow() as tx:
        await tx.audit.append(entry(uow, "7"))
    async with uow() as tx:
        assert await tx.audit.recent(limit=10) == []
