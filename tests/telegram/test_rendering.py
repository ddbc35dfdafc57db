"""Pure rendering: callback payloads, catalogs and every view of every model within Telegram's
limits (HTML that parses, ≤ 4096 characters, callback data ≤ 64 bytes that round-trips).
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import attrs
import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup

from kiebot_core.domain import wizard
from kiebot_core.domain.catalog import ModelSpec
from kiebot_core.domain.favorites import Favorite
from kiebot_core.domain.generation import Deadlines, Generation, GenerationState
from kiebot_core.domain.ids import (
    CorrelationId,
    FavoriteId,
    GenerationId,
    PaymentChargeId,
    UserId,
)
from kiebot_core.domain.ledger import Balance, capture, hold, purchase, purchase_refund
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.payments import Payment, PaymentSettings, PaymentState
from kiebot_core.domain.pricing import PriceSettings, cheaper_alternative
from kiebot_core.domain.promotions import FreeAllowance, ReferralSummary
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from kiebot_core.domain.wizard import AskScreen, ConfirmScreen
from kiebot_core.use_cases.payments import Purchase
from kiebot_telegram.callbacks import (
    Begin,
    Card,
    Fav,
    FavAct,
    Lang,
    ListKind,
    Nav,
    Pay,
    PayAct,
    Priv,
    Run,
    RunAct,
    Screen,
    Wiz,
    charge_ref,
    input_ref,
    model_index,
    model_ref,
    resolve_input,
    resolve_model,
)
from kiebot_telegram.formatting import MAX_CAPTION, MAX_TEXT
from kiebot_telegram.texts import CATALOGS, Msg, placeholders
from kiebot_telegram.views import (
    BalanceScreen,
    View,
    ask_view,
    balance_view,
    card_view,
    confirm_view,
    edit_list_view,
    failure_view,
    favorites_view,
    help_view,
    history_view,
    menu_view,
    model_list_view,
    option_arg,
    option_value,
    paysupport_view,
    referral_view,
    refund_confirm_view,
    result_caption,
    result_markup,
    section_view,
    settings_view,
    status_view,
    terms_view,
    ticket_text,
    topup_view,
)
from tests.telegram.fake_bot_api import parse_html, utf16_length

REGISTRY = load_registry()
PRICES = PriceSettings()
USER = UserId(7)
PAYLOADS: tuple[type[CallbackData], ...] = (Nav, Card, Begin, Wiz, Run, Fav, Lang, Pay, Priv)


def check_markup(markup: InlineKeyboardMarkup | None) -> None:
    if markup is None:
        return
    count = 0
    for row in markup.inline_keyboard:
        for button in row:
            count += 1
            assert button.text
            data = button.callback_data
            assert data is not None
            assert 1 <= len(data.encode()) <= 64, data
            kinds = [p for p in PAYLOADS if data.startswith(p.__prefix__ + ":")]
            assert len(kinds) == 1, data
            assert kinds[0].unpack(data).pack() == data
    assert count <= 100


def check_view(view: View, limit: int = MAX_TEXT) -> str:
    text, _ = parse_html(view.text)
    assert text, view.text
    assert utf16_length(text) <= limit
    check_markup(view.markup)
    return text


def test_every_model_id_has_a_unique_short_reference_that_round_trips():
    ids = [model.id for model in REGISTRY.models]
    assert len(ids) == 121
    index = model_index(ids)
    assert len(index) == len(ids)
    for model in REGISTRY.models:
        ref = model_ref(model.id)
        assert len(ref) == 6
        assert resolve_model(REGISTRY, ref) is model
        for spec in model.inputs:
            assert resolve_input(model, input_ref(spec.name)) is spec
    assert resolve_model(REGISTRY, "zzzzzz") is None


def test_callback_payloads_are_short_and_never_json():
    longest_flow = max(REGISTRY.flow_titles, key=len)
    for data in (
        Card(model=model_ref("x"), src=ListKind.FLOW, arg=longest_flow, page=99),
        Begin(model=model_ref("x"), src=ListKind.FLOW, arg=longest_flow, page=99),
        Nav(to=Screen.LIST, arg="f" + longest_flow, page=99),
        Run(act=RunAct.CANCEL, gen="gen_0123456789abcdef"),
        Fav(act=FavAct.DELETE, id="fav_0123456789abcdef", page=99),
        Pay(act=PayAct.REFUND, arg=charge_ref("stx" + "x" * 200)),
        Pay(act=PayAct.ACCEPT, arg="999999.10000"),
    ):
        packed = data.pack()
        assert len(packed.encode()) <= 64
        assert "{" not in packed


def test_catalogs_have_every_text_in_every_language_with_the_same_placeholders():
    for language in Language:
        assert set(CATALOGS[language]) == set(Msg), language
    for key in Msg:
        english = placeholders(CATALOGS[Language.EN][key])
        for language in Language:
            assert placeholders(CATALOGS[language][key]) == english, (key, language)
            assert CATALOGS[language][key].strip()


@pytest.mark.parametrize("language", list(Language))
def test_menu_and_account_screens_render(language: Language):
    balance = Balance(available=120, held=15, debt=3)
    check_view(menu_view(language, REGISTRY, balance, "<b>hi</b> &amp; welcome"))
    for section in REGISTRY.sections:
        check_view(section_view(language, REGISTRY, section))
    text = check_view(balance_view(language, balance))
    assert "120" in text
    assert "15" in text
    moves = [
        purchase(Balance(), USER, 105, "charge_1"),
        hold(Balance(available=105), USER, 15, GenerationId("gen_1")),
        capture(USER, 15, 12, GenerationId("gen_1")),
        purchase_refund(Balance(available=93), USER, 105, "charge_1"),
    ]
    assert not any(isinstance(move, Rejected) for move in moves)
    recorded = [
        attrs.evolve(move, recorded_at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC))
        for move in moves
        if not isinstance(move, Rejected)
    ]
    free = (FreeAllowance(left=2, daily=3), "Z-Image")
    screen = BalanceScreen(recorded, {"gen_1": "Nano &lt;Banana&gt;"}, free)
    text = check_view(balance_view(language, balance, screen))
    for amount in (
        "+105 ⭐",
        "-15 ⭐",
        "-12 ⭐",
        "-105 ⭐",
        "26.11 09:30",
        "Nano <Banana>",
        "Z-Image",
    ):
        assert amount in text
    check_view(settings_view(language))
    check_view(help_view(language))


@pytest.mark.parametrize("language", list(Language))
def test_payment_screens_render(language: Language):
    packages = PaymentSettings().packages
    view = topup_view(language, packages, lead="<b>short</b>")
    check_view(view)
    assert view.markup is not None
    assert len(view.markup.inline_keyboard) == len(packages) + 1
    for accepted in (True, False):
        check_view(terms_view(language, 12, accepted=accepted, package=1000))
        check_view(terms_view(language, 12, accepted=accepted))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    payments = [
        Payment(
            charge_id=PaymentChargeId(f"stx{'<&>' * 40}{n}"),
            user_id=USER,
            order_id=f"ord_{n}",
            stars=1000,
            credited=1200,
            state=PaymentState.REFUNDED if n % 2 else PaymentState.PROCESSED,
            created_at=at,
        )
        for n in range(10)
    ]
    listed = [
        Purchase(p, None if n % 3 else Rejected(ReasonCode.REFUND_NOT_ALLOWED))
        for n, p in enumerate(payments)
    ]
    view = paysupport_view(language, listed, lead="✅")
    check_view(view)
    check_view(paysupport_view(language, []))
    check_view(refund_confirm_view(language, payments[0]))
    ticket = ticket_text(
        language, 7, "&lt;Ann &amp; Bob&gt;", payments[0], Balance(available=3, debt=2)
    )
    check_view(View(ticket))
    summary = ReferralSummary(invited=3, rewarded=1, stars=10)
    check_view(referral_view(language, "https://t.me/kiebot_bot?start=ref_7", 10, summary))


@pytest.mark.parametrize("language", list(Language))
def test_every_model_list_page_and_card_renders(language: Language):
    flows = list(REGISTRY.flow_titles)
    for flow in flows:
        models = REGISTRY.by_flow(flow)
        for page in range(max(1, -(-len(models) // 8))):
            text = check_view(
                model_list_view(
                    language,
                    REGISTRY,
                    PRICES,
                    kind=ListKind.FLOW,
                    arg=flow,
                    page=page,
                    models=models,
                )
            )
            assert f"{page + 1}/" in text
    for model in REGISTRY.enabled():
        check_view(
            card_view(language, REGISTRY, PRICES, model, kind=ListKind.POPULAR, arg="", page=0)
        )


def _walk(model: ModelSpec, language: Language) -> int:
    """Render every step of the model's wizard (answering with defaults or skipping)."""
    state = wizard.start(model)
    balance = Balance(available=10)
    for shown in range(40):
        screen = wizard.screen(model, state, PRICES)
        if isinstance(screen, ConfirmScreen):
            price = screen.quote
            cheaper = (
                None
                if isinstance(price, Rejected)
                else cheaper_alternative(REGISTRY, model, price, PRICES)
            )
            check_view(confirm_view(language, model, screen, "ab12", balance, cheaper=cheaper))
            check_view(edit_list_view(language, model, screen, "ab12", advanced=False))
            check_view(edit_list_view(language, model, screen, "ab12", advanced=True))
            return shown + 1
        assert isinstance(screen, AskScreen)
        view = ask_view(language, model, screen, "ab12", problem="<oops> & more")
        text = check_view(view)
        assert f"{screen.step}/{screen.total}" in text
        for option in screen.options:
            arg = option_arg(screen.input, option.value)
            assert option_value(screen.input, arg) == option.value
        state = _answer(model, state, screen)
    raise AssertionError(f"{model.id}: the wizard never reached the confirmation")


def _attempts(
    model: ModelSpec, state: wizard.WizardState, screen: AskScreen
) -> Iterator[wizard.WizardState | Rejected]:
    spec = screen.input
    if screen.options:
        yield wizard.answer(model, state, screen.options[0].value)
    if spec.has_default:
        yield wizard.use_default(model, state)
    if screen.can_skip:
        yield wizard.skip(model, state)
    if spec.media_kind is not None:
        yield wizard.add_item(model, state, "https://files.example/a.png")
    for text in (spec.ui.example(Language.EN), "a fox", '{"prompt": "a fox"}', "5"):
        yield wizard.answer_text(model, state, text)


def _answer(model: ModelSpec, state: wizard.WizardState, screen: AskScreen) -> wizard.WizardState:
    spec = screen.input
    for moved in _attempts(model, state, screen):
        if isinstance(moved, wizard.WizardState) and moved != state:
            if spec.is_list and moved.current == state.current:
                finished = wizard.finish_list(model, moved)
                if isinstance(finished, wizard.WizardState):
                    return finished
                continue
            return moved
    return wizard.skip_all_optional(model, state)


@pytest.mark.parametrize("language", list(Language))
def test_every_wizard_screen_of_every_model_renders_within_limits(language: Language):
    walked = [_walk(model, language) for model in REGISTRY.enabled()]
    assert len(walked) == len(REGISTRY.enabled())
    assert sum(walked) > len(walked) * 2


def _generation(
    state: GenerationState, reason: ReasonCode | None = None, prompt: str = "a <fox> & co"
) -> Generation:
    start = Generation.start(
        id=GenerationId("gen_0123456789abcdef"),
        user_id=UserId(1),
        model_id="nano-banana-pro",
        category=REGISTRY.models[0].category,
        input={"prompt": prompt},
        credits=Decimal(18),
        stars=15,
        correlation_id=CorrelationId("cor_1"),
        now=datetime(2026, 1, 1, tzinfo=UTC),
        deadlines=Deadlines(),
        held=15,
    )
    return attrs.evolve(start, state=state, reason=reason)


@pytest.mark.parametrize("language", list(Language))
@pytest.mark.parametrize("reason", list(ReasonCode))
def test_every_reason_code_renders_in_every_language(reason: ReasonCode, language: Language):
    text = reason_text(reason, language)
    assert text.strip()
    failed = _generation(GenerationState.FAILED, reason)
    shown = check_view(failure_view(language, "Nano &amp; Banana", failed))
    assert text in shown
    assert "15" in shown


@pytest.mark.parametrize("language", list(Language))
def test_run_messages_render(language: Language):
    for state in GenerationState:
        view = status_view(language, "Model", _generation(state))
        check_view(view)
        live = state in {
            GenerationState.PENDING,
            GenerationState.SUBMITTED,
            GenerationState.RUNNING,
        }
        assert (view.markup is not None) is live
    long = _generation(GenerationState.SUCCEEDED, prompt="<b>" * 3000)
    caption, _ = parse_html(result_caption(language, "Model", long))
    assert utf16_length(caption) <= MAX_CAPTION
    check_markup(result_markup(language, long))
    history = [_generation(state) for state in GenerationState] * 3
    for page in range(5):
        check_view(history_view(language, REGISTRY, history, page))
    check_view(history_view(language, REGISTRY, [], 0))


@pytest.mark.parametrize("language", list(Language))
def test_favorites_render_within_limits(language: Language):
    at = datetime(2026, 1, 1, tzinfo=UTC)
    favorites = [
        Favorite(
            id=FavoriteId(f"fav_{n:016x}"),
            user_id=UserId(1),
            model_id=model.id if n % 5 else "gone/<model>",
            answers={"prompt": "<b>" * 3000},
            title="<i>" * 100,
            created_at=at,
        )
        for n, model in enumerate(REGISTRY.models[:23])
    ]
    for page in range(6):
        check_view(favorites_view(language, REGISTRY, favorites, page))
    check_view(favorites_view(language, REGISTRY, [], 0))
