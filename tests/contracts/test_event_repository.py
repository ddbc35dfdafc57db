from datetime import timedelta

import pytest

from kiebot_core.domain.ids import CorrelationId, GenerationId, UserId
from kiebot_core.domain.reasons import ReasonCode
from tests.contracts.builders import make_event
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def test_an_event_reads_back_equal(uow: Store) -> None:
    event = make_event(
        at=uow.now(),
        kind="kie.submitted",
        user_id=UserId(1),
        generation_id=GenerationId("gen_1"),
        reason=ReasonCode.PROVIDER_TIMEOUT,
        duration_ms=1234,
        payload={"model": "veo3", "attempt": 2, "ok": False, "nested": {"list": [1, "a"]}},
    )
    async with uow() as tx:
        await tx.events.append(event)
        await tx.commit()
    async with uow() as tx:
        assert await tx.events.chain(CorrelationId("cor_1")) == [event]


async def test_a_chain_is_its_events_oldest_first(uow: Store) -> None:
    now = uow.now()
    events = [
        make_event(at=now + timedelta(seconds=2), kind="third"),
        make_event(at=now, kind="first"),
        make_event(at=now + timedelta(seconds=1), kind="second"),
        make_event(at=now + timedelta(seconds=1), kind="second, appended later"),
        make_event("cor_2", at=now, kind="another action"),
    ]
    async with uow() as tx:
        for event in events:
            await tx.events.append(event)
        await tx.commit()
    async with uow() as tx:
        chain = await tx.events.chain(CorrelationId("cor_1"))
        assert await tx.events.chain(CorrelationId("cor_unknown")) == []
    assert [e.kind for e in chain] == ["first", "second", "second, appended later", "third"]


async def test_prune_deletes_only_events_before_the_cutoff(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        for minutes in (-3, -2, -1, 0, 1):
            await tx.events.append(
                make_event(at=now + timedelta(minutes=minutes), kind=str(minutes))
            )
        await tx.commit()
    async with uow() as tx:
        assert await tx.events.prune(now - timedelta(minutes=1)) == 2
        assert await tx.events.prune(now - timedelta(minutes=1)) == 0
        await tx.commit()
    async with uow() as tx:
        kept = await tx.events.chain(CorrelationId("cor_1"))
    assert [e.kind for e in kept] == ["-1", "0", "1"]


async def test_uncommitted_events_are_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.events.append(make_event(at=uow.now()))
    async with uow() as tx:
        assert await tx.events.chain(CorrelationId("cor_1")) == []
