"""The status message of a run: recorded when sent, edited through the stages, closed at the end.

Which message shows a generation's status is stored as an event of the generation's chain
(``telegram.status_message``), so it survives a restart like everything else. The stage last
drawn is remembered in this process only: after a restart a status message is redrawn once,
which Telegram may answer with "not modified" (tolerated).
"""

import logging
import time
from collections.abc import Mapping
from datetime import datetime

import attrs
from aiogram import Bot
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError

from kiebot_core.domain.catalog import Category, Registry
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import CorrelationId, GenerationId, UserId
from kiebot_core.domain.telemetry import Event
from kiebot_core.domain.texts import Language, language_for
from kiebot_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from kiebot_core.use_cases.generation import RegistrySource
from kiebot_telegram.messaging import edit_by_id
from kiebot_telegram.views import model_title, status_view

_log = logging.getLogger(__name__)

STATUS_EVENT = "telegram.status_message"
CHAT_ACTION_EVERY_S = 4.5
"""A chat action shows for about 5 s; it is repeated while a run is generating."""

_CHAT_ACTIONS: Mapping[Category, ChatAction] = {
    Category.IMAGE: ChatAction.UPLOAD_PHOTO,
    Category.VIDEO: ChatAction.UPLOAD_VIDEO,
    Category.AUDIO: ChatAction.UPLOAD_VOICE,
}


@attrs.frozen
class StatusRef:
    """Where a generation's status message is."""

    chat_id: int
    message_id: int


def chat_action_for(category: Category | None) -> ChatAction:
    """The "uploading …" action shown while a run of ``category`` works."""
    return _CHAT_ACTIONS.get(category, ChatAction.TYPING) if category else ChatAction.TYPING


async def record_status_message(
    uow: UnitOfWork,
    *,
    generation_id: GenerationId,
    correlation_id: CorrelationId,
    user_id: UserId,
    ref: StatusRef,
    at: datetime,
) -> None:
    """Remember which message shows ``generation_id``'s status (inside ``uow``)."""
    await uow.events.append(
        Event(
            correlation_id=correlation_id,
            kind=STATUS_EVENT,
            at=at,
            user_id=user_id,
            generation_id=generation_id,
            payload={"chat_id": ref.chat_id, "message_id": ref.message_id},
        )
    )


async def find_status_message(uow: UnitOfWork, generation: Generation) -> StatusRef | None:
    """The status message recorded for ``generation``, or None."""
    for event in await uow.events.chain(generation.correlation_id):
        if event.kind != STATUS_EVENT or event.generation_id != generation.id:
            continue
        chat_id, message_id = event.payload.get("chat_id"), event.payload.get("message_id")
        if isinstance(chat_id, int) and isinstance(message_id, int):
            return StatusRef(chat_id, message_id)
    return None


async def user_language(uow: UnitOfWork, user_id: UserId) -> Language:
    """The user's language (the default one for a user never registered)."""
    user = await uow.users.get(user_id)
    return user.language if user is not None else language_for(None)


class StatusBoard:
    """Keeps every live run's status message in step with its generation's state."""

    def __init__(self, bot: Bot, store: UnitOfWorkFactory, registry: RegistrySource) -> None:
        """Draw status messages with ``bot`` for generations in ``store``."""
        self._bot = bot
        self._store = store
        self._registry = registry
        self._shown: dict[GenerationId, GenerationState] = {}
        self._refs: dict[GenerationId, StatusRef] = {}
        self._acted_at: dict[GenerationId, float] = {}

    def mark_shown(
        self, generation_id: GenerationId, state: GenerationState, ref: StatusRef
    ) -> None:
        """Note that a status message showing ``state`` was just sent."""
        self._shown[generation_id] = state
        self._refs[generation_id] = ref
        self._acted_at[generation_id] = time.monotonic()

    async def refresh(self) -> int:
        """Redraw the status messages of live runs whose stage changed; return how many."""
        async with self._store() as uow:
            live = await uow.generations.unfinished()
        live_ids = {generation.id for generation in live}
        for stale in set(self._shown) - live_ids:
            self.forget(stale)
        changed = 0
        registry: Registry | None = None
        for generation in live:
            if self._shown.get(generation.id) is generation.state:
                await self._keep_acting(generation, registry)
                continue
            registry = registry or await self._registry()
            if await self._redraw(generation, registry):
                changed += 1
        return changed

    def forget(self, generation_id: GenerationId) -> None:
        """Stop tracking a finished run."""
        self._shown.pop(generation_id, None)
        self._refs.pop(generation_id, None)
        self._acted_at.pop(generation_id, None)

    async def _ref(self, generation: Generation) -> StatusRef | None:
        ref = self._refs.get(generation.id)
        if ref is None:
            async with self._store() as uow:
                ref = await find_status_message(uow, generation)
            if ref is not None:
                self._refs[generation.id] = ref
        return ref

    async def _redraw(self, generation: Generation, registry: Registry) -> bool:
        ref = await self._ref(generation)
        self._shown[generation.id] = generation.state
        if ref is None:
            return False
        async with self._store() as uow:
            language = await user_language(uow, generation.user_id)
        model = registry.get(generation.model_id)
        view = status_view(language, model_title(model, generation.model_id, language), generation)
        try:
            await edit_by_id(self._bot, ref.chat_id, ref.message_id, view)
            await self._act(generation, ref, model.category if model else None)
        except TelegramAPIError as error:
            _log.info("status of %s not shown: %s", generation.id, error.message)
            return False
        return True

    async def _keep_acting(self, generation: Generation, registry: Registry | None) -> None:
        if generation.state is not GenerationState.RUNNING:
            return
        if time.monotonic() - self._acted_at.get(generation.id, 0.0) < CHAT_ACTION_EVERY_S:
            return
        ref = await self._ref(generation)
        if ref is None:
            return
        model = (registry or await self._registry()).get(generation.model_id)
        try:
            await self._act(generation, ref, model.category if model else None)
        except TelegramAPIError as error:
            _log.info("chat action for %s failed: %s", generation.id, error.message)

    async def _act(
        self, generation: Generation, ref: StatusRef, category: Category | None
    ) -> None:
        self._acted_at[generation.id] = time.monotonic()
        if generation.state in {
            GenerationState.PENDING,
            GenerationState.SUBMITTED,
            GenerationState.RUNNING,
        }:
            await self._bot.send_chat_action(ref.chat_id, chat_action_for(category))
