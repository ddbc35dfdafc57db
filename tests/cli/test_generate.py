import asyncio
import json
from pathlib import Path

import pytest

from kiebot_kie.sandbox.media import mp4
from kiebot_pg.migrate import migrations as pg_migrations
from tests.cli.conftest import PNG_SIGNATURE, Cli


def run_json(cli: Cli, *args: str, **kwargs):
    result = cli("generate", *args, "--json", "--out", str(cli.out), **kwargs)
    return result, json.loads(result.stdout)


def sandbox_tasks(cli: Cli) -> list[Path]:
    return list((cli.home / "sandbox").rglob("task_*"))


def test_a_generation_runs_end_to_end_on_the_embedded_defaults(cli):
    result, data = run_json(cli, "flux-2/flex-text-to-image", "a lighthouse at dawn")
    assert result.exit_code == 0, result.output
    assert data["state"] == "succeeded"
    assert data["reason"] is None
    assert data["cost"] == {"credits": "14", "stars": 12}
    assert data["kie_task_id"]
    assert data["generation_id"].startswith("gen_")
    [path] = data["files"]
    saved = Path(path)
    assert saved.parent == cli.out
    assert "a-lighthouse-at-dawn" in saved.name
    assert saved.read_bytes().startswith(PNG_SIGNATURE)
    assert len(data["urls"]) == 1
    assert "built-in KIE sandbox" in result.stderr


def test_invalid_input_fails_before_anything_is_sent_to_kie(cli):
    result, data = run_json(cli, "flux-2/flex-text-to-image", "x", "--set", "resolution=8K")
    assert result.exit_code == 2
    assert (data["state"], data["reason"], data["generation_id"]) == (
        "rejected",
        "invalid_input",
        None,
    )
    assert "resolution" in data["message"]
    assert sandbox_tasks(cli) == []


def test_a_missing_required_input_without_a_terminal_fails_clearly(cli):
    result, data = run_json(cli, "flux-2/flex-image-to-image", "make it night")
    assert result.exit_code == 2
    assert data["reason"] == "missing_input"
    assert "input_urls" in data["message"]


def test_a_failure_at_kie_exits_1_with_its_reason(cli):
    result, data = run_json(cli, "flux-2/flex-text-to-image", "a cat [nsfw]")
    assert result.exit_code == 1
    assert (data["state"], data["reason"]) == ("failed", "content_policy")
    assert data["files"] == []


def test_an_unknown_model_is_rejected(cli):
    result, data = run_json(cli, "no/such-model", "x")
    assert result.exit_code == 2
    assert data["reason"] == "model_unknown"


def test_local_files_are_uploaded_and_lists_built_by_repeating_set(cli, photo):
    result, data = run_json(
        cli,
        "flux-2/flex-image-to-image",
        "make it night",
        "--set",
        f"input_urls=@{photo}",
        "--set",
        f"input_urls=@{photo}",
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("tasks", "show", data["generation_id"], "--json").stdout)
    urls = shown["input"]["input_urls"]
    assert len(urls) == 2
    assert all(url.startswith("http://127.0.0.1:") for url in urls)


def test_a_video_priced_per_second_is_quoted_by_its_measured_length(cli, tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(mp4("a clip", seconds=3))
    result, data = run_json(cli, "topaz/video-upscale", "--set", f"video_url=@{clip}")
    assert result.exit_code == 0, result.output
    assert data["cost"] == {"credits": "24", "stars": 20}  # 3 s x 8 credits, not 60 s
    odd = tmp_path / "odd.mp4"
    odd.write_bytes(b"not a video")
    result, data = run_json(cli, "topaz/video-upscale", "--set", f"video_url=@{odd}")
    assert result.exit_code == 0, result.output
    assert data["cost"] == {"credits": "480", "stars": 384}  # unmeasured: the longest case


def test_a_file_of_the_wrong_kind_or_missing_is_rejected(cli, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result, data = run_json(
        cli, "flux-2/flex-image-to-image", "x", "--set", f"input_urls=@{notes}"
    )
    assert (result.exit_code, data["reason"]) == (2, "unsupported_file")
    result, data = run_json(
        cli, "flux-2/flex-image-to-image", "x", "--set", "input_urls=@/no/such.png"
    )
    assert (result.exit_code, data["reason"]) == (2, "invalid_input")
    assert sandbox_tasks(cli) == []


def test_a_double_at_sign_is_a_literal_value(cli):
    result, data = run_json(cli, "flux-2/flex-text-to-image", "--set", "prompt=@@home studio")
    assert result.exit_code == 0, result.output
    shown = json.loads(cli("tasks", "show", data["generation_id"], "--json").stdout)
    assert shown["input"]["prompt"] == "@home studio"


def test_text_output_lists_the_saved_files(cli):
    result = cli(
        "generate", "flux-2/flex-text-to-image", "a red fox", "--yes", "--out", str(cli.out)
    )
    assert result.exit_code == 0, result.output
    assert "✓" in result.stdout
    assert str(cli.out) in result.stdout


def test_the_wizard_asks_for_what_is_missing_and_confirms(cli, photo):
    answers = "\n".join([str(photo), "", "make it snow", "", "2", "y"]) + "\n"
    result = cli(
        "generate",
        "flux-2/flex-image-to-image",
        "--out",
        str(cli.out),
        interactive=True,
        input=answers,
    )
    assert result.exit_code == 0, result.output
    assert "Step 1/4" in result.stderr
    assert "2K" in result.stderr
    history = json.loads(cli("history", "--json").stdout)
    assert history[0]["prompt"] == "make it snow"


def test_history_search_and_debug_show_the_local_log(cli):
    run_json(cli, "flux-2/flex-text-to-image", "a blue whale")
    _, failed = run_json(cli, "flux-2/flex-text-to-image", "a green owl [fail]")
    rows = json.loads(cli("history", "--search", "whale", "--json").stdout)
    assert [row["prompt"] for row in rows] == ["a blue whale"]
    chain = cli("debug", failed["generation_id"])
    assert chain.exit_code == 0
    assert "generation.failed" in chain.stdout
    assert "provider_failed" in chain.stdout
    assert cli("debug", "nothing-here").exit_code == 2


def test_db_migrate_and_status(cli):
    status = cli("db", "status")
    assert status.exit_code == 1
    assert "Pending: 0001_initial" in status.stdout
    assert "Applied 0001_initial" in cli("db", "migrate").stdout
    assert "up to date" in cli("db", "migrate").stdout
    assert cli("db", "status").exit_code == 0


def test_credits_come_from_the_sandbox_without_a_key(cli):
    result = cli("credits")
    assert result.exit_code == 0
    assert "credits (KIE sandbox)" in result.stdout


@pytest.mark.parametrize(
    ("model_id", "args", "signature", "suffix"),
    [
        ("bytedance/seedance-2-mini", ["waves at dusk", "--set", "duration=4"], b"ftyp", ".mp4"),
        ("elevenlabs/text-to-speech-turbo-2-5", ["Hello from kiebot"], b"WAVE", ".wav"),
    ],
)
def test_video_and_audio_are_saved_as_files_of_their_kind(cli, model_id, args, signature, suffix):
    result, data = run_json(cli, model_id, *args)
    assert result.exit_code == 0, result.output
    [path] = data["files"]
    assert path.endswith(suffix)
    assert signature in Path(path).read_bytes()[:16]


def test_an_unreachable_store_is_one_clear_line_not_a_traceback(cli):
    result = cli("history", env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"})
    assert result.exit_code == 1
    assert "storage" in result.stderr.lower()
    assert "Traceback" not in result.output


async def test_db_commands_and_a_generation_work_on_postgresql(cli, pg_admin_dsn):
    from tests.pg.databases import cloned_database

    async with cloned_database(pg_admin_dsn, None) as dsn:  # an empty database
        env = {"DATABASE_URL": dsn}
        status = await asyncio.to_thread(cli, "db", "status", env=env)
        assert status.exit_code == 1
        assert "Pending: 0001_initial" in status.stdout
        migrated = await asyncio.to_thread(cli, "db", "migrate", env=env)
        applied = ", ".join(migration.name for migration in pg_migrations())
        assert applied.startswith("0001_initial, 0002_favorites, ")
        assert f"Applied {applied} to PostgreSQL" in " ".join(migrated.stdout.split())
        assert (await asyncio.to_thread(cli, "db", "status", env=env)).exit_code == 0
        result = await asyncio.to_thread(
            cli,
            "generate",
            "flux-2/flex-text-to-image",
            "a pg fox",
            "--json",
            "--out",
            str(cli.out),
            env=env,
        )
        assert result.exit_code == 0, result.output
        rows = json.loads((await asyncio.to_thread(cli, "history", "--json", env=env)).stdout)
        assert [row["prompt"] for row in rows] == ["a pg fox"]


@pytest.mark.parametrize(
    "args",
    [
        ("promo", "list"),
        ("promo", "create", "CODE", "--stars", "5"),
        ("payments", "list"),
        ("generations", "refund", "gen_1", "--reason", "x"),
        ("pricing", "margin"),
        ("users", "grant", "1", "5", "--reason", "x"),
    ],
)
def test_operator_commands_refuse_the_local_store(cli, args):
    result = cli(*args, env={"DATABASE_URL": ""})
    assert result.exit_code == 2, result.output
    assert "DATABASE_URL is not set" in result.output
    assert not (cli.home / "kiebot.sqlite3").exists()
