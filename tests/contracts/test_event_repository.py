from datetime import timedelta

import pytest

from kiebot_core.domain.ids import CorrelationId, GenerationId, ProviderTaskId, UserId
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


async def test_a_generations_events_are_found_by_its_id_in_order(uow: Store) -> None:
    now = uow.now()
    gen = GenerationId("gen_1")
    async with uow() as tx:
        await tx.events.append(
            make_event(at=now + timedelta(seconds=2), kind="b", generation_id=gen)
        )
        await tx.events.append(make_event("cor_2", at=now, kind="a", generation_id=gen))
        await tx.events.append(
            make_event(at=now + timedelta(seconds=2), kind="c", generation_id=gen)
        )
        await tx.events.append(
            make_event(at=now, kind="another generation", generation_id=GenerationId("gen_2"))
        )
        await tx.events.append(make_event(at=now, kind="no generation"))
        await tx.commit()
    async with uow() as tx:
        found = await tx.events.for_generation(gen)
        assert await tx.events.for_generation(GenerationId("gen_unknown")) == []
    assert [e.kind for e in found] == ["a", "b", "c"]
    assert {e.correlation_id for e in found} == {"cor_1", "cor_2"}


async def test_events_are_found_by_the_kie_task_and_the_update_they_name(uow: Store) -> None:
    now = uow.now()
    async with uow() as tx:
        await tx.events.append(
            make_event(at=now, kind="kie.create", payload={"kie_task_id": "task_a", "ms": 3})
        )
        await tx.events.append(
            make_event(
                at=now + timedelta(seconds=1), kind="kie.status", payload={"kie_task_id": "task_a"}
            )
        )
        await tx.events.append(
            make_event(at=now, kind="other task", payload={"kie_task_id": "task_b"})
        )
        await tx.events.append(
            make_event("cor_9", at=now, kind="update", payload={"update_id": 77})
        )
        await tx.events.append(make_event(at=now, kind="update", payload={"update_id": 78}))
        await tx.events.append(
            make_event(at=now, kind="text, not a tag", payload={"text": "task_a 77"})
        )
        await tx.commit()
    async with uow() as tx:
        by_task = await tx.events.for_task(ProviderTaskId("task_a"))
        by_update = await tx.events.for_update(77)
        assert await tx.events.for_task(ProviderTaskId("task_z")) == []
        assert await tx.events.for_update(1) == []
    assert [e.kind for e in by_task] == ["kie.create", "kie.status"]
    assert [(e.correlation_id, e.kind) for e in by_update] == [("cor_9", "update")]


async def test_a_users_events_are_the_newest_since_a_moment_oldest_first(uow: Store) -> None:
    now = uow.now()
    user = UserId(5)
    async with uow() as tx:
        for minutes in (0, 1, 2, 3, 3, 4):
            await tx.events.append(
                make_event(
                    at=now + timedelta(minutes=minutes),
                    kind=f"m{minutes}",
                    user_id=user,
                    payload={"n": minutes},
                )
            )
        await tx.events.append(make_event(at=now, kind="another user", user_id=UserId(6)))
        await tx.events.append(make_event(at=now, kind="nobody's"))
        await tx.commit()
    async with uow() as tx:
        every = await tx.events.for_user(user, limit=100)
        latest = await tx.events.for_user(user, limit=3)
        since = await tx.events.for_user(user, limit=100, since=now + timedelta(minutes=2))
        both = await tx.events.for_user(user, limit=2, since=now + timedelta(minutes=1))
        assert await tx.events.for_user(user, limit=0) == []
        assert await tx.events.for_user(UserId(404), limit=10) == []
    assert [e.kind for e in every] == ["m0", "m1", "m2", "m3", "m3", "m4"]
    assert [e.kind for e in latest] == ["m3", "m3", "m4"]
    assert [e.kind for e in since] == ["m2", "m3", "m3", "m4"]
    assert [e.kind for e in both] == ["m3", "m4"]
