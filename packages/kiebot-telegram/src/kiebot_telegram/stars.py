"""The bot's Stars account over the Bot API: ``refundStarPayment`` and ``getStarTransactions``."""

from collections.abc import Iterator
from contextlib import contextmanager

import attrs
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import StarTransaction as TelegramStarTransaction
from aiogram.types import TransactionPartnerUser

from kiebot_core.domain.errors import StarsError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.reconciliation import StarTransaction, StarTransactionKind
from kiebot_core.ports.stars import StarsAccount

ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"
"""Telegram's answer to a refund of a refunded charge: the refund is done, so a success."""
PAGE_SIZE = 100
"""The most transactions ``getStarTransactions`` returns at once."""
INVOICE_PAYMENT = "invoice_payment"
"""``TransactionPartnerUser.transaction_type`` of an invoice payment and of its refund."""


@attrs.frozen
class TelegramStarsAccount(StarsAccount):
    """The Stars account of the bot behind ``bot``."""

    _bot: Bot

    async def refund(self, user_id: UserId, charge_id: PaymentChargeId) -> bool:
        with self._translated("refundStarPayment"):
            try:
                await self._bot.refund_star_payment(
                    user_id=user_id, telegram_payment_charge_id=charge_id
                )
            except TelegramBadRequest as error:
                if ALREADY_REFUNDED in error.message:
                    return False
                raise
        return True

    async def transactions(self) -> list[StarTransaction]:
        found: list[StarTransaction] = []
        offset = 0
        while True:
            with self._translated("getStarTransactions"):
                page = await self._bot.get_star_transactions(offset=offset, limit=PAGE_SIZE)
            found.extend(filter(None, map(_domain, page.transactions)))
            if len(page.transactions) < PAGE_SIZE:
                return found
            offset += len(page.transactions)

    @contextmanager
    def _translated(self, method: str) -> Iterator[None]:
        try:
            yield
        except TelegramAPIError as error:
            # A transport failure can quote the request's URL, which holds the token.
            detail = error.message.replace(self._bot.token, "<token>")
            raise StarsError(f"{method}: {detail}") from None


def _domain(transaction: TelegramStarTransaction) -> StarTransaction | None:
    """An invoice payment or its refund; None for Telegram's other transactions."""
    partner = transaction.source or transaction.receiver
    if not isinstance(partner, TransactionPartnerUser):
        return None
    if partner.transaction_type != INVOICE_PAYMENT:
        return None
    return StarTransaction(
        charge_id=PaymentChargeId(transaction.id),
        kind=StarTransactionKind.PAYMENT
        if transaction.source is not None
        else StarTransactionKind.REFUND,
        user_id=UserId(partner.user.id),
        stars=transaction.amount,
        created_at=transaction.date,
    )
