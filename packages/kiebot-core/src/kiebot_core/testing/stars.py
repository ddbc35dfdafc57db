"""A Stars account in memory: the payments tests make, the refunds the code under test asks."""

import attrs

from kiebot_core.domain.errors import StarsError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.reconciliation import StarTransaction, StarTransactionKind
from kiebot_core.ports.runtime import Clock, SystemClock
from kiebot_core.ports.stars import StarsAccount


@attrs.define
class MemoryStarsAccount(StarsAccount):
    """Telegram's record of the bot's Stars, oldest first; ``pay`` adds a user's payment."""

    clock: Clock = attrs.field(factory=SystemClock)
    history: list[StarTransaction] = attrs.field(factory=list)
    refund_calls: int = 0
    """How many times ``refund`` was asked, whatever the answer."""

    def pay(self, charge_id: str, user_id: int, stars: int) -> PaymentChargeId:
        """A user pays ``stars`` under ``charge_id`` (a test's planted payment)."""
        charge = PaymentChargeId(charge_id)
        self._record(charge, StarTransactionKind.PAYMENT, UserId(user_id), stars)
        return charge

    async def refund(self, user_id: UserId, charge_id: PaymentChargeId) -> bool:
        self.refund_calls += 1
        payment = self._find(charge_id, StarTransactionKind.PAYMENT)
        if payment is None or payment.user_id != user_id:
            raise StarsError("Bad Request: CHARGE_NOT_FOUND")
        if self._find(charge_id, StarTransactionKind.REFUND) is not None:
            return False
        self._record(charge_id, StarTransactionKind.REFUND, user_id, payment.stars)
        return True

    async def transactions(self) -> list[StarTransaction]:
        return list(self.history)

    def _find(
        self, charge_id: PaymentChargeId, kind: StarTransactionKind
    ) -> StarTransaction | None:
        return next((t for t in self.history if t.charge_id == charge_id and t.kind is kind), None)

    def _record(
        self, charge_id: PaymentChargeId, kind: StarTransactionKind, user_id: UserId, stars: int
    ) -> None:
        self.history.append(
            StarTransaction(
                charge_id=charge_id,
                kind=kind,
                user_id=user_id,
                stars=stars,
                created_at=self.clock.now(),
            )
        )
