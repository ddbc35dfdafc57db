"""The deployment files in deploy/, checked offline.

Where the Docker Compose plugin exists, ``docker compose config`` must accept the compose file;
everywhere, its structure is checked here, and deploy/.env.example against every variable the
compose file and the bot read.
"""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
EXAMPLE = DEPLOY / ".env.example"
SETTINGS_MODULES = (
    ROOT / "apps" / "bot" / "src" / "kiebot_bot" / "settings.py",
    ROOT / "packages" / "kiebot-core" / "src" / "kiebot_core" / "domain" / "settings.py",
)
"""Where the bot reads its environment: its own settings and the shared operator settings."""

BOTS = ("bot1", "bot2")
BOT_SERVICES = (*BOTS, "worker")
CONTAINER_PORT = "8080"

_ENV_READ = re.compile(r'env(?:\.get\(\s*|,\s*)"([A-Z][A-Z0-9_]*)"')
"""``env.get("NAME")`` and ``helper(env, "NAME", ...)``: how the settings modules read."""
_COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_CADDY_VARIABLE = re.compile(r"\{\$([A-Za-z_][A-Za-z0-9_]*)")
_EXAMPLE_VARIABLE = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
"""A variable set (``NAME=value``) or shown with its default (``# NAME=value``)."""


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def example_variables() -> list[str]:
    return _EXAMPLE_VARIABLE.findall(EXAMPLE.read_text(encoding="utf-8"))


def variables_the_bot_reads() -> set[str]:
    return {
        name
        for module in SETTINGS_MODULES
        for name in _ENV_READ.findall(module.read_text(encoding="utf-8"))
    }


def test_the_services_are_two_bots_a_worker_their_stores_a_proxy_and_monitoring():
    assert set(services()) == {
        "bot1",
        "bot2",
        "worker",
        "postgres",
        "redis",
        "proxy",
        "prometheus",
        "grafana",
    }


def test_the_bots_serve_the_webhook_and_the_worker_runs_jobs():
    found = services()
    for name in BOTS:
        assert found[name]["command"] == ["kiebot-bot", "--webhook"]
    assert found["worker"]["command"][:2] == ["kiebot-bot", "worker"]
    for name in BOT_SERVICES:
        service = found[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["env_file"] == ".env"
        assert service["restart"] == "unless-stopped"


def test_bot_services_start_once_postgres_and_redis_are_healthy():
    found = services()
    for name in BOT_SERVICES:
        assert found[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert set(found["proxy"]["depends_on"]) == set(BOTS)


def test_the_bots_listen_where_their_health_checks_and_the_proxy_look():
    found = services()
    published = set()
    for name in BOTS:
        service = found[name]
        assert service["environment"]["HOST"] == "0.0.0.0"  # noqa: S104  # inside its container
        assert service["environment"]["PORT"] == CONTAINER_PORT
        check = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{CONTAINER_PORT}/readyz" in check
        [mapping] = service["ports"]
        host_port, container_port = mapping.rsplit(":", 2)[-2:]
        assert container_port == CONTAINER_PORT
        assert mapping.startswith("127.0.0.1:")
        published.add(host_port)
    assert len(published) == len(BOTS)
    worker_check = " ".join(found["worker"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{CONTAINER_PORT}/healthz" in worker_check
    assert "ports" not in found["worker"], "scaled workers publish nothing; Prometheus finds them"
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    upstreams = " ".join(f"{name}:{CONTAINER_PORT}" for name in BOTS)
    assert f"reverse_proxy {upstreams} {{" in caddyfile
    assert "health_uri /healthz" in caddyfile, "instances store updates while Redis is down"
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in found["proxy"]["volumes"]


def test_postgres_16_keeps_its_data_in_a_volume_and_redis_7_runs_beside_it():
    found = compose()
    postgres, redis = found["services"]["postgres"], found["services"]["redis"]
    assert postgres["image"] == "postgres:16"
    assert redis["image"] == "redis:7"
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]
    assert "postgres-data" in found["volumes"]
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    database_url = found["services"]["bot1"]["environment"]["DATABASE_URL"]
    user, database = (
        postgres["environment"]["POSTGRES_USER"],
        postgres["environment"]["POSTGRES_DB"],
    )
    assert f"postgresql://{user}:${{POSTGRES_PASSWORD}}@postgres:5432/{database}" in database_url


def test_every_variable_the_deployment_files_use_is_in_the_example():
    used = set(_COMPOSE_VARIABLE.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    used |= set(_CADDY_VARIABLE.findall((DEPLOY / "Caddyfile").read_text(encoding="utf-8")))
    assert {"POSTGRES_PASSWORD", "PUBLIC_HOST", "DATABASE_URL", "REDIS_URL"} <= used
    assert used - set(example_variables()) == set()


def test_every_variable_the_bot_reads_is_in_the_example():
    read = variables_the_bot_reads()
    # The scan still sees how the settings modules read: a few we know they must.
    assert {
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_URL",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET",
        "KIE_API_KEY",
        "ADMIN_IDS",
        "HOST",
        "PORT",
        "KIEBOT_STAR_PACKAGES",
        "KIEBOT_EVENT_RETENTION_DAYS",
    } <= read
    assert read - set(example_variables()) == set()


def test_the_example_names_each_variable_once():
    names = example_variables()
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)


def test_the_image_installs_the_locked_workspace_and_runs_the_bot():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert stages == ["python:3.11-slim", "python:3.11-slim"]
    assert "uv sync --locked --no-dev" in dockerfile
    assert dockerfile.rstrip().splitlines()[-1] == 'CMD ["kiebot-bot", "--webhook"]'
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE)
    assert " ".join(copied).split() == ["pyproject.toml", "uv.lock", "packages", "apps"]
    members = {path.parent.parent.name for path in ROOT.glob("*/*/pyproject.toml")}
    assert members == {"packages", "apps"}


def test_the_build_context_leaves_out_secrets_and_local_state():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for pattern in (".git", ".venv*", "tests", "deploy/.env", "**/__pycache__"):
        assert pattern in ignored
    for needed in ("packages", "apps", "pyproject.toml", "uv.lock", "deploy"):
        assert needed not in ignored


def _filled_example() -> str:
    """The example with a value for every required variable left empty."""
    return re.sub(r"^([A-Z][A-Z0-9_]*)=$", r"\1=value0", EXAMPLE.read_text(), flags=re.MULTILINE)


def _compose_command() -> list[str] | None:
    """``docker compose`` (the plugin), or a standalone Compose v2 ``docker-compose``; None
    when neither is installed."""
    candidates = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    for command in candidates:
        probe = subprocess.run(
            [*command, "version", "--short"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and probe.stdout.strip().lstrip("v").startswith("2."):
            return command
    return None


COMPOSE = _compose_command()


def test_the_file_is_valid_yaml_and_docker_compose_accepts_it_where_installed(tmp_path: Path):
    assert set(compose()) >= {"services", "volumes"}
    if COMPOSE is None:  # no Compose plugin here: the structure checks above are the check
        return
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    (deploy / ".env").write_text(_filled_example())
    result = subprocess.run(
        [*COMPOSE, "-f", str(deploy / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


def test_prometheus_and_grafana_run_the_checked_in_configuration_on_loopback_ports():
    found = compose()
    prometheus, grafana = found["services"]["prometheus"], found["services"]["grafana"]
    assert prometheus["image"].startswith("prom/prometheus:v")
    assert grafana["image"].startswith("grafana/grafana:")
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert "prometheus-data:/prometheus" in prometheus["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./grafana/dashboards:/etc/grafana/dashboards:ro" in grafana["volumes"]
    assert "grafana-data:/var/lib/grafana" in grafana["volumes"]
    assert {"prometheus-data", "grafana-data"} <= set(found["volumes"])
    for service in (prometheus, grafana):
        [mapping] = service["ports"]
        assert mapping.startswith("127.0.0.1:"), "monitoring is not published to the internet"
        assert service["restart"] == "unless-stopped"
    assert "GRAFANA_ADMIN_PASSWORD" in grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    for relative in (
        "prometheus/prometheus.yml",
        "prometheus/alerts.yml",
        "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/kiebot.yml",
        "grafana/dashboards/kiebot.json",
    ):
        assert (DEPLOY / relative).is_file(), relative
