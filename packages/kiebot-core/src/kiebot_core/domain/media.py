"""Measuring the user's media: how long an audio or video file plays.

Prices per second of an input's length are quoted from the file itself (ARCHITECTURE.md,
"Catalog rules"); when a file cannot be measured, the quote stays at the longest case.
"""

import io
import math
from decimal import Decimal

import mutagen


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
