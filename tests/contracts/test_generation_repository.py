from datetime import timedelta
from decimal import Decimal

import attrs
import pytest

from kiebot_core.domain.errors import DuplicateError, NotFoundError, StaleWriteError
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import GenerationId, ProviderTaskId, UserId
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from tests.contracts.builders import make_generation
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


def moved(outcome: Generation | Rejected) -> Generation:
    assert isinstance(outcome, Generation), outcome
    return outcome


async def add(uow: Store, *generations: Generation) -> None:
    async with uow() as tx:
        for generation in generations:
            await tx.generations.add(generation)
        await tx.commit()


async def test_a_generation_reads_back_equal_with_every_field(uow: Store) -> None:
    now = uow.now()
    generation = make_generation(
        at=now,
        prompt="Кот в шляпе, 🎩",
        credits="0.50",
        input={"prompt": "x", "n": 2, "ratio": 1.5, "flags": [True, None], "nested": {"a": "b"}},
        held=12,
        state=GenerationState.SUCCEEDED,
        task_id=ProviderTaskId("task_1"),
        result_urls=("https://example.test/1.png", "https://example.test/2.png"),
        result_object={"objects": [{"label": "cat", "score": 0.98}]},
        credits_consumed=Decimal("4.75"),
        delivered_refs=("file_a", "file_b"),
        reason=ReasonCode.DELIVERY_FAILED,
        version=3,
    )
    await add(uow, generation)
    async with uow() as tx:
        stored = await tx.generations.get(generation.id)
    assert stored == generation


async def test_credits_are_kept_as_exact_decimals(uow: Store) -> None:
    generation = make_generation(at=uow.now(), credits="0.10")
    await add(uow, generation)
    async with uow() as tx:
        stored = await tx.generations.get(generation.id)
    assert stored is not None
    assert str(stored.credits) == "0.10"
    assert stored.credits_consumed is None
    assert stored.result_object is None


async def test_an_unknown_generation_is_none(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.generations.get(GenerationId("gen_404")) is None
        assert await tx.generations.get_by_task(ProviderTaskId("task_404")) is None


async def test_adding_an_existing_id_is_a_duplicate(uow: Store) -> None:
    await add(uow, make_generation("gen_1", at=uow.now()))
    async with uow() as tx:
        with pytest.raises(DuplicateError):
            await tx.generations.add(make_generation("gen_1", at=uow.now(), model_id="other"))


async def test_a_task_id_belongs_to_one_generation(uow: Store) -> None:
    task = ProviderTaskId("task_1")
    await add(uow, make_generation("gen_1", at=uow.now(), task_id=task))
    async with uow() as tx:
        with pytest.raises(DuplicateError):
            await tx.generations.add(make_generation("gen_2", at=uow.now(), task_id=task))
        found = await tx.generations.get_by_task(task)
    assert found is not None
    assert found.id == "gen_1"


async def test_save_moves_the_version_on(uow: Store) -> None:
    now = uow.now()
    await add(uow, make_generation(at=now))
    async with uow() as tx:
        stored = await tx.generations.get(GenerationId("gen_1"))
        assert stored is not None
        submitted = moved(stored.submitted(ProviderTaskId("task_9"), now + timedelta(seconds=1)))
        saved = await tx.generations.save(submitted)
        await tx.commit()
    assert saved == attrs.evolve(submitted, version=1)
    async with uow() as tx:
        assert await tx.generations.get(GenerationId("gen_1")) == saved
        assert await tx.generations.get_by_task(ProviderTaskId("task_9")) == saved


async def test_a_stale_save_is_refused(uow: Store) -> None:
    now = uow.now()
    original = make_generation(at=now)
    await add(uow, original)
    async with uow() as tx:
        await tx.generations.save(moved(original.submitted(ProviderTaskId("task_1"), now)))
        await tx.commit()
    async with uow() as tx:
        with pytest.raises(StaleWriteError):
            await tx.generations.save(moved(original.cancelled(now)))
        current = await tx.generations.get(original.id)
    assert current is not None
    assert current.state is GenerationState.SUBMITTED
    assert current.version == 1


async def test_saving_a_generation_never_added_is_not_found(uow: Store) -> None:
    async with uow() as tx:
        with pytest.raises(NotFoundError):
            await tx.generations.save(make_generation(at=uow.now()))


async def test_saving_another_generations_task_id_is_a_duplicate(uow: Store) -> None:
    now = uow.now()
    taken = ProviderTaskId("task_1")
    await add(
        uow, make_generation("gen_1", at=now, task_id=taken), make_generation("gen_2", at=now)
    )
    async with uow() as tx:
        second = await tx.generations.get(GenerationId("gen_2"))
        assert second is not None
        with pytest.raises(DuplicateError):
            await tx.generations.save(moved(second.submitted(taken, now)))
        # The unit of work is still usable after the refusal.
        saved = await tx.generations.save(moved(second.submitted(ProviderTaskId("task_2"), now)))
        await tx.commit()
    async with uow() as tx:
        assert await tx.generations.get(GenerationId("gen_2")) == saved


async def test_for_user_lists_newest_first_up_to_the_limit(uow: Store) -> None:
    now = uow.now()
    await add(
        uow,
        *(make_generation(f"gen_{n}", at=now + timedelta(seconds=n)) for n in range(1, 6)),
        make_generation("gen_other", at=now + timedelta(seconds=9), user_id=2),
    )
    async with uow() as tx:
        listed = await tx.generations.for_user(UserId(1), limit=3)
        everything = await tx.generations.for_user(UserId(1), limit=100)
    assert [g.id for g in listed] == ["gen_5", "gen_4", "gen_3"]
    assert [g.id for g in everything] == ["gen_5", "gen_4", "gen_3", "gen_2", "gen_1"]


async def test_for_user_breaks_ties_by_id(uow: Store) -> None:
    now = uow.now()
    await add(uow, *(make_generation(f"gen_{n}", at=now) for n in ("a", "B", "c", "_")))
    async with uow() as tx:
        listed = await tx.generations.for_user(UserId(1), limit=10)
    assert [g.id for g in listed] == sorted(["gen_a", "gen_B", "gen_c", "gen__"], reverse=True)


async def test_search_matches_the_model_or_the_prompt_in_any_case(uow: Store) -> None:
    now = uow.now()
    await add(
        uow,
        make_generation("gen_1", at=now, model_id="flux-2/pro", prompt="Рыжий " + "кот".upper()),
        make_generation("gen_2", at=now, model_id="veo3/fast", prompt="a dog"),
        make_generation("gen_3", at=now, model_id="Kling/Video", prompt="sunset"),
    )
    async with uow() as tx:
        by_prompt = await tx.generations.for_user(UserId(1), limit=10, search="кот")
        by_model = await tx.generations.for_user(UserId(1), limit=10, search="KLING")
        by_neither = await tx.generations.for_user(UserId(1), limit=10, search="zebra")
        empty = await tx.generations.for_user(UserId(1), limit=10, search="")
    assert [g.id for g in by_prompt] == ["gen_1"]
    assert [g.id for g in by_model] == ["gen_3"]
    assert by_neither == []
    assert len(empty) == 3


async def test_unfinished_lists_live_generations_oldest_first(uow: Store) -> None:
    now = uow.now()
    states = {
        "gen_1": GenerationState.RUNNING,
        "gen_2": GenerationState.SUCCEEDED,
        "gen_3": GenerationState.PENDING,
        "gen_4": GenerationState.FAILED,
        "gen_5": GenerationState.DELIVERING,
        "gen_6": GenerationState.CANCELLED,
        "gen_7": GenerationState.SUBMITTED,
    }
    await add(
        uow,
        *(
            make_generation(gid, at=now - timedelta(minutes=n), state=state)
            for n, (gid, state) in enumerate(states.items())
        ),
    )
    async with uow() as tx:
        live = await tx.generations.unfinished()
    assert [g.id for g in live] == ["gen_7", "gen_5", "gen_3", "gen_1"]


async def test_unfinished_of_one_user_leaves_out_the_others(uow: Store) -> None:
    now = uow.now()
    await add(
        uow,
        make_generation("gen_a", at=now, state=GenerationState.RUNNING, user_id=1),
        make_generation("gen_b", at=now, state=GenerationState.PENDING, user_id=2),
        make_generation("gen_c", at=now, state=GenerationState.FAILED, user_id=1),
    )
    async with uow() as tx:
        mine = await tx.generations.unfinished(user_id=UserId(1))
        everyone = await tx.generations.unfinished()
    assert [g.id for g in mine] == ["gen_a"]
    assert {g.id for g in everyone} == {"gen_a", "gen_b"}
