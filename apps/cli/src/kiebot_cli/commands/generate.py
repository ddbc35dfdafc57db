"""``kiebot generate``: one generation from a terminal or a script."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kiebot_cli.context import CliContext


def generate(
    ctx: typer.Context,
    model_id: Annotated[str, typer.Argument(help="A model id from `kiebot models list`.")],
    prompt: Annotated[
        str | None, typer.Argument(help="Fills `prompt` (or `text`, or the first text input).")
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="NAME=VALUE; repeat a NAME for lists; @path uploads a file, @@ escapes @.",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Run without asking (no wizard, no confirm).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[Path, typer.Option("--out", help="Where results are saved.")] = Path(
        "kiebot-out"
    ),
) -> None:
    """Run one generation: validate, confirm, submit, wait, and save the result."""
    from kiebot_cli.generation import run

    context: CliContext = ctx.obj
    sets_given = list(sets or ())
    code = run(
        context,
        model_id=model_id,
        prompt=prompt,
        sets=sets_given,
        yes=yes,
        as_json=as_json,
        out=out,
    )
    raise typer.Exit(code)
