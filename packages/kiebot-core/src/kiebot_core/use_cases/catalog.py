"""Catalog use cases: the registry as users see it, with the admins' runtime switches."""

import logging

import attrs

from kiebot_core.domain.audit import Actor, AuditAction
from kiebot_core.domain.breakers import CircuitState
from kiebot_core.domain.catalog import DisabledReason, ModelSpec, Registry
from kiebot_core.domain.catalog_sync import CatalogVersion
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.runtime import Clock, SystemClock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.audit import audited

_log = logging.getLogger(__name__)

# An admin may switch these on (after checking the model themselves); the others cannot run.
_SWITCHABLE = frozenset({DisabledReason.OPERATOR, DisabledReason.LEGACY_UNVERIFIED})


def switchable(model: ModelSpec) -> bool:
    """True when an admin may switch ``model`` on and off (it can run when switched on)."""
    return model.disabled is None or model.disabled in _SWITCHABLE


def _switched(model: ModelSpec, *, enabled: bool, why: str = "") -> ModelSpec:
    if not enabled:
        return attrs.evolve(model, disabled=DisabledReason.OPERATOR, disabled_detail=why)
    if model.disabled in _SWITCHABLE:
        return attrs.evolve(model, disabled=None, disabled_detail="")
    return model


@attrs.frozen
class LoadActiveRegistry:
    """The shipped registry with every stored model switch applied (they win)."""

    uow: UnitOfWorkFactory
    registry: Registry
    """The shipped registry: served while no catalog was synced (``kiebot models sync``)."""
    _built: dict[int, Registry] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    async def __call__(self) -> Registry:
        """The registry to serve right now; a switch for an unknown model id is ignored.

        The newest synced catalog version wins over the shipped registry (it is built once
        and reused while it stays the newest); the switches win over both.

        A model the circuit breaker switched off says so in its ``disabled_detail``.
        """
        async with self.uow() as uow:
            overrides = await uow.toggles.overrides()
            circuits = {circuit.model_id: circuit for circuit in await uow.circuits.all()}
            version = await uow.catalogs.current_version()
            stored = None if version in {0, *self._built} else await uow.catalogs.current()
        base = self._base(version, stored)
        why = {
            model_id: f"circuit open: {circuit.failures} x {circuit.reason}"
            for model_id, circuit in circuits.items()
            if circuit.state is CircuitState.OPEN
        }
        return base.with_models(
            [
                _switched(model, enabled=overrides[model.id], why=why.get(model.id, ""))
                if model.id in overrides
                else model
                for model in base.models
            ]
        )

    def _base(self, version: int, stored: CatalogVersion | None) -> Registry:
        """The registry of catalog ``version`` (``stored`` when it was read, else built)."""
        if stored is None:
            return self._built.get(version, self.registry)
        self._built.clear()
        self._built[stored.version] = stored_registry(stored, self.registry)
        return self._built[stored.version]


def stored_registry(stored: CatalogVersion | None, shipped: Registry) -> Registry:
    """The registry a stored catalog version describes (``shipped`` for None).

    A version this kiebot cannot build (stored by a newer release during a rolling deploy) is
    logged and the shipped registry is served instead: never an error for every user.
    """
    if stored is None or (stored.document is None and not stored.price_overrides):
        return shipped
    try:
        return stored.registry()
    except ValueError as problem:
        _log.error(
            "catalog version %s cannot be built (%s); serving the shipped catalog",
            stored.version,
            problem,
        )
        return shipped


@attrs.frozen
class SetModelEnabled:
    """Switch a model on or off for every instance (admins only; the shell checks who asks)."""

    uow: UnitOfWorkFactory
    registry: Registry
    clock: Clock = attrs.field(factory=SystemClock)

    async def __call__(
        self, model_id: str, *, enabled: bool, by: Actor, reason: str = ""
    ) -> Rejected | None:
        """Store the switch; None when stored.

        Rejects an unknown id with ``MODEL_UNKNOWN``, and switching on a model that cannot run
        with its own reason (``PRICE_UNKNOWN`` or ``MODEL_DISABLED``). A switch that changes
        the stored one writes ``by``'s audit entry in the same transaction. Either switch
        closes the model's circuit: the circuit breaker leaves an admin's switch alone.
        """
        model = self.registry.get(model_id)
        if model is None:
            return Rejected(ReasonCode.MODEL_UNKNOWN, detail=model_id)
        if enabled and model.disabled is not None and model.disabled not in _SWITCHABLE:
            reason = (
                ReasonCode.PRICE_UNKNOWN
                if model.disabled is DisabledReason.PRICE_UNKNOWN
                else ReasonCode.MODEL_DISABLED
            )
            return Rejected(reason, detail=model.disabled_detail or model.disabled)
        async with self.uow() as uow:
            changed = (await uow.toggles.overrides()).get(model_id) != enabled
            await uow.toggles.set(model_id, enabled=enabled)
            # The admin takes over: the circuit breaker leaves this switch alone from now on.
            await uow.circuits.remove(model_id)
            if changed:
                action = AuditAction.MODEL_ENABLE if enabled else AuditAction.MODEL_DISABLE
                await audited(uow, by, action, model_id, at=self.clock.now(), reason=reason)
            await uow.commit()
        return None
