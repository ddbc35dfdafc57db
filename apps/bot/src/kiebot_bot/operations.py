"""The bot's operator watchdogs: the circuit breaker, the KIE credits watch and broadcasts.

``Watchdogs`` is composed once per process (``wiring.compose``). Every process that runs jobs
reports failed generations to it (``on_failure``); the leader alone runs the periodic work
(:func:`leader_tasks`): circuits due for a trial, the credits check, and sending broadcasts.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

import attrs
from aiogram import Bot

from kiebot_bot.settings import BotSettings
from kiebot_core.domain.credits import CreditsPolicy
from kiebot_core.domain.errors import ProviderError
from kiebot_core.domain.generation import Generation
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.generation import GenerationGateway
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.breakers import CircuitBreaker
from kiebot_core.use_cases.broadcasts import BroadcastSender, BroadcastSettings
from kiebot_core.use_cases.credits import CreditsWatch
from kiebot_core.use_cases.retention import Fence
from kiebot_telegram.alerts import TelegramAdminNotifier
from kiebot_telegram.broadcasts import TelegramBroadcastChannel

_log = logging.getLogger(__name__)

RECOVER_EVERY = timedelta(seconds=30)
"""How often the leader looks for circuits whose cooldown or trial is over."""
BROADCAST_POLL = timedelta(seconds=1)
"""How often the leader looks for a broadcast to send."""
PAUSED_CHECK_EVERY = timedelta(minutes=1)
"""How often the credits are checked while generations are paused for lack of them."""


@attrs.frozen(kw_only=True)
class Watchdogs:
    """The circuit breaker, the credits watch and the broadcast sender of one process."""

    breaker: CircuitBreaker
    credits: CreditsWatch
    broadcasts: BroadcastSender
    credits_every: timedelta = timedelta(minutes=5)
    catalog_changed: Callable[[], None] | None = None
    """Called after the breaker switched a model: this process reads the registry again at
    once (the store's notification tells the other processes)."""

    def switched(self) -> None:
        """The breaker switched a model: read the registry again here."""
        if self.catalog_changed is not None:
            self.catalog_changed()

    async def on_failure(self, generation: Generation, reason: ReasonCode, detail: str) -> None:
        """A generation failed: count it against its model; a lack of credits pauses at once.

        Never raises: the failure is already recorded, and a watchdog's own trouble (the
        store, Telegram) is logged instead.
        """
        try:
            if reason is ReasonCode.PROVIDER_NO_CREDITS:
                await self.credits.exhausted()
            if await self.breaker.record_failure(generation.model_id, reason, detail):
                self.switched()
        except Exception:  # noqa: BLE001  # the generation's failure stands either way
            _log.exception("watchdogs missed the failure of %s", generation.id)


def compose_watchdogs(
    settings: BotSettings,
    *,
    store: UnitOfWorkFactory,
    gateway: GenerationGateway,
    bot: Bot,
    clock: Clock,
    catalog_changed: Callable[[], None] | None = None,
) -> Watchdogs:
    """The watchdogs of a bot process, alerting ``settings.admin_ids`` through ``bot``."""
    notifier = TelegramAdminNotifier(bot, store, settings.admin_ids)
    return Watchdogs(
        breaker=CircuitBreaker(
            store=store, clock=clock, notifier=notifier, settings=settings.breaker
        ),
        credits=CreditsWatch(
            store=store,
            gateway=gateway,
            clock=clock,
            notifier=notifier,
            policy=CreditsPolicy(alert_below=settings.credits_alert),
        ),
        broadcasts=BroadcastSender(
            store=store,
            channel=TelegramBroadcastChannel(bot, store),
            clock=clock,
            settings=BroadcastSettings(per_second=settings.broadcast_per_second),
        ),
        credits_every=settings.credits_check,
        catalog_changed=catalog_changed,
    )


async def _repeat(
    name: str, action: Callable[[], Awaitable[timedelta]], *, after_failure: timedelta
) -> None:
    """Run ``action`` forever; it says how long to wait before the next round."""
    while True:
        try:
            wait = await action()
        except ProviderError as error:
            _log.warning("%s: KIE did not answer (%s)", name, error.code)
            wait = after_failure
        except Exception:  # noqa: BLE001  # the next round may succeed (an outage ends)
            _log.exception("%s failed", name)
            wait = after_failure
        await asyncio.sleep(wait.total_seconds())


def leader_tasks(watchdogs: Watchdogs, fence: Fence) -> list[Coroutine[Any, Any, None]]:
    """The leader's share: circuit trials, the credits check and broadcasts (run forever)."""

    async def recover() -> timedelta:
        moved = await watchdogs.breaker.recover(fence=fence)
        for circuit in moved:
            _log.info("circuit of %s is now %s", circuit.model_id, circuit.state)
        if moved:
            watchdogs.switched()
        return RECOVER_EVERY

    async def check_credits() -> timedelta:
        state = await watchdogs.credits.check(fence=fence)
        if state.is_paused:
            return min(watchdogs.credits_every, PAUSED_CHECK_EVERY)
        return watchdogs.credits_every

    async def send_broadcasts() -> timedelta:
        if await watchdogs.broadcasts.run_pending(fence=fence):
            _log.info("broadcasts sent")
        return BROADCAST_POLL

    return [
        _repeat("circuit recovery", recover, after_failure=RECOVER_EVERY),
        _repeat(
            "credits check",
            check_credits,
            after_failure=min(watchdogs.credits_every, PAUSED_CHECK_EVERY),
        ),
        _repeat("broadcasts", send_broadcasts, after_failure=BROADCAST_POLL * 5),
    ]
