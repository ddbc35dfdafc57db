"""The core wizard rendered with rich prompts, for a person at a terminal.

Only rendering lives here: which step comes next, what may be skipped, defaults, validation
and prices all come from ``kiebot_core.domain.wizard``. Words a person can type at any step:
``back``, ``skip``, ``default``, ``done`` (finish a list), ``all`` (skip all optional).
"""

from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

import attrs
from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt
from rich.table import Table

from kiebot_cli.answers import Upload, local_file
from kiebot_core.domain import wizard
from kiebot_core.domain.catalog import JsonValue, ModelSpec
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.pricing import PriceSettings, canonical
from kiebot_core.domain.reasons import reason_text
from kiebot_core.domain.texts import Language
from kiebot_core.domain.wizard import AskScreen, ConfirmScreen, StepKind, WizardState

Ask = Callable[[str], str]
"""Reads one line from the person (``Prompt.ask`` in production, a script in tests)."""


def _show_step(console: Console, screen: AskScreen, language: Language) -> None:
    spec = screen.input
    console.print(
        f"\n[bold]Step {screen.step}/{screen.total} · {escape(spec.ui.title(language))}[/bold]"
        f"  [dim]({spec.name})[/dim]"
    )
    console.print(escape(spec.ui.help(language)))
    example = spec.example(language)
    if example is not None:
        console.print(f"[dim]Example: {escape(example)}[/dim]")
    for number, option in enumerate(screen.options, start=1):
        mark = "✅ " if option.selected else "   "
        price = f"  [yellow]{option.stars} ⭐[/yellow]" if option.stars is not None else ""
        console.print(f"  {mark}{number}. {escape(option.label)}{price}")
    words = ["back"]
    if screen.can_skip:
        words.append("skip")
    if screen.can_use_default:
        words.append(f"default ({canonical(spec.default)})")
    if screen.kind is StepKind.MEDIA and spec.is_list:
        words.append("done (or Enter) when all files are added")
    words.append("all = skip all optional")
    console.print(f"[dim]Type {', '.join(words)}.[/dim]")


def _option_value(screen: AskScreen, text: str) -> JsonValue | str:
    if text.isdigit() and 1 <= int(text) <= len(screen.options):
        return screen.options[int(text) - 1].value
    return text


def _media_items(text: str) -> list[str]:
    """One path may contain spaces; otherwise paths and URLs are separated by spaces."""
    return [text.strip()] if Path(text.strip()).expanduser().is_file() else text.split()


async def _media(
    model: ModelSpec, state: WizardState, screen: AskScreen, text: str, upload: Upload
) -> WizardState | Rejected:
    urls: list[str] = []
    for item in _media_items(text):
        if item.startswith(("http://", "https://")):
            urls.append(item)
            continue
        found = local_file(screen.input, item)
        if isinstance(found, Rejected):
            return found
        urls.append(await upload(found.path, found.mime_type))
    if not screen.input.is_list:
        return wizard.answer_text(model, state, urls[0] if urls else "")
    for url in urls:
        added = wizard.add_item(model, state, url)
        if isinstance(added, Rejected):
            return added
        state = added
    return state


async def _answer(
    model: ModelSpec, state: WizardState, screen: AskScreen, text: str, upload: Upload
) -> WizardState | wizard.Exited | Rejected:
    word = text.strip().lower()
    controls: dict[str, Callable[[], WizardState | wizard.Exited | Rejected]] = {
        "back": lambda: wizard.back(state),
        "skip": lambda: wizard.skip(model, state),
        "all": lambda: wizard.skip_all_optional(model, state),
    }
    if screen.input.is_list:
        controls["done"] = lambda: wizard.finish_list(model, state)
    if screen.can_finish_list:
        controls[""] = controls["done"]
    if screen.can_use_default:
        controls["default"] = lambda: wizard.use_default(model, state)
        controls.setdefault("", controls["default"])
    elif screen.value is not None and screen.options:
        controls[""] = lambda: wizard.answer(model, state, screen.value)
    if word in controls:
        return controls[word]()
    if screen.kind is StepKind.MEDIA:
        return await _media(model, state, screen, text, upload)
    if screen.options:
        value = _option_value(screen, text.strip())
        return (
            wizard.answer_text(model, state, value)
            if isinstance(value, str)
            else wizard.answer(model, state, value)
        )
    return wizard.answer_text(model, state, text)


def confirmation_table(screen: ConfirmScreen, model: ModelSpec, language: Language) -> Table:
    """The parameter summary shown before a run."""
    table = Table(title=model.title(language), title_justify="left", show_header=False)
    table.add_column(style="cyan")
    table.add_column()
    for spec, value in screen.summary:
        table.add_row(spec.ui.title(language), escape("" if value is None else canonical(value)))
    return table


async def run_wizard(
    model: ModelSpec,
    preset: dict[str, JsonValue],
    *,
    console: Console,
    language: Language,
    prices: PriceSettings,
    upload: Upload,
    ask: Ask | None = None,
    durations: Mapping[str, Decimal] | None = None,
) -> dict[str, JsonValue] | None:
    """Ask for every missing input, then confirm; the answers, or None if the person quit.

    ``durations`` are the measured lengths of uploaded files by URL (the caller's ``upload``
    may add to it as files arrive); they make per-second prices exact.
    """
    read: Ask = ask or (
        lambda prompt: Prompt.ask(prompt, console=console, default="", show_default=False)
    )
    state = wizard.start(model, preset)
    while True:
        state = attrs.evolve(state, durations=dict(durations or {}))
        screen = wizard.screen(model, state, prices)
        if isinstance(screen, ConfirmScreen):
            console.print(confirmation_table(screen, model, language))
            if isinstance(screen.quote, Rejected):
                console.print(f"[red]{escape(reason_text(screen.quote.reason, language))}[/red]")
            else:
                console.print(f"Price: [bold]{screen.quote.credits}[/bold] KIE credits")
            choice = read(escape("Run it? [y]es / [e]dit NAME / [b]ack / [n]o")).strip()
            if choice.lower() in {"y", "yes"} and not isinstance(screen.quote, Rejected):
                return dict(state.answers)
            if choice.lower() in {"n", "no", "q", "quit"}:
                return None
            result: WizardState | wizard.Exited | Rejected
            if choice.lower().startswith("e"):
                result = wizard.edit(model, state, choice.partition(" ")[2].strip())
            else:
                result = wizard.back(state)
        else:
            _show_step(console, screen, language)
            result = await _answer(model, state, screen, read(">"), upload)
        if isinstance(result, wizard.Exited):
            return None
        if isinstance(result, Rejected):
            detail = f" ({escape(result.detail)})" if result.detail else ""
            console.print(f"[red]{escape(reason_text(result.reason, language))}[/red]{detail}")
            continue
        state = result
