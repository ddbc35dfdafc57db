import signal
import subprocess
import sys
from pathlib import Path

import httpx

SCRIPT = (
    "from kiebot_kie.sandbox.server import serve_forever\n"
    "serve_forever(fast=True, data_dir={!r})\n"
)


def test_serve_forever_prints_the_port_first_and_stops_on_sigterm(tmp_path: Path):
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(str(tmp_path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        word, port = process.stdout.readline().split()
        assert word == "PORT"
        response = httpx.get(
            f"http://127.0.0.1:{int(port)}/api/v1/chat/credit",
            headers={"Authorization": "Bearer any"},
            timeout=5,
        )
        assert response.json()["code"] == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert (tmp_path / "account.json").exists()
