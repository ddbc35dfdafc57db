"""The event chain end to end: three planted failures through the real bot, the KIE sandbox and
PostgreSQL, each named by ``kiebot debug``; ``/debug`` for admins only; ``kiebot replay``."""

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from click.testing import Result

from kiebot_core.domain.catalog import InputSpec, Registry
from kiebot_core.domain.generation import Deadlines, Generation, GenerationState
from kiebot_core.domain.reasons import ReasonCode, reason_text
from kiebot_core.domain.registry import load_registry
from kiebot_core.domain.texts import Language
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_kie.sandbox.server import run_sandbox
from tests.cli.conftest import Cli
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.flows import PHOTO, open_model, wait_finished
from tests.telegram.harness import RunningBot, running_bot

BANANA = "nano-banana-pro"
ADMIN = 4242


@pytest.fixture
def store(pg_store: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """PostgreSQL: the bot writes the events, ``kiebot debug`` reads them (``DATABASE_URL``)."""
    return pg_store


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", tmp_path / "out")


async def kiebot(cli: Cli, dsn: str, *args: str) -> Result:
    """``kiebot ARGS`` on the bot's database, as an operator runs it."""
    return await asyncio.to_thread(cli, *args, env={"DATABASE_URL": dsn, "COLUMNS": "220"})


async def run_banana(
    bot: RunningBot,
    user: FakeUser,
    prompt: str,
    aspect_ratio: str | None = None,
    *,
    photo: bytes | None = None,
) -> Generation:
    await user.send("/start")
    await open_model(user, BANANA)
    await user.send(prompt)
    if photo is not None:
        await user.send_photo(photo)  # a reference image: uploaded to KIE
    if aspect_ratio is not None:
        await user.press("⏭ Skip")  # the reference images
        assert "Aspect ratio" in user.last().shown
        await user.press(aspect_ratio)
    await user.press("⏩ Skip optional")
    await user.press("✅ Confirm")
    return await wait_finished(bot, user)


def drifted(registry: Registry, model_id: str, name: str, dropped: str) -> Registry:
    """``registry`` as KIE knows it after a change we missed: ``dropped`` no longer allowed."""

    def narrowed(spec: InputSpec) -> InputSpec:
        if spec.name != name or spec.enum is None:
            return spec
        return attrs.evolve(spec, enum=tuple(v for v in spec.enum if v != dropped))

    models = tuple(
        attrs.evolve(model, inputs=tuple(narrowed(spec) for spec in model.inputs))
        if model.id == model_id
        else model
        for model in registry.models
    )
    return attrs.evolve(registry, models=models)


async def test_an_input_kie_rejects_is_named_by_kiebot_debug(
    api: FakeBotApi, store: UnitOfWorkFactory, pg_dsn: str, cli: Cli
):
    kie_registry = drifted(load_registry(), BANANA, "aspect_ratio", "9:16")
    async with (
        run_sandbox(fast=True, registry=kie_registry) as kie,
        running_bot(api, store, sandbox=kie) as bot,
    ):
        user = api.user()
        generation = await run_banana(bot, user, "a red fox in the snow", "9:16")
    assert (generation.state, generation.reason) == (
        GenerationState.FAILED,
        ReasonCode.PROVIDER_REJECTED,
    )
    shown = await kiebot(cli, pg_dsn, "debug", generation.id)
    assert shown.exit_code == 0, shown.output
    assert "Diagnosis: KIE rejected aspect_ratio=9:16: aspect_ratio:" in shown.stdout
    assert "Reason: provider_rejected · policy terminal, alerts the operator" in shown.stdout
    assert "kie.create" in shown.stdout
    assert "code 422" in shown.stdout
    assert "release 15 ⭐" in shown.stdout
    by_task = await kiebot(cli, pg_dsn, "debug", generation.correlation_id, "--json")
    data = json.loads(by_task.stdout)
    assert data["diagnosis"]["finding"] == "kie_rejected_input"
    assert data["generation_id"] == generation.id
    assert data["ledger"] == ["hold 15 ⭐", "release 15 ⭐"]


async def test_a_task_lost_at_kie_is_named_by_kiebot_debug(
    api: FakeBotApi, store: UnitOfWorkFactory, pg_dsn: str, cli: Cli
):
    deadlines = Deadlines(image=timedelta(seconds=2))
    async with running_bot(api, store, deadlines=deadlines) as bot:
        user = api.user()
        generation = await run_banana(bot, user, "[lost] a fox that never arrives")
    assert generation.reason is ReasonCode.PROVIDER_TIMEOUT
    assert generation.task_id is not None
    shown = await kiebot(cli, pg_dsn, "debug", generation.task_id)
    assert shown.exit_code == 0, shown.output
    assert "(kie_task)" in shown.stdout
    assert "Diagnosis: task lost at KIE, released after 2 s (KIE still said “running”)" in (
        shown.stdout
    )
    assert "deadline passed" in shown.stdout
    assert "kie.status" in shown.stdout


async def test_a_result_telegram_refuses_is_named_by_kiebot_debug(
    api: FakeBotApi, store: UnitOfWorkFactory, pg_dsn: str, cli: Cli
):
    api.refuse("sendPhoto", "Request Entity Too Large", code=413)
    async with running_bot(api, store) as bot:
        user = api.user()
        generation = await run_banana(bot, user, "a fox too large for Telegram")
        sandbox_url = bot.sandbox.base_url
    assert generation.state is GenerationState.SUCCEEDED
    assert generation.delivered_refs[0].startswith("link:")
    user.find("The result is too large to send in Telegram")  # the link went out
    shown = await kiebot(cli, pg_dsn, "debug", generation.id)
    assert shown.exit_code == 0, shown.output
    assert (
        "Diagnosis: Telegram refused the photo (Request Entity Too Large), sent as a link"
        in shown.stdout
    )
    assert "delivery.link" in shown.stdout
    assert "capture 15 ⭐" in shown.stdout
    assert sandbox_url not in shown.stdout  # no media URL in the chain


async def test_debug_shows_the_report_to_admins_only(api: FakeBotApi, store: UnitOfWorkFactory):
    async with running_bot(api, store, admin_ids=frozenset({ADMIN})) as bot:
        user = api.user()
        generation = await run_banana(bot, user, "[fail] a fox that fails")
        await user.send(f"/debug {generation.id}")
        refused = user.last().shown
        await user.send("/no_such_command")
        unknown = user.last().shown
        admin = api.user(ADMIN, "Root")
        await admin.send("/start")
        await admin.send(f"/debug {generation.id}")
        report = admin.last().shown
        await admin.send("/debug")
        usage = admin.last().shown
        await admin.send("/debug gen_missing")
        missing = admin.last().shown
        await admin.send(f"/debug {user.id}")
        by_user = admin.last().shown
    assert refused == unknown
    assert reason_text(ReasonCode.UNKNOWN_ACTION, Language.EN) in refused
    assert "🩺" not in refused
    assert f"🔎 {generation.id} · generation" in report
    assert "🩺 KIE failed the task (code 501): Generation failed (sandbox [fail] marker)" in report
    assert "Reason: provider_failed · policy retry" in report
    assert "generation.started" in report
    assert "kie.create" in report
    assert "Ledger: hold 15 ⭐ · release 15 ⭐" in report
    assert "🔎 /debug ID" in usage
    assert "Nothing is recorded for gen_missing" in missing
    assert f"🔎 {user.id} · user" in by_user
    assert "Latest generations:" in by_user
    assert f"{generation.id} · {BANANA} · failed (provider_failed)" in by_user
    assert f"Also: update:{user.id}" in by_user  # the fake's update ids start where its users do


async def test_kiebot_replay_tells_what_a_user_did_and_saw(
    api: FakeBotApi, store: UnitOfWorkFactory, pg_dsn: str, cli: Cli
):
    async with running_bot(api, store) as bot:
        user = api.user()
        generation = await run_banana(bot, user, "a red fox in the snow", photo=PHOTO)
    assert generation.state is GenerationState.SUCCEEDED
    shown = await kiebot(cli, pg_dsn, "replay", str(user.id))
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert any("→ user" in line and "/start" in line for line in lines)
    assert any("← bot" in line and "Hi, Ann!" in line for line in lines)
    assert any("← bot" in line and "Step 1/4 · Prompt" in line for line in lines)
    assert any("→ user" in line and "pressed «▶️ Start»" in line for line in lines)
    assert any("→ user" in line and "«a red fox in the snow»" in line for line in lines)
    assert any("→ user" in line and line.rstrip().endswith("photo") for line in lines)
    assert any("⚙ run" in line and "kie.upload" in line for line in lines)
    assert any("→ user" in line and "pressed «✅ Confirm" in line for line in lines)
    assert any("⚙ run" in line and "generation.delivered" in line for line in lines)
    order = [
        next(i for i, line in enumerate(lines) if needle in line)
        for needle in ("/start", "«a red fox in the snow»", "generation.delivered")
    ]
    assert order == sorted(order)
    data = json.loads((await kiebot(cli, pg_dsn, "replay", str(user.id), "--json")).stdout)
    assert data[0]["actor"] == "user"
    assert data[0]["text"] == "/start"
    later = await kiebot(cli, pg_dsn, "replay", str(user.id), "--since", "2999-01-01")
    assert later.exit_code == 2
    assert "nothing recorded for user" in later.stderr
    assert (await kiebot(cli, pg_dsn, "replay", "not-a-user")).exit_code == 2
