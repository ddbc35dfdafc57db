import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kiebot_core.domain import ledger
from kiebot_core.domain.generation import GenerationState
from kiebot_core.domain.ids import UserId
from tests.cli.bot_store import BotStore, bot_store
from tests.contracts.builders import make_generation, planned

__all__ = ["bot_store"]

USER = UserId(1001)
FLUX, KLING = "flux-2/pro-text-to-image", "kling-3.0/video"
NOW = datetime.now(UTC)


def delivered(gid: str, model_id: str, credits: str, consumed: int, *, ago: timedelta):
    return make_generation(
        gid,
        at=NOW - ago,
        user_id=USER,
        model_id=model_id,
        credits=credits,
        stars=12,
        held=12,
        state=GenerationState.SUCCEEDED,
        credits_consumed=Decimal(consumed),
    )


@pytest.fixture
async def planted(bot_store: BotStore) -> BotStore:
    """Charged runs: FLUX consumed less than quoted (once 40 days ago), KLING more (2 of its 12
    Stars refunded)."""
    runs = [
        (delivered("gen_flux", FLUX, "5.6", 4, ago=timedelta(hours=1)), 0),
        (delivered("gen_kling", KLING, "14", 20, ago=timedelta(hours=2)), 2),
        (delivered("gen_old", FLUX, "5.6", 5, ago=timedelta(days=40)), 0),
    ]
    async with bot_store.uow() as uow:
        await uow.ledger.append(planned(ledger.grant(USER, 100, "test")))
        for generation, refunded in runs:
            await uow.generations.add(generation)
            balance = await uow.ledger.balance(USER)
            await uow.ledger.append(planned(ledger.hold(balance, USER, 12, generation.id)))
            await uow.ledger.append(planned(ledger.capture(USER, 12, 12, generation.id)))
            if refunded:
                await uow.ledger.append(planned(ledger.refund(USER, refunded, generation.id)))
        await uow.commit()
    return bot_store


def row_of(output: str, name: str) -> list[str]:
    line = next(line for line in output.splitlines() if f" {name} " in line)
    return [cell.strip() for cell in line.split("│")[1:-1]]


async def test_each_model_shows_its_figures_and_the_underpriced_one_is_flagged(planted):
    result = await planted.run("pricing", "margin")
    assert result.exit_code == 0, result.output
    assert "the cost at 0.4 ⭐ a credit" in result.stdout
    assert row_of(result.stdout, FLUX) == [FLUX, "1", "12", "5.6", "4 (1/1)", "1.60", "10.40", ""]
    assert row_of(result.stdout, KLING) == [
        KLING, "1", "10", "14", "20 (1/1)", "8.00", "2.00", "⚠ underpriced"
    ]  # fmt: skip
    assert row_of(result.stdout, "total")[:7] == [
        "total", "2", "22", "19.6", "24 (2/2)", "9.60", "12.40"
    ]  # fmt: skip


async def test_since_reaches_back_and_the_rate_is_the_operators(planted):
    since = (NOW - timedelta(days=41)).date().isoformat()
    env = {"KIEBOT_STARS_PER_CREDIT": "0.5"}
    result = await planted.run("pricing", "margin", "--since", since, "--json", **env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["since"] == f"{since}T00:00:00+00:00"
    assert data["stars_per_credit"] == "0.5"
    flux, kling = data["models"]
    assert flux == {
        "model": FLUX,
        "generations": 2,
        "stars": 24,
        "credits_quoted": "11.2",
        "credits_consumed": "9",
        "reported": 2,
        "cost_stars": "4.5",
        "margin_stars": "19.5",
        "underpriced": False,
    }
    assert (kling["model"], kling["cost_stars"], kling["margin_stars"]) == (KLING, "10.0", "0.0")
    assert kling["underpriced"] is True
    assert (data["total"]["generations"], data["total"]["stars"]) == (3, 34)


async def test_nothing_delivered_since_says_so(planted):
    result = await planted.run("pricing", "margin", "--since", "2099-01-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "No generations delivered since 2099-01-01 00:00 UTC"


async def test_a_malformed_date_is_a_usage_error(planted):
    result = await planted.run("pricing", "margin", "--since", "last month")
    assert result.exit_code == 2
    assert "'last month' is not an ISO date" in result.stderr
