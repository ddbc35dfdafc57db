"""``kiebot models sync|versions`` against the bot's PostgreSQL store."""

import asyncio
import json
from pathlib import Path

from kiebot_core.domain.audit import AuditAction
from kiebot_core.domain.registry import load_registry
from kiebot_core.use_cases.catalog import LoadActiveRegistry
from tests.catalog_files import FLUX, GONE, NEW, UNPRICED, model, newer, research, write
from tests.cli.bot_store import BotStore, bot_store

__all__ = ["bot_store"]


async def versions(bot_store: BotStore) -> int:
    async with bot_store.uow() as uow:
        return await uow.catalogs.current_version()


async def test_the_shipped_research_catalog_changes_nothing(bot_store: BotStore, tmp_path: Path):
    file = write(tmp_path / "models.json", research())
    result = await bot_store.run("models", "sync", str(file), "--yes")
    assert result.exit_code == 0, result.output
    assert "it passes every registry check" in result.stdout
    assert "Nothing to apply: the bot already serves this catalog." in result.stdout
    assert await versions(bot_store) == 0


async def test_a_newer_catalog_shows_its_diff_and_is_applied_with_yes(
    bot_store: BotStore, tmp_path: Path
):
    file = write(tmp_path / "models.json", newer())
    dry = await bot_store.run("models", "sync", str(file), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"+ new (1): {NEW}" in dry.stdout
    assert f"- removed (1): {GONE}" in dry.stdout
    assert f"{FLUX}: from 14 → 16 credits (12 ⭐ → 13 ⭐)" in dry.stdout
    assert "Dry run: 1 new, 1 removed, 1 price change; nothing was applied." in dry.stdout
    assert await versions(bot_store) == 0
    applied = await bot_store.run("models", "sync", str(file), "--yes", KIEBOT_OPERATOR="ann")
    assert applied.exit_code == 0, applied.output
    assert "Applied: catalog version 1 (research catalog: 1 new, 1 removed" in applied.stdout
    assert "by cli:ann" in applied.stdout
    served = await LoadActiveRegistry(bot_store.uow, load_registry())()
    assert served.get(NEW) is not None
    assert served.get(GONE) is None
    async with bot_store.uow() as uow:
        (entry,) = await uow.audit.recent(limit=5)
    assert (entry.actor, entry.action, entry.target) == (
        "cli:ann",
        AuditAction.CATALOG_SYNC,
        "catalog v1",
    )


async def test_an_invalid_catalog_names_its_problems_and_changes_nothing(
    bot_store: BotStore, tmp_path: Path
):
    catalog = newer()
    del catalog["ui_models"]
    aspect = next(i for i in model(catalog, FLUX)["inputs"] if i["name"] == "aspect_ratio")
    aspect["default"] = "7:5"
    missing = await bot_store.run(
        "models", "sync", str(write(tmp_path / "a.json", catalog)), "--yes"
    )
    assert missing.exit_code == 2
    assert "fails the checks" in missing.stderr
    assert f"no entry for {NEW}" in missing.stderr
    catalog = research()
    aspect = next(i for i in model(catalog, FLUX)["inputs"] if i["name"] == "aspect_ratio")
    aspect["default"] = "7:5"
    broken = await bot_store.run(
        "models", "sync", str(write(tmp_path / "b.json", catalog)), "--yes"
    )
    assert broken.exit_code == 2
    assert f"{FLUX}: default of aspect_ratio is not in its enum" in broken.stderr
    not_json = tmp_path / "c.json"
    not_json.write_text("{nope", encoding="utf-8")
    garbled = await bot_store.run("models", "sync", str(not_json), "--yes")
    assert garbled.exit_code == 2
    assert "is not a JSON file" in garbled.stderr
    assert await versions(bot_store) == 0


async def test_a_price_file_with_json_output_then_the_versions(
    bot_store: BotStore, tmp_path: Path
):
    prices = write(tmp_path / "prices.json", {"price_overrides": {UNPRICED: 30}})
    result = await bot_store.run("models", "sync", str(prices), "--yes", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["kind"], report["applied"], report["valid"]) == ("price overrides", 1, True)
    assert report["diff"]["availability"] == [
        {"model": UNPRICED, "before": "price_unknown", "after": None}
    ]
    unknown = write(tmp_path / "unknown.json", {"price_overrides": {"nope/x": 3}})
    refused = await bot_store.run("models", "sync", str(unknown), "--json")
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["problems"] == ["no model nope/x to override the price of"]
    same = await bot_store.run("models", "sync", "--shipped", "--yes")
    assert "Nothing to apply" in same.stdout
    models = await bot_store.run("models", "sync", str(write(tmp_path / "m.json", newer())), "-y")
    assert "Applied: catalog version 2" in models.stdout
    back = await bot_store.run("models", "sync", "--shipped", "--yes")
    assert back.exit_code == 0, back.output
    assert f"+ new (1): {GONE}" in back.stdout
    assert "Applied: catalog version 3 (shipped catalog: 1 new, 1 removed" in back.stdout
    listed = await bot_store.run("models", "versions", "--json")
    rows = json.loads(listed.stdout)
    assert [(r["version"], r["shipped"], r["price_overrides"]) for r in rows] == [
        (3, True, 1),
        (2, False, 1),
        (1, True, 1),
    ]
    table = await bot_store.run("models", "versions")
    assert "price overrides: 1 price change, 1 availability change" in table.stdout


async def test_without_yes_it_asks_at_a_terminal_and_refuses_elsewhere(
    bot_store: BotStore, tmp_path: Path
):
    file = str(write(tmp_path / "models.json", newer()))
    quiet = await bot_store.run("models", "sync", file)
    assert quiet.exit_code == 2
    assert "pass --yes to apply" in quiet.stderr
    env = {"DATABASE_URL": bot_store.dsn}
    declined = await asyncio.to_thread(
        bot_store.cli, "models", "sync", file, env=env, interactive=True, input="n\n"
    )
    assert declined.exit_code == 1
    assert "Not applied." in declined.stderr
    assert await versions(bot_store) == 0
    accepted = await asyncio.to_thread(
        bot_store.cli, "models", "sync", file, env=env, interactive=True, input="y\n"
    )
    assert accepted.exit_code == 0, accepted.output
    assert "Apply as catalog version 1?" in accepted.stdout
    assert await versions(bot_store) == 1


async def test_one_of_a_file_and_shipped_is_required(bot_store: BotStore, tmp_path: Path):
    for args in ((), (str(tmp_path / "x.json"), "--shipped")):
        result = await bot_store.run("models", "sync", *args)
        assert result.exit_code == 2
        assert "give a FILE or --shipped" in result.stderr
