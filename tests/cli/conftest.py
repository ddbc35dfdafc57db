from pathlib import Path

import pytest
from typer.testing import CliRunner

from kiebot_cli.main import make_app
from tests.pg.databases import pg_template

__all__ = ["pg_template"]


class Cli:
    """Runs ``kiebot`` the way a user does, against a fresh KIEBOT_HOME (SQLite + sandbox)."""

    def __init__(self, home: Path, out: Path) -> None:
        self.home = home
        self.out = out
        self.runner = CliRunner()

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, interactive=False, input=None
    ):
        environment = {"KIEBOT_HOME": str(self.home), "LANG": "C", "KIE_API_KEY": ""}
        return self.runner.invoke(
            make_app(interactive=interactive),
            list(args),
            env=environment | (env or {}),
            input=input,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home", tmp_path / "out")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A tiny valid PNG made by the sandbox's own drawing code."""
    from kiebot_kie.sandbox.media import png

    path = tmp_path / "cat photo.png"
    path.write_bytes(png("a cat"))
    return path
