import json

import pytest
from typer.testing import CliRunner

from kiebot_cli.main import make_app

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(make_app(), list(args), env={"LANG": "C", **(env or {})})


def test_models_list_json_lists_enabled_models_most_popular_first():
    result = run("models", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 107
    assert all(row["enabled"] for row in rows)
    popularity = [row["popularity"] for row in rows]
    assert popularity == sorted(popularity, reverse=True)
    assert all(isinstance(row["from_stars"], int) for row in rows)


def test_models_list_filters_combine():
    result = run("models", "list", "-c", "video", "-f", "image_to_video", "--json")
    rows = json.loads(result.stdout)
    assert rows
    assert all(row["category"] == "video" and "image_to_video" in row["flows"] for row in rows)


def test_models_list_all_shows_disabled_models_with_their_reason():
    rows = json.loads(run("models", "list", "--all", "--json").stdout)
    assert len(rows) == 121
    disabled = {row["id"]: row["disabled_reason"] for row in rows if not row["enabled"]}
    assert disabled["wan/2-6-flash-video-to-video"] == "price_unknown"


def test_models_list_table_shows_prices_in_stars():
    result = run("models", "list", "--search", "flux flex")
    assert result.exit_code == 0
    assert "flux-2/flex-text-to-image" in result.stdout
    assert "12 ⭐" in result.stdout


def test_unknown_flow_is_a_clear_usage_error():
    result = run("models", "list", "--flow", "teleport")
    assert result.exit_code == 2
    assert "unknown flow 'teleport'" in result.stderr


def test_models_show_renders_inputs_and_prices_in_the_chosen_language():
    result = run("--lang", "ru", "models", "show", "flux-2/flex-text-to-image")
    assert result.exit_code == 0, result.output
    assert "Текст→" in result.stdout
    assert "resolution=2K" in result.stdout
    assert "20 ⭐" in result.stdout


def test_models_show_json_has_the_exact_schema_and_price_rows():
    data = json.loads(run("models", "show", "bytedance/seedance-2", "--json").stdout)
    duration = next(i for i in data["inputs"] if i["name"] == "duration")
    assert (duration["type"], duration["min"], duration["max"]) == ("integer", 4, 15)
    assert data["price"]["basis"] == "second"
    assert {row["credits"] for row in data["price"]["rows"]} >= {"19", "11.4"}


def test_unknown_model_suggests_close_ids_and_exits_2():
    result = run("models", "show", "flux")
    assert result.exit_code == 2
    assert "no model 'flux'" in result.stderr
    assert "flux-2/flex-text-to-image" in result.stderr


@pytest.mark.parametrize(
    "variable", ["KIEBOT_MARKUP_PERCENT", "KIEBOT_STARS_PER_CREDIT", "KIEBOT_MIN_STARS"]
)
def test_a_malformed_price_setting_names_the_variable(variable):
    result = run("models", "list", env={variable: "lots"})
    assert result.exit_code == 2
    assert variable in result.stderr
    assert "Traceback" not in result.output


def test_operator_price_settings_change_the_shown_prices():
    rows = json.loads(run("models", "list", "--json", env={"KIEBOT_MARKUP_PERCENT": "0"}).stdout)
    flux = next(row for row in rows if row["id"] == "flux-2/flex-text-to-image")
    assert flux["from_stars"] == 6  # 14 credits x 0.4, no markup = 5.6 -> 6
