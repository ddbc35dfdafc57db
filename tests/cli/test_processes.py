"""The CLI as a real process: the README's main job, Ctrl-C then resume, the wizard on a pty."""

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.conftest import PNG_SIGNATURE

KIEBOT = [sys.executable, "-m", "kiebot_cli"]


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIE_", "KIEBOT_"))}
    return env | {"KIEBOT_HOME": str(home), "LANG": "C.UTF-8", "COLUMNS": "200"}


def test_the_readme_main_job_leaves_an_image_on_disk(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```sh\npip install uv && uv run (kiebot generate .*?)\n```", readme)
    assert command is not None
    args = [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', command.group(1))][1:]
    done = subprocess.run(
        [*KIEBOT, *args],
        cwd=tmp_path,
        env=environment(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [image] = (tmp_path / "kiebot-out").iterdir()
    assert image.read_bytes().startswith(PNG_SIGNATURE)
    assert str(image.name) in done.stdout


def test_ctrl_c_leaves_a_resumable_generation_that_tasks_resume_finishes(tmp_path):
    env = environment(tmp_path / "home")
    out = tmp_path / "out"
    running = subprocess.Popen(
        [
            *KIEBOT,
            "generate",
            "flux-2/flex-text-to-image",
            "a slow fox [slow]",
            "--yes",
            "--json",
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the task is at KIE (the sandbox keeps it)
        if list((tmp_path / "home" / "sandbox").rglob("task_*")):
            break
        time.sleep(0.05)
    running.send_signal(signal.SIGINT)
    stdout, stderr = running.communicate(timeout=30)
    assert running.returncode == 130, stderr
    interrupted = json.loads(stdout)
    assert interrupted["state"] == "cancelled"
    generation_id = interrupted["generation_id"]
    assert f"kiebot tasks resume {generation_id}" in interrupted["message"]
    resumed = subprocess.run(
        [*KIEBOT, "tasks", "resume", generation_id, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{generation_id}: succeeded" in resumed.stdout
    [image] = out.iterdir()
    assert image.read_bytes().startswith(PNG_SIGNATURE)
    again = subprocess.run(
        [*KIEBOT, "tasks", "resume"], env=env, capture_output=True, text=True, check=False
    )
    assert "Nothing to resume." in again.stdout


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def read_until(master: int, marker: str, seen: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while marker not in ANSI.sub("", "".join(seen)):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"never saw {marker!r} in {''.join(seen)[-2000:]!r}"
        ready, _, _ = select.select([master], [], [], remaining)
        if ready:
            try:
                seen.append(os.read(master, 65536).decode(errors="replace"))
            except OSError:
                return


def test_the_wizard_runs_on_a_real_terminal(tmp_path):
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [*KIEBOT, "generate", "flux-2/flex-text-to-image", "--out", str(tmp_path / "out")],
        env=environment(tmp_path / "home"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    seen: list[str] = []
    try:
        for marker, reply in [
            ("Step 1/3", "a lighthouse at dawn"),
            ("Step 2/3", "9:16"),
            ("Step 3/3", "2"),
            ("Run it?", "y"),
        ]:
            read_until(master, marker, seen)
            os.write(master, reply.encode() + b"\r")
        assert process.wait(timeout=60) == 0
        read_until(master, ".png", seen)
    finally:
        process.kill()
        os.close(master)
    text = "".join(seen)
    assert "20 ⭐" in text  # the 2K option shows its price
    [image] = (tmp_path / "out").iterdir()
    assert image.read_bytes().startswith(PNG_SIGNATURE)


def test_sandbox_serve_prints_its_port_and_answers_like_kie(tmp_path):
    import httpx

    server = subprocess.Popen(
        [*KIEBOT, "sandbox", "serve", "--fast", "--port", "0"],
        env=environment(tmp_path / "home"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline().split()
        assert first[0] == "PORT"
        base = f"http://127.0.0.1:{int(first[1])}"
        credit = httpx.get(f"{base}/api/v1/chat/credit", headers={"Authorization": "Bearer x"})
        assert credit.json()["code"] == 200
        unauthorized = httpx.get(f"{base}/api/v1/chat/credit")
        assert unauthorized.json()["code"] == 401
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=30)  # closes the pipes
    assert server.returncode == 0, errors
