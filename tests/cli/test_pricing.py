import json
from decimal import Decimal

from typer.testing import CliRunner

from kiebot_cli.main import make_app
from kiebot_core.domain.pricing import PriceSettings, Quote, quote
from kiebot_core.domain.registry import load_registry

runner = CliRunner()
FLUX = "flux-2/flex-text-to-image"


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(make_app(), list(args), env={"LANG": "C", **(env or {})})


def flux_quote(resolution: str, settings: PriceSettings) -> Quote:
    model = load_registry().get(FLUX)
    assert model is not None
    found = quote(model, {"resolution": resolution}, settings)
    assert isinstance(found, Quote)
    return found


def test_the_header_shows_the_operators_settings():
    env = {
        "KIEBOT_STARS_PER_CREDIT": "0.5",
        "KIEBOT_MARKUP_PERCENT": "30",
        "KIEBOT_MIN_STARS": "2",
    }
    result = run("pricing", "show", env=env)
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    assert "1 credit = 0.5 ⭐" in header
    assert "markup 30 %" in header
    assert "minimum 2 ⭐" in header


def test_a_models_rows_match_the_core_quote_for_that_combination():
    result = run("pricing", "show", "--model", FLUX)
    assert result.exit_code == 0, result.output
    expected = flux_quote("2K", PriceSettings())
    row = next(line for line in result.stdout.splitlines() if "resolution=2K" in line)
    assert f" {expected.credits} " in row
    assert f" {expected.stars} ⭐" in row
    data = json.loads(run("pricing", "show", "--model", FLUX, "--json").stdout)
    (model,) = data["models"]
    assert (model["id"], model["basis"]) == (FLUX, "output")
    for line in model["prices"]:
        (resolution,) = line["when"]["resolution"]
        found = flux_quote(resolution, PriceSettings())
        assert (Decimal(line["credits"]), line["stars"]) == (found.credits, found.stars)


def test_the_markup_setting_changes_the_stars_not_the_credits():
    def flux_2k(markup: str) -> dict[str, object]:
        env = {"KIEBOT_MARKUP_PERCENT": markup}
        data = json.loads(run("pricing", "show", "--model", FLUX, "--json", env=env).stdout)
        assert data["settings"]["markup_percent"] == int(markup)
        return next(
            line for line in data["models"][0]["prices"] if line["when"]["resolution"] == ["2K"]
        )

    plain, doubled = flux_2k("0"), flux_2k("100")
    assert plain["credits"] == doubled["credits"] == "24"
    assert plain["stars"] == flux_quote("2K", PriceSettings(markup_percent=0)).stars == 10
    assert doubled["stars"] == 20


def test_an_unknown_model_is_a_usage_error_with_close_ids():
    result = run("pricing", "show", "--model", "flux")
    assert result.exit_code == 2
    assert "no model 'flux'" in result.stderr
    assert FLUX in result.stderr


def test_json_lists_enabled_models_and_all_adds_the_disabled_with_their_reason():
    result = run("pricing", "show", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"] == {"stars_per_credit": "0.4", "markup_percent": 100, "min_stars": 1}
    assert len(data["models"]) == 107
    assert all(model["enabled"] and model["prices"] for model in data["models"])
    every = json.loads(run("pricing", "show", "--all", "--json").stdout)["models"]
    assert len(every) == 121
    unpriced = next(m for m in every if m["id"] == "wan/2-6-flash-video-to-video")
    assert (unpriced["disabled_reason"], unpriced["prices"]) == ("price_unknown", [])
    assert "legacy_unverified" in run("pricing", "show", "--all").stdout
    text = run("pricing", "show", "--model", "wan/2-6-flash-video-to-video").stdout
    assert "disabled: price_unknown" in text
    assert "no price" in text
