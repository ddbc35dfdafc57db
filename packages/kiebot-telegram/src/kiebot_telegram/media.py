"""Files users send: what kind they are, and downloading them without leaking the bot token.

A Telegram file URL contains the bot token. It is built inside aiogram, used for one
download here, and never returned, logged or put into an exception: a failed download raises
:class:`TelegramFileError` with the HTTP status only.
"""

import io
import mimetypes

import attrs
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

from kiebot_core.domain.catalog import MediaKind

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
"""The Bot API lets bots download files up to 20 MB."""

_KIND_OF_MIME = {"image": MediaKind.IMAGE, "video": MediaKind.VIDEO, "audio": MediaKind.AUDIO}


class TelegramFileError(Exception):
    """A user's file could not be fetched from Telegram (the message never holds a URL)."""


@attrs.frozen(kw_only=True)
class IncomingFile:
    """A file in a user's message."""

    file_id: str
    kind: MediaKind | None
    """None for a document that is not an image, a video or audio."""
    mime_type: str
    filename: str
    size: int | None = None


def _kind_of_mime(mime: str) -> MediaKind | None:
    return _KIND_OF_MIME.get(mime.split("/", 1)[0])


def _name(mime: str, stem: str) -> str:
    extension = mimetypes.guess_extension(mime) or ".bin"
    return f"{stem}{extension}"


def incoming_file(message: Message) -> IncomingFile | None:
    """The file a message carries (the largest size of a photo), or None."""
    if message.photo:
        photo = message.photo[-1]
        return IncomingFile(
            file_id=photo.file_id,
            kind=MediaKind.IMAGE,
            mime_type="image/jpeg",
            filename="photo.jpg",
            size=photo.file_size,
        )
    if message.video is not None or message.animation is not None or message.video_note:
        media = message.video or message.animation or message.video_note
        assert media is not None  # noqa: S101  # one of the three is set
        mime = getattr(media, "mime_type", None) or "video/mp4"
        return IncomingFile(
            file_id=media.file_id,
            kind=MediaKind.VIDEO,
            mime_type=mime,
            filename=getattr(media, "file_name", None) or _name(mime, "video"),
            size=media.file_size,
        )
    if message.audio is not None or message.voice is not None:
        sound = message.audio or message.voice
        assert sound is not None  # noqa: S101  # one of the two is set
        mime = sound.mime_type or "audio/mpeg"
        return IncomingFile(
            file_id=sound.file_id,
            kind=MediaKind.AUDIO,
            mime_type=mime,
            filename=getattr(sound, "file_name", None) or _name(mime, "audio"),
            size=sound.file_size,
        )
    if message.document is not None:
        document = message.document
        mime = document.mime_type or "application/octet-stream"
        return IncomingFile(
            file_id=document.file_id,
            kind=_kind_of_mime(mime),
            mime_type=mime,
            filename=document.file_name or _name(mime, "file"),
            size=document.file_size,
        )
    return None


async def download(bot: Bot, file: IncomingFile) -> bytes:
    """The file's bytes, fetched with getFile and the (token-bearing) file URL.

    Raises:
        TelegramFileError: Telegram refused or the download failed; the message names the
            failure, never the URL.
    """
    try:
        info = await bot.get_file(file.file_id)
    except TelegramAPIError as error:
        raise TelegramFileError(f"getFile failed: {error.message}") from None
    if info.file_path is None:
        raise TelegramFileError("getFile gave no file path")
    buffer = io.BytesIO()
    try:
        await bot.download_file(info.file_path, destination=buffer, timeout=60)
    except Exception as error:  # noqa: BLE001  # its text may contain the file URL
        status = getattr(error, "status", None)
        raise TelegramFileError(
            f"download failed: {type(error).__name__} (HTTP {status})"
        ) from None
    data = buffer.getvalue()
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise TelegramFileError(f"file of {len(data)} bytes is over the download limit")
    return data
