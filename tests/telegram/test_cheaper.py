"""The confirmation's "cheaper for this flow" hint through the real bot."""

from kiebot_core.domain.pricing import (
    Alternative,
    PriceSettings,
    Quote,
    cheaper_alternative,
    quote,
)
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from tests.telegram.fake_bot_api import FakeBotApi, FakeMessage, FakeUser
from tests.telegram.flows import open_model
from tests.telegram.harness import RunningBot

REGISTRY = load_registry()


def expected_alternative(model_id: str) -> Alternative:
    """What the core suggests instead of ``model_id`` run with its defaults."""
    model = REGISTRY.get(model_id)
    assert model is not None
    price = quote(model, {}, PriceSettings())
    assert isinstance(price, Quote)
    found = cheaper_alternative(REGISTRY, model, price, PriceSettings())
    assert found is not None
    return found


async def confirmation(user: FakeUser, model_id: str, *presses: str) -> FakeMessage:
    """The confirmation of ``model_id`` after the prompt and pressing ``presses``."""
    await user.send("/start")
    await open_model(user, model_id)
    await user.send("a lighthouse at dawn")
    for label in presses:
        await user.press(label)
    confirm = user.last()
    assert "Check and confirm" in confirm.shown
    return confirm


async def test_an_expensive_model_points_to_the_cheapest_one_of_its_flow(
    api: FakeBotApi, bot: RunningBot
):
    cheaper = expected_alternative("nano-banana-pro")
    assert cheaper.model.id == "z-image"
    user = api.user()
    confirm = await confirmation(user, "nano-banana-pro", "⏩ Skip optional")
    title = cheaper.model.title(Language.EN)
    flow = cheaper.flow_title(Language.EN)
    assert f"💡 Cheaper for {flow}: {title} from {cheaper.stars} ⭐" in confirm.shown
    await user.press(f"💡 Open {title}")
    card = user.last()
    assert card.message_id == confirm.message_id  # the same message, now the card
    assert f"Price: from {cheaper.stars} ⭐" in card.shown
    assert "▶️ Start" in card.labels()
    await user.press("⬅️ Back")
    assert f"{flow} · page 1/" in card.shown  # Back: the flow's list, to compare the two
    assert any(label.startswith("Nano Banana Pro") for label in card.labels())


async def test_the_cheapest_model_of_its_flow_gets_no_hint(api: FakeBotApi, bot: RunningBot):
    user = api.user()
    confirm = await confirmation(user, "z-image", "✅ 1:1")
    assert "💡" not in confirm.shown
    assert not any("💡" in label for label in confirm.labels())
