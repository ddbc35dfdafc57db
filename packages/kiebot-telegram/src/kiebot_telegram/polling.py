"""Long polling into the inbox: an update is confirmed to Telegram only after it is stored.

``getUpdates`` confirms every update below its ``offset``; the next offset is asked for only
once the whole batch is in the inbox, so a crash or a storage outage makes Telegram send the
batch again (the inbox drops the ones it already has). Only the leader polls.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence

from aiogram.exceptions import TelegramConflictError, TelegramRetryAfter
from aiogram.methods import GetUpdates
from aiogram.utils.backoff import Backoff, BackoffConfig

from kiebot_core.domain.catalog import JsonValue
from kiebot_telegram.inbox import Inbox

_log = logging.getLogger(__name__)

BACKOFF = BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1)
"""Waits between failed polls (Telegram or the store unreachable, another poller)."""


async def poll_into_inbox(
    inbox: Inbox,
    *,
    allowed_updates: Sequence[str],
    timeout_s: int = 10,
    on_poll: Callable[[], None] | None = None,
) -> None:
    """Fetch updates and store them in ``inbox`` until cancelled; failures are waited out.

    ``on_poll`` is called after each batch (empty or not) is fetched and stored.
    """
    bot = inbox.bot
    request_timeout = int((bot.session.timeout or 0) + timeout_s)
    backoff = Backoff(config=BACKOFF)
    offset: int | None = None
    while True:
        try:
            updates = await bot(
                GetUpdates(
                    offset=offset, timeout=timeout_s, allowed_updates=list(allowed_updates)
                ),
                request_timeout=request_timeout,
            )
            for update in updates:
                payload: dict[str, JsonValue] = update.model_dump(
                    mode="json", by_alias=True, exclude_none=True
                )
                await inbox.receive(payload)
        except TelegramRetryAfter as error:
            await asyncio.sleep(error.retry_after)
            continue
        except TelegramConflictError:
            _log.info("another instance polls; waiting")
            await backoff.asleep()
            continue
        except Exception as error:  # noqa: BLE001  # Telegram or the store down: try again
            _log.warning("polling failed (%s); retrying", type(error).__name__)
            await backoff.asleep()
            continue
        backoff.reset()
        if on_poll is not None:
            on_poll()
        if updates:
            offset = updates[-1].update_id + 1
