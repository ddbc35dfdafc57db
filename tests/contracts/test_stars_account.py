"""One contract for every StarsAccount: the core's memory fake and the Bot API adapter (a real
aiogram Bot talking to the fake Bot API on loopback).

Each implementation comes as a ``Subject``: the account and a way to plant a user's payment
at Telegram.
"""

from collections.abc import AsyncIterator, Callable

import attrs
import pytest
from aiogram.exceptions import TelegramBadRequest

from kiebot_core.domain.errors import StarsError
from kiebot_core.domain.ids import PaymentChargeId, UserId
from kiebot_core.domain.reconciliation import StarTransactionKind
from kiebot_core.ports.stars import StarsAccount
from kiebot_core.testing.stars import MemoryStarsAccount
from kiebot_telegram.dispatcher import make_bot
from kiebot_telegram.stars import PAGE_SIZE, TelegramStarsAccount
from tests.telegram.fake_bot_api import FakeBotApi

USER = UserId(1001)


@attrs.define
class Subject:
    account: StarsAccount
    plant: Callable[[str, int, int], object]

    def pay(self, charge_id: str, stars: int = 50, user_id: int = USER) -> PaymentChargeId:
        self.plant(charge_id, user_id, stars)
        return PaymentChargeId(charge_id)


@pytest.fixture
def memory_subject() -> Subject:
    account = MemoryStarsAccount()
    return Subject(account, account.pay)


@pytest.fixture
async def telegram_subject() -> AsyncIterator[Subject]:
    async with FakeBotApi() as api, make_bot(api.token, api.base_url) as bot:
        yield Subject(
            TelegramStarsAccount(bot),
            lambda charge_id, user_id, stars: api.charge(user_id, stars, charge_id=charge_id),
        )


@pytest.fixture
def subject(request: pytest.FixtureRequest) -> Subject:
    found = request.getfixturevalue(request.param)
    assert isinstance(found, Subject)
    return found


@pytest.mark.parametrize("subject", ["memory_subject", "telegram_subject"], indirect=True)
class TestStarsAccountContract:
    async def test_nothing_paid_is_an_empty_record(self, subject: Subject):
        assert await subject.account.transactions() == []

    async def test_a_payment_is_recorded_with_its_charge_user_and_stars(self, subject: Subject):
        charge = subject.pay("stx_a", stars=75)
        [paid] = await subject.account.transactions()
        assert (paid.charge_id, paid.kind, paid.user_id, paid.stars) == (
            charge,
            StarTransactionKind.PAYMENT,
            USER,
            75,
        )
        assert paid.created_at.tzinfo is not None

    async def test_a_refund_happens_once_and_is_recorded_after_the_payment(self, subject: Subject):
        charge = subject.pay("stx_a")
        assert await subject.account.refund(USER, charge) is True
        assert await subject.account.refund(USER, charge) is False
        moves = await subject.account.transactions()
        assert [(t.charge_id, t.kind, t.user_id, t.stars) for t in moves] == [
            (charge, StarTransactionKind.PAYMENT, USER, 50),
            (charge, StarTransactionKind.REFUND, USER, 50),
        ]

    async def test_an_unknown_charge_or_another_users_is_refused(self, subject: Subject):
        charge = subject.pay("stx_a")
        with pytest.raises(StarsError, match="CHARGE_NOT_FOUND"):
            await subject.account.refund(USER, PaymentChargeId("stx_nope"))
        with pytest.raises(StarsError, match="CHARGE_NOT_FOUND"):
            await subject.account.refund(UserId(USER + 1), charge)
        assert len(await subject.account.transactions()) == 1

    async def test_every_transaction_comes_back_oldest_first_past_one_page(self, subject: Subject):
        charges = [subject.pay(f"stx_{n:03d}", stars=n + 1) for n in range(PAGE_SIZE + 30)]
        await subject.account.refund(USER, charges[5])
        moves = await subject.account.transactions()
        assert [t.charge_id for t in moves] == [*charges, charges[5]]
        assert [t.stars for t in moves[:3]] == [1, 2, 3]


async def test_telegram_out_of_reach_is_a_stars_error_without_the_token():
    async with FakeBotApi() as api:
        base_url = api.base_url
    async with make_bot(api.token, base_url, timeout_s=2) as bot:
        account = TelegramStarsAccount(bot)
        with pytest.raises(StarsError) as refused:
            await account.transactions()
        with pytest.raises(StarsError):
            await account.refund(USER, PaymentChargeId("stx_a"))
    assert "getStarTransactions" in refused.value.detail
    assert api.token not in str(refused.value)


async def test_a_page_size_outside_1_to_100_is_refused_by_the_fake():
    async with FakeBotApi() as api, make_bot(api.token, api.base_url) as bot:
        with pytest.raises(TelegramBadRequest, match="LIMIT_INVALID"):
            await bot.get_star_transactions(limit=101)
        with pytest.raises(TelegramBadRequest, match="LIMIT_INVALID"):
            await bot.get_star_transactions(limit=0)
