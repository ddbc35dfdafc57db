"""Delivery for the CLI: results downloaded to disk with meaningful names."""

import json
import mimetypes
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import attrs
import httpx

from kiebot_core.domain.catalog import ResultKind
from kiebot_core.domain.errors import DeliveryError
from kiebot_core.domain.generation import Generation
from kiebot_core.ports.delivery import ResultDelivery

_DEFAULT_SUFFIX = {
    ResultKind.IMAGE_URLS: ".png",
    ResultKind.VIDEO_URLS: ".mp4",
    ResultKind.AUDIO_URLS: ".wav",
    ResultKind.OBJECT: ".json",
}
_SLUG_WORDS = 6


def slug(text: str) -> str:
    """A short, file-name-safe slug of ``text`` (``a Red fox!`` → ``a-red-fox``)."""
    words = re.findall(r"[^\W_]+", text.lower())[:_SLUG_WORDS]
    return "-".join(words)[:48].strip("-")


def base_name(generation: Generation) -> str:
    """``<date>-<model>-<prompt words>-<generation id>``: sortable and recognizable."""
    prompt = generation.input.get("prompt") or generation.input.get("text") or ""
    parts = [
        generation.created_at.strftime("%Y%m%d-%H%M%S"),
        slug(generation.model_id),
        slug(prompt) if isinstance(prompt, str) else "",
        generation.id,
    ]
    return "-".join(part for part in parts if part)


def _suffix(url: str, content_type: str | None, kind: ResultKind) -> str:
    from_url = PurePosixPath(urlsplit(url).path).suffix
    if from_url and len(from_url) <= 5:
        return from_url.lower()
    guessed = mimetypes.guess_extension((content_type or "").split(";")[0].strip())
    return guessed or _DEFAULT_SUFFIX[kind]


@attrs.define
class DiskDelivery(ResultDelivery):
    """Downloads every result file into ``out_dir``; object results are saved as ``.json``."""

    out_dir: Path
    result_kind_of: dict[str, ResultKind]
    """Model id → result kind (from the registry), for file suffixes."""
    http: httpx.AsyncClient

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        kind = self.result_kind_of.get(generation.model_id, ResultKind.IMAGE_URLS)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        name = base_name(generation)
        paths: list[Path] = []
        if generation.result_object is not None:
            target = self.out_dir / f"{name}.json"
            text = json.dumps(generation.result_object, ensure_ascii=False, indent=2)
            target.write_text(text + "\n", encoding="utf-8")
            paths.append(target)
        for index, url in enumerate(generation.result_urls, start=1):
            try:
                response = await self.http.get(url)
                response.raise_for_status()
            except httpx.HTTPError as error:
                raise DeliveryError(f"download {index} failed: {type(error).__name__}") from None
            suffix = _suffix(url, response.headers.get("content-type"), kind)
            numbered = f"-{index}" if len(generation.result_urls) > 1 else ""
            target = self.out_dir / f"{name}{numbered}{suffix}"
            target.write_bytes(response.content)
            paths.append(target)
        return tuple(str(path) for path in paths)

    async def report_failure(self, generation: Generation) -> None:
        """Nothing to send: the command prints the outcome of its own generation."""

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        """Nothing to send: the CLI never charges Stars, so it never refunds them."""
