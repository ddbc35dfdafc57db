import pytest

from kiebot_core.domain.coordination import Conversation
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


def wizard(state: str | None = "wizard:prompt", **data: object) -> Conversation:
    return Conversation(bot_id=7, chat_id=42, user_id=1, state=state, data=data)  # type: ignore[arg-type]


async def test_a_conversation_never_stored_is_none(uow: Store) -> None:
    async with uow() as tx:
        assert await tx.conversations.get(7, 42, 1) is None


async def test_a_stored_conversation_reads_back_equal(uow: Store) -> None:
    conversation = wizard(model="flux-2/pro", answers={"prompt": "Кот", "n": 2, "hd": True})
    async with uow() as tx:
        await tx.conversations.put(conversation)
        await tx.commit()
    async with uow() as tx:
        assert await tx.conversations.get(7, 42, 1) == conversation
        assert await tx.conversations.get(7, 42, 2) is None
        assert await tx.conversations.get(8, 42, 1) is None
        assert await tx.conversations.get(7, 43, 1) is None


async def test_put_replaces_the_state_and_its_data(uow: Store) -> None:
    async with uow() as tx:
        await tx.conversations.put(wizard(model="a", step=1))
        await tx.commit()
    cleared = wizard(None)
    async with uow() as tx:
        await tx.conversations.put(cleared)
        await tx.commit()
    async with uow() as tx:
        assert await tx.conversations.get(7, 42, 1) == cleared


async def test_an_uncommitted_put_is_rolled_back(uow: Store) -> None:
    async with uow() as tx:
        await tx.conversations.put(wizard())
    async with uow() as tx:
        assert await tx.conversations.get(7, 42, 1) is None
