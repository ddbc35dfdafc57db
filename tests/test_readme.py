import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_library_snippet_runs_as_printed():
    pattern = r"## Using kiebot-core as a library\n\n```python\n(.*?)```"
    snippet = re.search(pattern, README, re.DOTALL)
    assert snippet is not None
    result = subprocess.run(
        [sys.executable, "-c", snippet.group(1)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        lines[0] == "{'prompt': 'a lighthouse at dawn', 'aspect_ratio': '1:1', 'resolution': '2K'}"
    )
    assert lines[1] == "24 20"
    assert lines[2].endswith(" 12")


def test_the_readme_starts_with_the_two_commands():
    blocks = re.findall(r"```sh\n(.*?)```", README, re.DOTALL)
    assert blocks[0].strip().startswith("pip install uv && uv run kiebot generate ")
    assert blocks[1].strip() == "pip install uv && uv run pytest"
