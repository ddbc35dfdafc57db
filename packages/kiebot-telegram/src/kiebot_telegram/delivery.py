"""``TelegramResultDelivery``: finished results into the user's chat, with Telegram's size rules.

    result file          how it is sent
    any, by URL          first choice when ``send_by_url`` (Telegram fetches ≤ 5 MB photos,
                         ≤ 20 MB others); on refusal it falls back to an upload
    photo ≤ 10 MB        uploaded as a photo (refused dimensions: as a document)
    photo > 10 MB        uploaded as a document
    video/audio ≤ 50 MB  uploaded as video / audio
    anything > 50 MB     a message with the link
    refused as too large a message with the link (Telegram's 413 despite the size check)

Falling back to a document or a link is recorded as an event of the generation's chain
(``delivery.document``, ``delivery.link``), so ``/debug`` can say why a result looks as it does.

What went where is returned as ``<kind>:<file_id>`` references, so history re-sends a result
by ``file_id`` long after the provider's URL expired.
"""

import ipaddress
import json
import logging
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Protocol
from urllib.parse import urlsplit

import attrs
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramEntityTooLarge
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message

from kiebot_core.domain.catalog import JsonValue, ResultKind
from kiebot_core.domain.errors import DeliveryError
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.telemetry import Event, EventKind, safe_text
from kiebot_core.domain.texts import Language
from kiebot_core.ports.delivery import ResultDelivery
from kiebot_core.ports.runtime import Clock, SystemClock
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_core.use_cases.generation import MAX_REFUND_REASON, RegistrySource
from kiebot_telegram.formatting import MAX_TEXT, clip, escape
from kiebot_telegram.messaging import edit_by_id
from kiebot_telegram.progress import StatusBoard, StatusRef, find_status_message, user_language
from kiebot_telegram.texts import Msg, t
from kiebot_telegram.views import (
    failure_view,
    model_title,
    result_caption,
    result_markup,
    status_view,
    too_large_text,
)

_log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_RESULTS = 10

PHOTO, VIDEO, AUDIO, DOCUMENT, TEXT, LINK = "photo", "video", "audio", "document", "text", "link"
_MEDIA_OF_RESULT = {
    ResultKind.IMAGE_URLS: PHOTO,
    ResultKind.VIDEO_URLS: VIDEO,
    ResultKind.AUDIO_URLS: AUDIO,
    ResultKind.OBJECT: DOCUMENT,
}
_MEDIA_OF_SUFFIX = {
    ".png": PHOTO,
    ".jpg": PHOTO,
    ".jpeg": PHOTO,
    ".webp": PHOTO,
    ".mp4": VIDEO,
    ".mov": VIDEO,
    ".webm": VIDEO,
    ".mp3": AUDIO,
    ".wav": AUDIO,
    ".ogg": AUDIO,
    ".m4a": AUDIO,
}
_RESENDABLE = frozenset({PHOTO, VIDEO, AUDIO, DOCUMENT})
_DEFAULT_NAME = {PHOTO: "result.png", VIDEO: "result.mp4", AUDIO: "result.mp3"}


class ResultFetchError(Exception):
    """A result file could not be downloaded from the provider."""


class ResultTooLargeError(ResultFetchError):
    """A result file is larger than Telegram accepts from a bot."""


class ResultFetcher(Protocol):
    """Downloads result files (the provider's URLs)."""

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """The file at ``url``.

        Raises ``ResultTooLargeError`` past ``max_bytes`` and ``ResultFetchError`` on any
        other failure.
        """
        ...


def is_public_url(url: str) -> bool:
    """False for a URL that is not http(s) or names this machine or a private network.

    Only literal addresses and ``localhost`` are recognized; the provider's result URLs are
    the only ones fetched, so this guards against a bad one, not against DNS tricks.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in {"http", "https"} or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


class SessionFetcher(ResultFetcher):
    """Downloads through the bot's own HTTP session (aiogram's ``stream_content``)."""

    def __init__(self, bot: Bot, *, timeout_s: int = 120, allow_private: bool = False) -> None:
        """Fetch with ``bot``'s session, ``timeout_s`` per file.

        Private and loopback addresses are refused unless ``allow_private`` (the sandbox).
        """
        self._bot = bot
        self._timeout_s = timeout_s
        self._allow_private = allow_private

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        if not self._allow_private and not is_public_url(url):
            raise ResultFetchError("refused: not a public http(s) URL")
        try:
            return await self._collect(url, max_bytes)
        except ResultFetchError:
            raise
        except Exception as error:  # noqa: BLE001  # any transport failure is one outcome
            status = getattr(error, "status", None)
            raise ResultFetchError(f"{type(error).__name__} (HTTP {status})") from None

    async def _collect(self, url: str, max_bytes: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in self._bot.session.stream_content(url, timeout=self._timeout_s):
            size += len(chunk)
            if size > max_bytes:
                raise ResultTooLargeError(f"result over {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _media_of(url: str, kind: ResultKind | None) -> str:
    if kind is not None:
        return _MEDIA_OF_RESULT[kind]
    return _MEDIA_OF_SUFFIX.get(PurePosixPath(urlsplit(url).path).suffix.lower(), DOCUMENT)


def _file_name(url: str, media: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name
    return name if name and "." in name else _DEFAULT_NAME.get(media, "result.bin")


def file_ref(media: str, message: Message) -> str:
    """``<kind>:<file_id>`` of the file ``message`` carries (the kind Telegram made of it)."""
    if message.photo:
        return f"{PHOTO}:{message.photo[-1].file_id}"
    for kind, item in (
        (VIDEO, message.video),
        (AUDIO, message.audio),
        (DOCUMENT, message.document),
        (VIDEO, message.animation),
        (AUDIO, message.voice),
    ):
        if item is not None:
            return f"{kind}:{item.file_id}"
    return f"{TEXT if media == TEXT else LINK}:{message.message_id}"


async def send_media(
    bot: Bot,
    media: str,
    chat_id: int,
    file: BufferedInputFile | str,
    *,
    caption: str | None,
    markup: InlineKeyboardMarkup | None,
) -> Message:
    """Send one photo / video / audio / document (an upload, a URL or a file id)."""
    match media:
        case "photo":
            return await bot.send_photo(chat_id, file, caption=caption, reply_markup=markup)
        case "video":
            return await bot.send_video(chat_id, file, caption=caption, reply_markup=markup)
        case "audio":
            return await bot.send_audio(chat_id, file, caption=caption, reply_markup=markup)
        case _:
            return await bot.send_document(chat_id, file, caption=caption, reply_markup=markup)


async def resend(
    bot: Bot, chat_id: int, refs: Sequence[str], caption: str, markup: InlineKeyboardMarkup
) -> int:
    """Send stored results again by ``file_id``; returns how many could be sent."""
    sendable = [
        (media, file_id)
        for media, _, file_id in (ref.partition(":") for ref in refs)
        if media in _RESENDABLE and file_id
    ]
    for index, (media, file_id) in enumerate(sendable):
        last = index == len(sendable) - 1
        await send_media(
            bot,
            media,
            chat_id,
            file_id,
            caption=caption if last else None,
            markup=markup if last else None,
        )
    return len(sendable)


@attrs.frozen
class _Target:
    chat_id: int
    status: StatusRef | None
    language: Language
    title: str
    kind: ResultKind | None


class TelegramResultDelivery(ResultDelivery):
    """Sends results and failure notices to the user's chat; Telegram errors → DeliveryError."""

    def __init__(
        self,
        bot: Bot,
        store: UnitOfWorkFactory,
        registry: RegistrySource,
        fetcher: ResultFetcher,
        *,
        board: StatusBoard | None = None,
        send_by_url: bool = False,
        clock: Clock | None = None,
    ) -> None:
        """Deliver with ``bot``; ``send_by_url`` first lets Telegram fetch the provider's URL.

        Leave ``send_by_url`` off when the provider's URLs are not public (the sandbox).
        """
        self._bot = bot
        self._store = store
        self._registry = registry
        self._fetcher = fetcher
        self._board = board
        self._send_by_url = send_by_url
        self._clock: Clock = clock or SystemClock()

    async def _record(self, generation: Generation, kind: str, **payload: JsonValue) -> None:
        """Add a delivery step to the generation's chain (never fails the delivery)."""
        event = Event(
            correlation_id=generation.correlation_id,
            kind=kind,
            at=self._clock.now(),
            user_id=generation.user_id,
            generation_id=generation.id,
            payload=payload,
        )
        try:
            async with self._store() as uow:
                await uow.events.append(event)
                await uow.commit()
        except Exception as error:  # noqa: BLE001  # telemetry never fails a delivery
            _log.warning("delivery event of %s not stored: %r", generation.id, error)

    async def _target(self, generation: Generation) -> _Target:
        async with self._store() as uow:
            language = await user_language(uow, generation.user_id)
            status = await find_status_message(uow, generation)
        model = (await self._registry()).get(generation.model_id)
        return _Target(
            chat_id=status.chat_id if status is not None else generation.user_id,
            status=status,
            language=language,
            title=model_title(model, generation.model_id, language),
            kind=model.result_kind if model is not None else None,
        )

    async def deliver(self, generation: Generation) -> tuple[str, ...]:
        target = await self._target(generation)
        try:
            refs = await self._send_results(generation, target)
        except TelegramAPIError as error:
            raise DeliveryError(f"{type(error).__name__}: {error.message}") from None
        except ResultFetchError as error:
            raise DeliveryError(f"result download failed: {error}") from None
        await self._close_status(attrs.evolve(generation, state=GenerationState.SUCCEEDED), target)
        return refs

    async def report_failure(self, generation: Generation) -> None:
        target = await self._target(generation)
        view = failure_view(target.language, target.title, generation)
        await self._close_status(generation, target)
        try:
            await self._bot.send_message(target.chat_id, view.text, reply_markup=view.markup)
        except TelegramAPIError as error:
            raise DeliveryError(f"{type(error).__name__}: {error.message}") from None

    async def report_refund(self, generation: Generation, stars: int, reason: str) -> None:
        target = await self._target(generation)
        text = t(
            target.language,
            Msg.REFUNDED_BY_OPERATOR,
            stars=stars,
            model=target.title,
            reason=escape(clip(reason, MAX_REFUND_REASON)),
        )
        try:
            await self._bot.send_message(target.chat_id, text)
        except TelegramAPIError as error:
            raise DeliveryError(f"{type(error).__name__}: {error.message}") from None

    async def _close_status(self, generation: Generation, target: _Target) -> None:
        if self._board is not None:
            self._board.forget(generation.id)
        if target.status is None:
            return
        view = status_view(target.language, target.title, generation)
        try:
            await edit_by_id(self._bot, target.status.chat_id, target.status.message_id, view)
        except TelegramAPIError as error:
            _log.info("status of %s not closed: %s", generation.id, error.message)

    async def _send_results(self, generation: Generation, target: _Target) -> tuple[str, ...]:
        caption = result_caption(target.language, target.title, generation)
        markup = result_markup(target.language, generation)
        urls = generation.result_urls[:MAX_RESULTS]
        if not urls:
            return (await self._send_object(generation, target, caption, markup),)
        refs = []
        for index, url in enumerate(urls):
            last = index == len(urls) - 1
            refs.append(
                await self._send_one(
                    generation,
                    target,
                    url,
                    caption if last else None,
                    markup if last else None,
                )
            )
        return tuple(refs)

    async def _send_object(
        self, generation: Generation, target: _Target, caption: str, markup: InlineKeyboardMarkup
    ) -> str:
        body = json.dumps(generation.result_object, ensure_ascii=False, indent=2)
        room = MAX_TEXT - len(caption) - 32
        text = f"{caption}\n<pre>{escape(clip(body, room))}</pre>"
        message = await self._bot.send_message(target.chat_id, text, reply_markup=markup)
        return f"{TEXT}:{message.message_id}"

    async def _send_one(
        self,
        generation: Generation,
        target: _Target,
        url: str,
        caption: str | None,
        markup: InlineKeyboardMarkup | None,
    ) -> str:
        media = _media_of(url, target.kind)
        if self._send_by_url:
            try:
                message = await send_media(
                    self._bot, media, target.chat_id, url, caption=caption, markup=markup
                )
            except TelegramBadRequest as error:
                _log.info("Telegram refused the result URL (%s); uploading", error.message)
            else:
                return file_ref(media, message)
        try:
            data = await self._fetcher.fetch(url, max_bytes=MAX_UPLOAD_BYTES)
        except ResultTooLargeError:
            await self._record(
                generation,
                EventKind.DELIVERY_LINK,
                media=media,
                cause="size",
                limit_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
            )
            return await self._send_link(target, url, markup)
        if media == PHOTO and len(data) > MAX_PHOTO_UPLOAD_BYTES:
            media = DOCUMENT
        upload = BufferedInputFile(data, filename=_file_name(url, media))
        try:
            message = await send_media(
                self._bot, media, target.chat_id, upload, caption=caption, markup=markup
            )
        except TelegramEntityTooLarge as error:
            _log.info("Telegram refused the %s as too large (%s); sending a link", media, error)
            await self._record(
                generation,
                EventKind.DELIVERY_LINK,
                media=media,
                cause="refused",
                error=safe_text(error.message),
            )
            return await self._send_link(target, url, markup)
        except TelegramBadRequest as error:
            if media != PHOTO:
                raise
            _log.info("photo refused (%s); sending it as a document", error.message)
            await self._record(
                generation,
                EventKind.DELIVERY_DOCUMENT,
                media=media,
                error=safe_text(error.message),
            )
            message = await send_media(
                self._bot, DOCUMENT, target.chat_id, upload, caption=caption, markup=markup
            )
        return file_ref(media, message)

    async def _send_link(
        self, target: _Target, url: str, markup: InlineKeyboardMarkup | None
    ) -> str:
        text = too_large_text(target.language, url)
        message = await self._bot.send_message(target.chat_id, text, reply_markup=markup)
        return f"{LINK}:{message.message_id}"
