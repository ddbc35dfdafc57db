"""The monitoring files in deploy/, validated offline against what ``/metrics`` exports.

Grafana's dashboard (JSON) and Prometheus' configuration and alert rules (YAML) are checked for
structure, and every metric name a panel or a rule reads must be one a running bot exports.
Where ``promtool`` is installed, it checks the configuration and the rules too.
"""

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kiebot_core.domain.generation import GenerationState
from kiebot_core.testing.memory import MemoryUnitOfWorkFactory
from tests.bot.metrics_support import generate, scrape, top_up
from tests.deploy.test_compose import BOTS, CONTAINER_PORT, DEPLOY, services
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import running_bot

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "kiebot.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "kiebot.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

PROMETHEUS_OWN = frozenset({"up"})
"""Series Prometheus makes itself for every target."""
_PROMQL_WORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*")
_DURATION = re.compile(r"^\d+[smhdw]$")
PANEL_TYPES = frozenset({"row", "stat", "timeseries", "bargauge", "table", "gauge"})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords and labels left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word, rest = match.group(), text[match.end() :].lstrip()
        if word.lower() in _PROMQL_WORDS or rest.startswith("("):
            continue
        names.add(word)
    return names


def test_metric_names_are_read_out_of_promql():
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{x="y"}[5m]))) > 0.8 '
        "and max(b_total offset 1h) / clamp_min(sum without (instance) (c), 1e-9) "
        'or absent(d) unless on(job) up{job=~"kiebot-.*"}'
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c", "d", "up"}


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), path
    return loaded


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def rules() -> list[dict[str, Any]]:
    groups = load_yaml(ALERTS)["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in panels() if p["type"] != "row" for t in p["targets"]]


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every series name a running bot's ``/metrics`` exports, after real traffic."""

    async def run() -> set[str]:
        async with FakeBotApi() as api, running_bot(api, MemoryUnitOfWorkFactory()) as bot:
            user = api.user()
            await user.send("/start")
            generation = await generate(bot, user)
            assert generation.state is GenerationState.SUCCEEDED
            await top_up(user)
            return (await scrape(bot.http_port)).names()

    return asyncio.run(run())


def test_every_metric_a_panel_or_a_rule_reads_is_exported(exported: set[str]):
    assert {"kiebot_updates_total", "kiebot_kie_requests_total", "kiebot_leader"} <= exported
    read = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    read |= {name for rule in rules() for name in metric_names(rule["expr"])}
    assert read, "no metric names found"
    assert read - exported - PROMETHEUS_OWN == set()


def test_the_dashboard_is_a_grafana_dashboard_on_the_provisioned_prometheus():
    board = dashboard()
    assert board["uid"] == "kiebot-overview"
    assert board["title"] == "kiebot"
    assert isinstance(board["schemaVersion"], int)
    datasource = load_yaml(DATASOURCES)["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    found = list(panels())
    ids = [panel["id"] for panel in found]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    occupied: set[tuple[int, int]] = set()
    for panel in found:
        assert panel["type"] in PANEL_TYPES, panel["type"]
        assert panel["title"].strip()
        grid = panel["gridPos"]
        assert grid["w"] > 0
        assert grid["h"] > 0
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
        refs = [target["refId"] for target in panel["targets"]]
        assert refs
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["datasource"]["uid"] == datasource["uid"]


def test_the_dashboard_shows_what_the_issue_asks_for():
    used = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    assert {
        "kiebot_updates_total",  # updates by type and outcome
        "kiebot_update_handling_seconds_bucket",  # handler latency
        "kiebot_generations_finished_total",  # generations by model and state, success rate
        "kiebot_generations_in_flight",
        "kiebot_kie_requests_total",  # KIE codes
        "kiebot_kie_request_duration_seconds_bucket",  # KIE latency
        "kiebot_kie_credits",
        "kiebot_jobs",  # queue depth
        "kiebot_job_queue_age_seconds",  # queue age
        "kiebot_inbox_queue_age_seconds",
        "kiebot_stars_purchased_total",
        "kiebot_stars_refunded_total",
        "kiebot_leader",
    } <= used
    titles = {panel["title"] for panel in panels()}
    assert "Success rate by model (24 h)" in titles


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it():
    provider = load_yaml(PROVIDERS)["providers"][0]
    assert provider["type"] == "file"
    grafana = services()["grafana"]
    mounted = {
        volume.split(":")[1]: volume.split(":")[0]
        for volume in grafana["volumes"]
        if ":" in volume
    }
    assert mounted[provider["options"]["path"]] == "./grafana/dashboards"
    assert mounted["/etc/grafana/provisioning"] == "./grafana/provisioning"


def test_the_alert_rules_are_well_formed(tmp_path: Path):
    """Their structure here; where ``promtool`` is installed, its checks of the rules, the
    Prometheus config and the panels' queries too, and the alerts firing on synthetic series."""
    if PROMTOOL is not None:
        promtool_accepts_the_rules_the_config_and_the_panels(PROMTOOL, tmp_path)
        promtool_fires_the_alerts_on_synthetic_series(PROMTOOL, tmp_path)
    found = rules()
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names))
    for rule in found:
        assert re.fullmatch(r"Kiebot[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
        assert isinstance(rule["expr"], str)
        assert rule["expr"].strip()
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert _DURATION.match(rule.get("for", "0m")), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"].strip()
        assert rule["annotations"]["description"].strip()


def test_the_alert_rules_cover_what_the_issue_asks_for():
    by_name = {rule["alert"]: " ".join(rule["expr"].split()) for rule in rules()}
    assert 'kiebot_updates_total{outcome="error"}' in by_name["KiebotUpdateErrors"]
    slow = by_name["KiebotSlowUpdates"]
    assert "histogram_quantile(0.95," in slow
    assert "kiebot_update_handling_seconds_bucket" in slow
    assert slow.endswith("> 0.8")
    assert 'kiebot_kie_requests_total{code="402"}' in by_name["KiebotKieOutOfCredits"]
    assert "kiebot_kie_credits" in by_name["KiebotKieCreditsLow"]
    assert "kiebot_job_queue_age_seconds" in by_name["KiebotJobQueueStuck"]
    assert "kiebot_inbox_queue_age_seconds" in by_name["KiebotInboxQueueStuck"]
    assert "kiebot_leader" in by_name["KiebotNoLeader"]
    assert "absent(kiebot_leader)" in by_name["KiebotNoLeader"]


def test_prometheus_scrapes_every_bot_and_worker_and_loads_the_rules():
    config = load_yaml(PROMETHEUS)
    prometheus = services()["prometheus"]
    mounted = {volume.split(":")[1] for volume in prometheus["volumes"]}
    assert set(config["rule_files"]) <= mounted
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    [bots] = jobs["kiebot-bot"]["static_configs"]
    assert sorted(bots["targets"]) == sorted(f"{name}:{CONTAINER_PORT}" for name in BOTS)
    [workers] = jobs["kiebot-worker"]["dns_sd_configs"]
    assert workers["names"] == ["worker"]
    assert str(workers["port"]) == CONTAINER_PORT
    assert "worker" in services()
    for job in ("kiebot-bot", "kiebot-worker"):
        assert jobs[job].get("metrics_path", "/metrics") == "/metrics"
    rule_jobs = " ".join(rule["expr"] for rule in rules() if "up{" in rule["expr"])
    assert 'job=~"kiebot-.*"' in rule_jobs


PROMTOOL = shutil.which("promtool")


def promtool_accepts_the_rules_the_config_and_the_panels(promtool: str, tmp_path: Path) -> None:
    panel_rules = tmp_path / "panels.yml"
    recorded = [{"record": f"panel:expr{i}", "expr": e} for i, e in enumerate(dashboard_exprs())]
    panel_rules.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": recorded}]}))
    for command in (
        ["check", "rules", str(ALERTS), str(panel_rules)],
        ["check", "config", "--syntax-only", str(PROMETHEUS)],
    ):
        checked = subprocess.run([promtool, *command], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


ALERT_CASES: dict[str, Any] = {
    "rule_files": ["alerts.yml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {"series": 'kiebot_leader{instance="bot1:8080"}', "values": "1 1 0 0 0 0"},
                {"series": 'kiebot_leader{instance="bot2:8080"}', "values": "0 0 0 0 0 0"},
                {
                    "series": 'kiebot_kie_requests_total{endpoint="createTask",code="402"}',
                    "values": "0 0 0 1 1 1",
                },
                {"series": "kiebot_job_queue_age_seconds", "values": "0 200 200 200 200 200"},
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "KiebotNoLeader", "exp_alerts": []},
                {
                    "eval_time": "5m",
                    "alertname": "KiebotNoLeader",
                    "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
                },
                {"eval_time": "2m", "alertname": "KiebotKieOutOfCredits", "exp_alerts": []},
                {
                    "eval_time": "4m",
                    "alertname": "KiebotKieOutOfCredits",
                    "exp_alerts": [{"exp_labels": {"severity": "critical"}}],
                },
                {"eval_time": "3m", "alertname": "KiebotJobQueueStuck", "exp_alerts": []},
            ],
        }
    ],
}


def promtool_fires_the_alerts_on_synthetic_series(promtool: str, tmp_path: Path) -> None:
    # The rules as they are, without their annotations (promtool compares those too).
    plain = load_yaml(ALERTS)
    for group in plain["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(plain))
    cases = tmp_path / "alerts_test.yml"
    cases.write_text(yaml.safe_dump(ALERT_CASES))
    checked = subprocess.run(
        [promtool, "test", "rules", str(cases)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
