"""Measuring media: how long an audio or video file plays (uploads and results).

Prices per second of an input's length are quoted from the file itself (ARCHITECTURE.md,
"Catalog rules"); when a file cannot be measured, the quote stays at the longest case.
"""

import asyncio
import io
import math
from decimal import Decimal

import mutagen

TIMED_MEDIA = frozenset({"audio", "video"})
"""MIME top-level types a price may depend on the length of."""


async def measure(data: bytes) -> Decimal | None:
    """``media_seconds`` off the event loop (parsing a large file takes a while)."""
    return await asyncio.to_thread(media_seconds, data)


def media_seconds(data: bytes) -> Decimal | None:
    """Whole seconds (rounded up) an audio or video file plays, or None when unreadable.

    Reads MP4/MOV/M4A, MP3, WAV, OGG, FLAC and the other formats mutagen knows.
    """
    try:
        found = mutagen.File(io.BytesIO(data))
    except Exception:  # noqa: BLE001  # outside input: any parser failure means "unknown"
        return None
    length = getattr(getattr(found, "info", None), "length", None)
    if not isinstance(length, int | float) or not math.isfinite(length) or length <= 0:
        return None
    return Decimal(math.ceil(length))
