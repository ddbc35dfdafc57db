"""Watching the provider account's credits: alerts to the admins, new generations paused at zero.

The leader calls ``CreditsWatch.check`` every few minutes; a generation the provider refused
for lack of credits calls ``exhausted`` at once. While the stored state says paused,
``start_generation`` refuses new runs with ``PROVIDER_NO_CREDITS`` before anything is held, and
the first check that finds the credits back at the alert level lifts the pause.
"""

from decimal import Decimal

import attrs

from kiebot_core.domain.credits import CreditsPolicy, CreditsState, assess
from kiebot_core.ports.generation import GenerationGateway
from kiebot_core.ports.operations import AdminNotifier
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.retention import Fence


@attrs.frozen(kw_only=True)
class CreditsWatch:
    """The provider account's credits, checked and stored, with the admins told of crossings."""

    store: UnitOfWorkFactory
    gateway: GenerationGateway
    clock: Clock
    notifier: AdminNotifier
    policy: CreditsPolicy = attrs.Factory(CreditsPolicy)

    async def check(self, *, fence: Fence | None = None) -> CreditsState:
        """Ask the provider for the credits, store the new state and tell the admins of a crossing.

        Raises ``ProviderError`` when the provider cannot say (the stored state is kept), and
        whatever ``fence`` raises (nothing is stored then).
        """
        credits = await self.gateway.credits()
        return await self._record(credits, fence)

    async def exhausted(self) -> CreditsState:
        """The provider refused a run for lack of credits: pause new generations now.

        The admins are told once (not again while the pause lasts); the first ``check`` that
        finds at least ``policy.alert_below`` credits lifts it.
        """
        return await self._record(Decimal(0), None, only_if_running=True)

    async def _record(
        self, credits: Decimal, fence: Fence | None, *, only_if_running: bool = False
    ) -> CreditsState:
        now = self.clock.now()
        async with self.store() as uow:
            if fence is not None:
                await fence(uow)
            previous = await uow.credits.get(for_update=True)
            if only_if_running and previous is not None and previous.is_paused:
                return previous
            state, alerts = assess(previous, credits, now, self.policy)
            await uow.credits.put(state)
            await uow.commit()
        for alert in alerts:
            await self.notifier.notify(alert)
        return state


async def generations_paused(store: UnitOfWorkFactory) -> bool:
    """True while new generations are refused for lack of provider credits."""
    async with store() as uow:
        state = await uow.credits.get()
    return state is not None and state.is_paused
