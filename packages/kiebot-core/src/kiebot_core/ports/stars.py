"""The bot's Telegram Stars account: refunds and the record of its transactions."""

from typing import Protocol

from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.reconciliation import StarTransaction


class StarsAccount(Protocol):
    """The bot's Stars at Telegram, the source of truth about what users paid."""

    async def refund(self, user_id: UserId, charge_id: PaymentChargeId) -> bool:
        """Give ``user_id``'s payment ``charge_id`` back to them.

        Returns True when it is refunded now, False when it had been refunded before (Telegram's
        ``CHARGE_ALREADY_REFUNDED``): idempotent. Raises ``StarsError`` when Telegram refuses
        (an unknown charge, another user's) or cannot be reached; nothing is refunded then.
        """
        ...

    async def transactions(self) -> list[StarTransaction]:
        """Every payment by a user and every refund to one, oldest first.

        Telegram's other transactions (withdrawals, ads, gifts) are left out. Raises
        ``StarsError`` when Telegram cannot be read.
        """
        ...
