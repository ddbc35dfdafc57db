"""From the command line to typed answers: PROMPT, ``--set NAME=VALUE`` and ``@path`` files.

``PROMPT`` fills the input named ``prompt``, else ``text``, else the first required string
input. ``--set`` values are parsed by the input's type (the core's ``parse_answer``); repeating
a name builds a list. A value starting with ``@`` is a local file that is uploaded through
KIE's file upload API before the run, and ``@@`` escapes a literal leading ``@``.
"""

import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import attrs

from kiebot_core.domain.catalog import InputKind, InputSpec, JsonValue, MediaKind, ModelSpec
from kiebot_core.domain.outcomes import Rejected
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.validation import parse_answer

Upload = Callable[[Path, str], Awaitable[str]]
"""Uploads a local file with its MIME type and returns the URL to send to KIE."""


@attrs.frozen
class LocalFile:
    """A ``@path`` value waiting to be uploaded."""

    path: Path
    mime_type: str


@attrs.frozen
class RawAnswers:
    """Answers as typed, before uploads: text per input name, files where ``@path`` was given."""

    values: dict[str, list[str | LocalFile]]


def prompt_input(model: ModelSpec) -> InputSpec | None:
    """The input the positional PROMPT fills."""
    for name in ("prompt", "text"):
        spec = model.input(name)
        if spec is not None:
            return spec
    return next(
        (s for s in model.inputs if s.required and s.kind is InputKind.STRING),
        None,
    )


def local_file(spec: InputSpec, text: str) -> LocalFile | Rejected:
    """The local file ``text`` names, checked to exist and to be of the input's media kind."""
    path = Path(text).expanduser()
    if not path.is_file():
        return Rejected(ReasonCode.INVALID_INPUT, spec.name, f"no such file: {text}")
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    expected: MediaKind | None = spec.media_kind
    if expected is not None and not mime_type.startswith(f"{expected}/"):
        return Rejected(
            ReasonCode.UNSUPPORTED_FILE, spec.name, f"{path.name} is not a {expected} file"
        )
    return LocalFile(path, mime_type)


def parse_command_line(
    model: ModelSpec, prompt: str | None, sets: Sequence[str]
) -> RawAnswers | Rejected:
    """Group ``--set`` values by input and resolve ``@path`` files (not yet uploaded)."""
    values: dict[str, list[str | LocalFile]] = {}
    if prompt is not None:
        target = prompt_input(model)
        if target is None:
            return Rejected(ReasonCode.INVALID_INPUT, None, f"{model.id} takes no text prompt")
        values[target.name] = [prompt]
    for assignment in sets:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        spec = model.input(name)
        if not equals or spec is None:
            detail = "expected NAME=VALUE" if not equals else f"{model.id} has no input {name}"
            return Rejected(ReasonCode.INVALID_INPUT, name or None, detail)
        item: str | LocalFile | Rejected
        if text.startswith("@@"):
            item = text[1:]
        elif text.startswith("@"):
            item = local_file(spec, text[1:])
        else:
            item = text
        if isinstance(item, Rejected):
            return item
        values.setdefault(name, []).append(item)
    return RawAnswers(values)


async def resolve(
    model: ModelSpec, raw: RawAnswers, upload: Upload
) -> dict[str, JsonValue] | Rejected:
    """Upload the files and parse every value by its input's type."""
    answers: dict[str, JsonValue] = {}
    for name, items in raw.values.items():
        spec = model.input(name)
        if spec is None:
            return Rejected(ReasonCode.INVALID_INPUT, name, f"{model.id} has no input {name}")
        texts = [
            await upload(item.path, item.mime_type) if isinstance(item, LocalFile) else item
            for item in items
        ]
        if not spec.is_list and len(texts) > 1:
            return Rejected(ReasonCode.INVALID_INPUT, name, "given more than once")
        parsed = parse_answer(spec, texts if spec.is_list else texts[0])
        if isinstance(parsed, Rejected):
            return parsed
        answers[name] = parsed
    return answers
