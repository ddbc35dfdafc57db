"""aiogram's FSM storage over the core's ``ConversationRepository``: state survives restarts.

Every call is one unit of work, so the state lives wherever the bot's store lives (PostgreSQL
in production, the memory fake in tests) and never in this process. Data must be JSON: it is
checked on the way in, exactly as a ``jsonb`` column would refuse anything else.
"""

import json
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DEFAULT_DESTINY, BaseStorage, StateType, StorageKey

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import Conversation
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory


def _json(data: Mapping[str, Any]) -> dict[str, JsonValue]:
    loaded: dict[str, JsonValue] = json.loads(json.dumps(dict(data)))
    return loaded


def _check(key: StorageKey) -> None:
    if key.destiny != DEFAULT_DESTINY:
        raise ValueError(f"ConversationStorage keeps the default destiny only, not {key.destiny}")


def _state_name(state: StateType) -> str | None:
    return state.state if isinstance(state, State) else state


class ConversationStorage(BaseStorage):
    """FSM state and data of each (bot, chat, user), stored through the unit of work.

    Topic threads and business connections share their chat's record: the bot talks in
    private chats, where neither exists.
    """

    def __init__(self, store: UnitOfWorkFactory) -> None:
        """Store conversations through units of work from ``store``."""
        self._store = store

    async def _get(self, uow: UnitOfWork, key: StorageKey) -> Conversation:
        _check(key)
        found = await uow.conversations.get(key.bot_id, key.chat_id, key.user_id)
        return found or Conversation(bot_id=key.bot_id, chat_id=key.chat_id, user_id=key.user_id)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        async with self._store() as uow:
            current = await self._get(uow, key)
            await uow.conversations.put(
                Conversation(
                    bot_id=key.bot_id,
                    chat_id=key.chat_id,
                    user_id=key.user_id,
                    state=_state_name(state),
                    data=current.data,
                )
            )
            await uow.commit()

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._store() as uow:
            return (await self._get(uow, key)).state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        checked = _json(data)
        async with self._store() as uow:
            current = await self._get(uow, key)
            await uow.conversations.put(
                Conversation(
                    bot_id=key.bot_id,
                    chat_id=key.chat_id,
                    user_id=key.user_id,
                    state=current.state,
                    data=checked,
                )
            )
            await uow.commit()

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._store() as uow:
            return _json((await self._get(uow, key)).data)

    async def update_data(self, key: StorageKey, data: Mapping[str, Any]) -> dict[str, Any]:
        # One unit of work for the read and the write, unlike the base class's two.
        changes = _json(data)
        async with self._store() as uow:
            current = await self._get(uow, key)
            merged = {**current.data, **changes}
            await uow.conversations.put(
                Conversation(
                    bot_id=key.bot_id,
                    chat_id=key.chat_id,
                    user_id=key.user_id,
                    state=current.state,
                    data=merged,
                )
            )
            await uow.commit()
        return _json(merged)

    async def close(self) -> None:
        # The store belongs to the composition root, which closes it.
        return
