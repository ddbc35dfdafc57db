"""The durable update inbox: updates are stored before they are acknowledged.

Any instance then handles them, strictly in order within a chat and chats in parallel.
``receive`` stores one update (the webhook answers 200 only after it committed). A
``pre_checkout_query`` takes the fast path: stored as handled and answered at once, never
waiting behind a chat's other updates. ``Inbox.run`` claims the updates due (the storage port
hands out one update per chat at a time), feeds them to the dispatcher and renews the claims it
holds, so a dead instance's updates go to another within ``CLAIM_LEASE``; an update that keeps
failing is parked after ``MAX_ATTEMPTS`` with its reason and the user gets one apology, so the
chat moves on. An update with which its sender deleted their data is erased when done
(``kiebot_telegram.forgetting``).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import attrs
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError

from kiebot_core.domain.catalog import JsonValue
from kiebot_core.domain.coordination import InboxUpdate
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_telegram.forgetting import update_marks
from kiebot_telegram.journal import journaled
from kiebot_telegram.progress import user_language

_log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(seconds=15)
"""How long a claim lasts without renewal: a dead instance's updates go to another after it."""
HEARTBEAT = timedelta(seconds=5)
"""How often an instance renews the claims of the updates it is handling."""
MAX_ATTEMPTS = 5
"""Claims of one update before it is parked."""
IN_FLIGHT = 16
"""Updates one instance handles at once (heads of different chats)."""
FAST_PATH = "pre_checkout_query"
"""Answered at once, outside the per-chat order (Telegram waits at most 10 s)."""
_CHAT_OF_MESSAGE = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
)


def chat_of(payload: Mapping[str, Any]) -> int | None:
    """The chat an update belongs to (its order domain), or None for a chat-less update."""
    for key in _CHAT_OF_MESSAGE:
        event = payload.get(key)
        if isinstance(event, Mapping):
            chat = event.get("chat")
            if isinstance(chat, Mapping) and isinstance(chat.get("id"), int):
                return int(chat["id"])
    callback = payload.get("callback_query")
    if isinstance(callback, Mapping):
        message = callback.get("message")
        chat = message.get("chat") if isinstance(message, Mapping) else None
        if isinstance(chat, Mapping) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        sender = callback.get("from")
        if isinstance(sender, Mapping) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return None


def is_update(payload: object) -> bool:
    """True for a JSON object with an integer ``update_id`` (what Telegram posts)."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("update_id"), int)
        and not isinstance(payload.get("update_id"), bool)
    )


@attrs.frozen
class Inbox:
    """The inbox of one bot: where updates are stored and how they are handled."""

    bot: Bot
    dispatcher: Dispatcher
    store: UnitOfWorkFactory
    clock: Clock
    wake: asyncio.Event = attrs.field(factory=asyncio.Event)
    """Set when an update arrived, so a processor claims it without waiting for its poll."""

    async def receive(self, payload: dict[str, JsonValue]) -> bool:
        """Store an update (False: this update id was stored before; nothing else changes).

        Raises ``StorageUnavailableError`` when it cannot be stored: the caller must not
        acknowledge it. A fast-path update is stored as handled and handled now.
        """
        update = InboxUpdate(
            bot_id=self.bot.id,
            update_id=int(str(payload["update_id"])),
            chat_id=chat_of(payload),
            payload=payload,
            received_at=self.clock.now(),
        )
        fast = FAST_PATH in payload
        async with self.store() as uow:
            stored = await uow.inbox.store(update)
            if stored and fast:
                await uow.inbox.done(update.bot_id, update.update_id)
            await uow.commit()
        if not stored:
            return False
        if fast:
            try:  # shielded: a poller that stops (a leader stepping down) still answers it
                await asyncio.shield(self.dispatcher.feed_raw_update(self.bot, dict(payload)))
            except Exception:  # noqa: BLE001  # a fast-path failure is logged, never re-sent
                _log.exception("update %s failed on the fast path", update.update_id)
        else:
            self.wake.set()
        return True

    async def process_due(self) -> int:
        """Claim the updates due and handle them (chats in parallel); how many were claimed."""
        claimed = await self._claim(IN_FLIGHT)
        await asyncio.gather(*(self._handle(update) for update in claimed))
        return len(claimed)

    async def _claim(self, limit: int) -> list[InboxUpdate]:
        async with self.store() as uow:
            claimed = await uow.inbox.claim(limit=limit, lease=CLAIM_LEASE)
            await uow.commit()
        return claimed

    async def _handle(self, update: InboxUpdate) -> None:
        try:
            with update_marks() as marks, journaled(self.store, update):
                await self.dispatcher.feed_raw_update(self.bot, dict(update.payload))
        except asyncio.CancelledError:  # stopping: another instance takes it over at once
            await asyncio.shield(self._release(update))
            raise
        except Exception:  # noqa: BLE001  # the update is retried, then parked
            _log.exception("update %s failed (attempt %d)", update.update_id, update.attempts)
            await self._failed(update)
            return
        async with self.store() as uow:
            await uow.inbox.done(update.bot_id, update.update_id)
            if marks.forgotten:  # its sender deleted their data with it
                await uow.privacy.erase_update(update.bot_id, update.update_id)
            await uow.commit()

    async def _release(self, update: InboxUpdate) -> None:
        try:
            async with self.store() as uow:
                await uow.inbox.release(update.bot_id, update.update_id)
                await uow.commit()
        except Exception as error:  # noqa: BLE001  # its claim lapses by itself
            _log.warning("update %s not handed back: %s", update.update_id, type(error).__name__)

    async def _keep_claims(self, in_hand: Mapping["asyncio.Task[None]", InboxUpdate]) -> None:
        """Renew the claims of the updates in hand every ``HEARTBEAT``, forever."""
        while True:
            await asyncio.sleep(HEARTBEAT.total_seconds())
            update_ids = [update.update_id for update in in_hand.values()]
            if not update_ids:
                continue
            try:
                async with self.store() as uow:
                    await uow.inbox.extend(self.bot.id, update_ids, CLAIM_LEASE)
                    await uow.commit()
            except Exception as error:  # noqa: BLE001  # the next beat may get through
                _log.warning("claims not renewed: %s", type(error).__name__)

    async def _failed(self, update: InboxUpdate) -> None:
        async with self.store() as uow:
            if update.attempts < MAX_ATTEMPTS:
                await uow.inbox.release(update.bot_id, update.update_id)
            else:
                await uow.inbox.park(update.bot_id, update.update_id, ReasonCode.INTERNAL_ERROR)
            await uow.commit()
        if update.attempts >= MAX_ATTEMPTS and update.chat_id is not None:
            await self._apologize(update.chat_id)

    async def _apologize(self, chat_id: int) -> None:
        async with self.store() as uow:
            language = await user_language(uow, UserId(chat_id))
        try:
            await self.bot.send_message(chat_id, reason_text(ReasonCode.INTERNAL_ERROR, language))
        except TelegramAPIError as error:
            _log.info("apology to %s not sent: %s", chat_id, error.message)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        idle_s: float = 0.5,
        can_handle: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """Handle updates until ``stop``, up to ``IN_FLIGHT`` at once (one per chat).

        More are claimed as soon as one arrives or a slot frees, else every ``idle_s``. While
        ``can_handle`` says False (a store the handlers need is down), nothing is claimed: the
        updates wait in the inbox instead of failing towards being parked. After ``stop``, the
        updates in hand finish; cancelled, they are handed back at once.
        """
        in_hand: dict[asyncio.Task[None], InboxUpdate] = {}
        heartbeat = asyncio.create_task(self._keep_claims(in_hand))
        try:
            while not stop.is_set():
                free = IN_FLIGHT - len(in_hand)
                claimed: list[InboxUpdate] = []
                self.wake.clear()
                try:
                    if free > 0 and (can_handle is None or await can_handle()):
                        claimed = await self._claim(free)
                except Exception:  # noqa: BLE001  # the loop outlives a failing round (an outage)
                    _log.exception("inbox round failed")
                for update in claimed:
                    task = asyncio.create_task(self._handle(update))
                    in_hand[task] = update
                    task.add_done_callback(in_hand.pop)
                if not claimed:
                    await self._idle(stop, in_hand, idle_s)
            if in_hand:
                await asyncio.gather(*in_hand, return_exceptions=True)
        finally:
            for task in [heartbeat, *in_hand]:
                task.cancel()
            await asyncio.gather(heartbeat, *in_hand, return_exceptions=True)

    async def _idle(
        self,
        stop: asyncio.Event,
        in_hand: Mapping["asyncio.Task[None]", InboxUpdate],
        idle_s: float,
    ) -> None:
        """Wait for a reason to claim again: an update arrived, one in hand finished, ``stop``."""
        signals = [asyncio.ensure_future(stop.wait())]
        if len(in_hand) < IN_FLIGHT:
            signals.append(asyncio.ensure_future(self.wake.wait()))
        await asyncio.wait(
            [*signals, *in_hand], timeout=idle_s, return_when=asyncio.FIRST_COMPLETED
        )
        for signal in signals:
            signal.cancel()
