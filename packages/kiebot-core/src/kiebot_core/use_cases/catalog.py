"""Catalog use cases: the registry as users see it, with the admins' runtime switches."""

import attrs

from kiebot_core.domain.catalog import DisabledReason, ModelSpec, Registry
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.ports.storage import UnitOfWorkFactory

# An admin may switch these on (after checking the model themselves); the others cannot run.
_SWITCHABLE = frozenset({DisabledReason.OPERATOR, DisabledReason.LEGACY_UNVERIFIED})


def _switched(model: ModelSpec, *, enabled: bool) -> ModelSpec:
    if not enabled:
        return attrs.evolve(model, disabled=DisabledReason.OPERATOR)
    if model.disabled in _SWITCHABLE:
        return attrs.evolve(model, disabled=None, disabled_detail="")
    return model


@attrs.frozen
class LoadActiveRegistry:
    """The shipped registry with every stored model switch applied (they win)."""

    uow: UnitOfWorkFactory
    registry: Registry

    async def __call__(self) -> Registry:
        """The registry to serve right now; a switch for an unknown model id is ignored."""
        async with self.uow() as uow:
            overrides = await uow.toggles.overrides()
        return self.registry.with_models(
            [
                _switched(model, enabled=overrides[model.id]) if model.id in overrides else model
                for model in self.registry.models
            ]
        )


@attrs.frozen
class SetModelEnabled:
    """Switch a model on or off for every instance (admins only; the shell checks who asks)."""

    uow: UnitOfWorkFactory
    registry: Registry

    async def __call__(self, model_id: str, *, enabled: bool) -> Rejected | None:
        """Store the switch; None when stored.

        Rejects an unknown id with ``MODEL_UNKNOWN``, and switching on a model that cannot run
        with its own reason (``PRICE_UNKNOWN`` or ``MODEL_DISABLED``).
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
            await uow.toggles.set(model_id, enabled=enabled)
            await uow.commit()
        return None
