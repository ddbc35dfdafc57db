"""The circuit breaker: a burst of provider failures switches a model off; it comes back on trial.

``CircuitBreaker.record_failure`` runs wherever a generation fails (any worker); the leader
runs ``recover`` every few seconds. The switch is the admins' runtime toggle, so every
instance hears it within seconds; the admins are told when a circuit opens (once: only the
failure that opens it tells them) and when a model goes back on trial, and each change is in
the audit trail with the breaker as its actor.
"""

import attrs

from kiebot_core.domain.alerts import AdminAlert, AlertKind
from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.breakers import (
    BreakerSettings,
    Circuit,
    CircuitState,
    counts_against_model,
)
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.operations import AdminNotifier
from kiebot_core.ports.runtime import Clock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited
from kiebot_core.use_cases.retention import Fence

BREAKER_ACTOR = Actor("bot:circuit-breaker")
"""The audit trail's actor for the switches the breaker makes."""
MAX_DETAIL = 300
"""How much of the provider's failure text is kept with a circuit."""


def _minutes(circuit: Circuit) -> int:
    return max(1, round((circuit.retry_at - circuit.changed_at).total_seconds() / 60))


@attrs.frozen(kw_only=True)
class CircuitBreaker:
    """Counts each model's provider failures and switches a model off after a burst."""

    store: UnitOfWorkFactory
    clock: Clock
    notifier: AdminNotifier
    settings: BreakerSettings = attrs.Factory(BreakerSettings)

    async def record_failure(
        self, model_id: str, reason: ReasonCode, detail: str = ""
    ) -> Circuit | None:
        """Count a generation of ``model_id`` that failed with ``reason``.

        Only provider failures count (``breakers.COUNTED``). Opens the circuit, switching the
        model off, when ``settings.failures`` of them fell within ``settings.window`` or the
        model is on trial; returns the circuit this failure opened (the admins were told), or
        None. A failure of a model whose circuit is open changes nothing, and neither does
        one of a model an admin switched off (it is not even counted): the switch is theirs.
        """
        if not counts_against_model(reason):
            return None
        now = self.clock.now()
        detail = detail[:MAX_DETAIL]
        async with self.store() as uow:
            failures = await uow.circuits.failure(model_id, now, self.settings.window)
            current = await uow.circuits.get(model_id)
            if current is not None and current.state is CircuitState.OPEN:
                await uow.commit()
                return None
            if current is None and (await uow.toggles.overrides()).get(model_id) is False:
                # Off by an admin's hand (the breaker's own "off" always has a circuit): runs
                # started before the switch fail now. A circuit opened over it would switch
                # the model back on when it recovers. Left uncommitted: not counted either.
                return None
            if current is None and failures < self.settings.failures:
                await uow.commit()
                return None
            opened = Circuit.opened(
                current,
                model_id=model_id,
                reason=reason,
                detail=detail,
                failures=failures,
                at=now,
                settings=self.settings,
            )
            # The switch before the circuit, the order an admin's switch takes them in, so
            # the two wait for each other instead of deadlocking.
            await uow.toggles.set(model_id, enabled=False)
            await uow.circuits.put(opened)
            window_min = round(self.settings.window.total_seconds() / 60)
            cause = "a failure on trial" if current is not None else f"{failures} failures"
            await audited(
                uow,
                BREAKER_ACTOR,
                AuditAction.MODEL_DISABLE,
                model_id,
                at=now,
                detail=(
                    f"circuit open: {cause} ({reason}) within {window_min} min; "
                    f"on trial again in {_minutes(opened)} min"
                ),
            )
            await uow.commit()
        await self.notifier.notify(
            AdminAlert(
                AlertKind.CIRCUIT_OPENED,
                {
                    "model": model_id,
                    "reason": str(reason),
                    "detail": detail,
                    "failures": failures,
                    "window_min": window_min,
                    "retry_min": _minutes(opened),
                    "trips": opened.trips,
                },
            )
        )
        return opened

    async def recover(self, *, fence: Fence | None = None) -> list[Circuit]:
        """Move the circuits whose time has come (the leader's round); return what changed.

        An open circuit whose cooldown passed goes on trial: its model is switched back on
        and the admins are told. A trial that passed without a provider failure closes the
        circuit. A circuit that an admin's switch closed meanwhile, or a failure moved, is
        left as it is: the breaker never switches on a model an admin switched off.
        ``fence`` (the leader's) is called in each unit of work before it writes.
        """
        now = self.clock.now()
        async with self.store() as uow:
            due = [circuit for circuit in await uow.circuits.all() if circuit.is_due(now)]
        moved: list[Circuit] = []
        for candidate in due:
            async with self.store() as uow:
                if fence is not None:
                    await fence(uow)
                circuit = await uow.circuits.get(candidate.model_id)
                if circuit is None or not circuit.is_due(now):
                    continue
                if circuit.state is CircuitState.TRIAL:
                    if await uow.circuits.replace(circuit, None):
                        await uow.commit()
                        moved.append(circuit)
                    continue
                trial = circuit.on_trial(now, self.settings)
                # The switch first, as an admin's switch does (so the two queue instead of
                # deadlocking), then the circuit only if it is still the one read: an admin
                # who switched the model meanwhile closed it, and this unit of work is then
                # dropped, switch included.
                await uow.toggles.set(circuit.model_id, enabled=True)
                if not await uow.circuits.replace(circuit, trial):
                    continue
                await audited(
                    uow,
                    BREAKER_ACTOR,
                    AuditAction.MODEL_ENABLE,
                    circuit.model_id,
                    at=now,
                    detail=f"circuit on trial for {_minutes(trial)} min",
                )
                await uow.commit()
            moved.append(trial)
            await self.notifier.notify(
                AdminAlert(
                    AlertKind.CIRCUIT_TRIAL,
                    {"model": trial.model_id, "trial_min": _minutes(trial)},
                )
            )
        return moved
