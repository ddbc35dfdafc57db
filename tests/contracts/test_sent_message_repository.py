import pytest

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import SentMessage
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

BOT = 7
MESSAGE: JsonValue = {
    "message_id": 5,
    "date": 1767225600,
    "chat": {"id": 42, "type": "private", "first_name": "Ann"},
    "from": {"id": BOT, "is_bot": True, "first_name": "Kiebot"},
    "text": "Привет, <b>мир</b> 👋",
    "entities": [{"type": "bold", "offset": 8, "length": 3}],
}


async def record(
    uow: Store,
    update_id: int,
    seq: int,
    *,
    bot_id: int = BOT,
    method: str = "sendMessage",
    result: JsonValue = MESSAGE,
) -> bool:
    async with uow() as tx:
        recorded = await tx.sent_messages.record(bot_id, update_id, seq, method, result)
        await tx.commit()
    return recorded


async def recorded(
    uow: Store, update_id: int, seq: int, *, bot_id: int = BOT
) -> SentMessage | None:
    async with uow() as tx:
        return await tx.sent_messages.recorded(bot_id, update_id, seq)


async def test_a_recorded_call_reads_back_with_its_result_and_time(uow: Store) -> None:
    before = uow.now()
    assert await record(uow, 100, 1) is True
    found = await recorded(uow, 100, 1)
    assert found is not None
    assert (found.bot_id, found.update_id, found.seq, found.method, found.result) == (
        BOT,
        100,
        1,
        "sendMessage",
        MESSAGE,
    )
    uow.assert_close(found.recorded_at, before)


@pytest.mark.parametrize(
    ("method", "result"),
    [
        ("sendMediaGroup", [{"message_id": 1, "caption": "a"}, {"message_id": 2}]),
        ("answerCallbackQuery", True),
        ("deleteMessage", False),
        ("copyMessage", {"message_id": 9}),
        ("sendMessage", {"nested": {"list": [1, 2.5, "x", None, {"deep": True}]}}),
    ],
)
async def test_every_json_result_reads_back_equal(
    uow: Store, method: str, result: JsonValue
) -> None:
    await record(uow, 100, 1, method=method, result=result)
    found = await recorded(uow, 100, 1)
    assert found is not None
    assert (found.method, found.result) == (method, result)
    assert type(found.result) is type(result)


async def test_a_call_is_recorded_once_and_the_first_record_stays(uow: Store) -> None:
    assert await record(uow, 100, 1) is True
    assert await record(uow, 100, 1, method="editMessageText", result=True) is False
    async with uow() as tx:
        assert await tx.sent_messages.record(BOT, 100, 1, "sendPhoto", {"x": 1}) is False
        await tx.commit()
    found = await recorded(uow, 100, 1)
    assert found is not None
    assert (found.method, found.result) == ("sendMessage", MESSAGE)


async def test_records_are_kept_per_bot_update_and_seq(uow: Store) -> None:
    assert await record(uow, 100, 1, result={"message_id": 1}) is True
    assert await record(uow, 100, 2, result={"message_id": 2}) is True
    assert await record(uow, 101, 1, result={"message_id": 3}) is True
    assert await record(uow, 100, 1, bot_id=8, result={"message_id": 4}) is True
    results = [
        found.result if (found := await recorded(uow, update_id, seq, bot_id=bot_id)) else None
        for bot_id, update_id, seq in [
            (BOT, 100, 1),
            (BOT, 100, 2),
            (BOT, 101, 1),
            (8, 100, 1),
            (BOT, 100, 3),
            (BOT, 102, 1),
            (9, 100, 1),
        ]
    ]
    assert results == [
        {"message_id": 1},
        {"message_id": 2},
        {"message_id": 3},
        {"message_id": 4},
        None,
        None,
        None,
    ]


async def test_uncommitted_records_are_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.sent_messages.record(BOT, 100, 1, "sendMessage", MESSAGE) is True
        assert await tx.sent_messages.recorded(BOT, 100, 1) is not None
    assert await recorded(uow, 100, 1) is None
    assert await record(uow, 100, 1) is True


async def test_a_result_that_is_not_json_is_refused(uow: Store) -> None:
    async with uow() as tx:
        with pytest.raises(TypeError):
            await tx.sent_messages.record(BOT, 100, 1, "sendMessage", {"x": float("nan")})
        with pytest.raises(TypeError):
            await tx.sent_messages.record(BOT, 100, 2, "sendMessage", {"x": {1, 2}})  # type: ignore[dict-item]
        await tx.commit()
    assert await recorded(uow, 100, 1) is None
    assert await recorded(uow, 100, 2) is None


async def test_prune_deletes_only_records_made_before_the_cutoff(uow: Store) -> None:
    await record(uow, 100, 1)
    await record(uow, 100, 2)
    await record(uow, 101, 1)
    await uow.elapse(uow.tick)
    cutoff = uow.now()
    await uow.elapse(uow.tick)
    await record(uow, 102, 1)
    async with uow() as tx:
        assert await tx.sent_messages.prune(cutoff) == 3
        assert await tx.sent_messages.prune(cutoff) == 0
        await tx.commit()
    assert [
        await recorded(uow, update_id, seq) is not None
        for update_id, seq in [(100, 1), (100, 2), (101, 1), (102, 1)]
    ] == [False, False, False, True]


async def test_pruning_is_rolled_back_unless_committed(uow: Store) -> None:
    await record(uow, 100, 1)
    await uow.elapse(uow.tick)
    async with uow() as tx:
        assert await tx.sent_messages.prune(uow.now()) == 1
    assert await recorded(uow, 100, 1) is not None
