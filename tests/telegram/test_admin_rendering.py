# ruff: noqa: RUF001  # Russian texts are Cyrillic on purpose
"""The /admin screens within Telegram's limits, whatever the figures and texts they show."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from aiogram.types import InlineKeyboardMarkup

from kiebot_core.domain.audit import AuditAction, AuditEntry, cli_actor, telegram_actor
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, grant
from kiebot_core.domain.margin import ModelMargin
from kiebot_core.domain.pricing import PriceSettings
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.stats import Activity, Funnel, ModelRuns, MoneyFigures, Stats, UserFigures
from kiebot_core.domain.texts import Language
from kiebot_core.domain.users import User
from kiebot_core.use_cases.admin import UserRecord
from kiebot_telegram.admin_views import (
    MODELS_PER_PAGE,
    admin_home_view,
    audit_view,
    ban_reason_view,
    duration_text,
    grant_amount_view,
    grant_reason_view,
    lookup_view,
    models_in_order,
    models_view,
    stats_view,
    user_view,
)
from kiebot_telegram.callbacks import Adm, Nav
from kiebot_telegram.formatting import MAX_TEXT
from kiebot_telegram.views import View
from tests.contracts.builders import make_generation, planned
from tests.telegram.fake_bot_api import parse_html, utf16_length

REGISTRY = load_registry()
AT = datetime(2026, 5, 14, 12, 30, tzinfo=UTC)
NASTY = "<b>&amp; «ещё»</b> " * 40


def check_markup(markup: InlineKeyboardMarkup | None) -> None:
    assert markup is not None
    for row in markup.inline_keyboard:
        for button in row:
            assert button.text
            data = button.callback_data
            assert data is not None
            assert 1 <= len(data.encode()) <= 64, data
            payload = Adm if data.startswith("a:") else Nav
            assert payload.unpack(data).pack() == data


def check_view(view: View) -> str:
    text, _ = parse_html(view.text)
    assert text
    assert utf16_length(text) <= MAX_TEXT
    check_markup(view.markup)
    return text


def busy_stats() -> Stats:
    runs = (
        *(
            ModelRuns(
                model_id=model.id,
                states={GenerationState.SUCCEEDED: 900 + n, GenerationState.FAILED: n},
                p50=timedelta(seconds=n),
                p95=timedelta(minutes=n, seconds=7),
            )
            for n, model in enumerate(REGISTRY.models)
        ),
        ModelRuns(model_id="gone/<model>", states={GenerationState.RUNNING: 1}),
    )
    return Stats(
        since=AT,
        activity=Activity(
            users=UserFigures(total=123_456, active_today=7_890, active_week=45_678),
            runs=runs,
            funnel=Funnel(started=1000, generated=640, paid=77),
            money=MoneyFigures(stars_in=987_654, payments=4321, purchase_refunds=12),
        ),
        margins=[
            ModelMargin(
                model_id="flux",
                generations=10,
                stars=120,
                credits_quoted=Decimal("56.00"),
                credits_consumed=Decimal("61.5"),
                reported=10,
                quoted_reported=Decimal(56),
            )
        ],
        prices=PriceSettings(),
    )


@pytest.mark.parametrize("language", list(Language))
def test_the_admin_screen_prompts_and_statistics_render(language: Language):
    check_view(admin_home_view(language, lead="✅"))
    check_view(lookup_view(language, problem="⚠️"))
    check_view(grant_amount_view(language, 2**62))
    check_view(grant_reason_view(language, 7, 100_000, problem="⚠️"))
    check_view(ban_reason_view(language, 7, ban=True))
    check_view(ban_reason_view(language, 7, ban=False))
    for days in (1, 7, 30):
        text = check_view(stats_view(language, busy_stats(), REGISTRY, days))
        assert "123456" in text
        assert "64%" in text
    empty = Stats(since=AT, activity=Activity(), margins=[], prices=PriceSettings())
    check_view(stats_view(language, empty, REGISTRY, 7))


def test_durations_read_in_seconds_then_minutes():
    assert duration_text(Language.EN, None) == "—"
    assert duration_text(Language.EN, timedelta(seconds=12.4)) == "12 s"
    assert duration_text(Language.EN, timedelta(seconds=185)) == "3 min 5 s"
    assert duration_text(Language.RU, timedelta(seconds=185)) == "3 мин 5 с"


@pytest.mark.parametrize("language", list(Language))
def test_a_users_card_renders_whatever_they_did(language: Language):
    user = User(
        id=UserId(2**62),
        language=Language.RU,
        created_at=AT,
        username="a" * 32,
        last_seen_at=AT,
        is_banned=True,
    )
    record = UserRecord(
        user=user,
        balance=Balance(available=10**9, held=10**6, debt=3),
        moves=[planned(grant(user.id, 50, f"operator:{n}")) for n in range(5)],
        generations=[
            make_generation(
                f"gen_{'<&>' * 20}{n}",
                at=AT,
                model_id=model.id,
                state=GenerationState.FAILED,
                reason=ReasonCode.PROVIDER_TIMEOUT,
            )
            for n, model in enumerate(REGISTRY.models[:5])
        ],
    )
    for is_admin in (True, False):
        view = user_view(language, record, REGISTRY, is_admin=is_admin, lead=NASTY)
        check_view(view)


@pytest.mark.parametrize("language", list(Language))
def test_every_page_of_the_model_switches_renders(language: Language):
    models = models_in_order(REGISTRY)
    pages = -(-len(models) // MODELS_PER_PAGE)
    shown: set[str] = set()
    for page in range(pages):
        view = models_view(language, REGISTRY, page)
        check_view(view)
        assert view.markup is not None
        shown.update(button.text for row in view.markup.inline_keyboard[:-2] for button in row)
    assert len(shown) == len(models)


@pytest.mark.parametrize("language", list(Language))
def test_the_audit_trail_renders_long_reasons_and_every_action(language: Language):
    entries = [
        AuditEntry(
            actor=telegram_actor(n) if n % 2 else cli_actor(f"ops<{n}>"),
            action=action,
            target="x" * 200,
            at=AT,
            detail=NASTY[:100],
            reason=NASTY,
        )
        for n, action in enumerate(AuditAction)
    ]
    text = check_view(audit_view(language, entries, 3, has_more=True, names={1: "boss"}))
    assert "@boss" in text
    check_view(audit_view(language, [], 0, has_more=False, names={}))
