"""Small, real, valid media files drawn from a seed text (standard library only).

* :func:`png` - an RGB PNG whose colours and pattern follow the seed (so different prompts give
  different pictures), sized after an aspect ratio such as ``16:9``;
* :func:`wav` - a short 16-bit mono RIFF/WAVE tone whose pitch follows the seed;
* :func:`mp4` - a structurally valid ISO base media file (``ftyp``, ``moov`` with one empty
  video track, ``mdat``): players and probes recognize it as MP4, it has no decodable frames;
* :func:`result_object` - the JSON object a ``result_kind == object`` model returns.
"""

import hashlib
import io
import math
import struct
import wave
import zlib
from array import array
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LONG_SIDE = 96


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode("utf-8")).digest()


def _size(aspect_ratio: str | None) -> tuple[int, int]:
    try:
        width_part, height_part = (aspect_ratio or "1:1").split(":", 1)
        ratio = float(width_part) / float(height_part)
    except ValueError:
        ratio = 1.0
    if not math.isfinite(ratio) or ratio <= 0:
        ratio = 1.0
    if ratio >= 1:
        return _LONG_SIDE, max(8, round(_LONG_SIDE / ratio))
    return max(8, round(_LONG_SIDE * ratio)), _LONG_SIDE


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png(seed: str, aspect_ratio: str | None = None) -> bytes:
    """A PNG picture drawn from ``seed``: a gradient under a 4x4 grid of seeded tiles."""
    digest = _digest(seed)
    width, height = _size(aspect_ratio)
    base = digest[0:3]
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type: none
        tile_row = y * 4 // height
        for x in range(width):
            tile = digest[(tile_row * 4 + x * 4 // width) % 32]
            rows.extend(
                (
                    (base[0] + x * 255 // width + tile) % 256,
                    (base[1] + y * 255 // height + (tile >> 1)) % 256,
                    (base[2] + tile * 3) % 256,
                )
            )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"tEXt", b"Software\x00kiebot KIE sandbox")
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 6))
        + _chunk(b"IEND", b"")
    )


def wav(seed: str, seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A RIFF/WAVE tone (16-bit mono) whose pitch follows ``seed``."""
    digest = _digest(seed)
    frequency = 220 + digest[0] * 3
    samples = array(
        "h",
        (
            int(12000 * math.sin(2 * math.pi * frequency * n / rate))
            for n in range(int(seconds * rate))
        ),
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, bytes([version]) + flags.to_bytes(3, "big"), *parts)


_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def mp4(seed: str, seconds: int = 2) -> bytes:
    """A minimal MP4 (ISO BMFF): ``ftyp``, ``moov`` with one empty video track, ``mdat``."""
    digest = _digest(seed)
    timescale = 1000
    duration = seconds * timescale
    width, height = 320, 180
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isom", b"iso2", b"mp41")
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, timescale, duration),
        struct.pack(">IH", 0x00010000, 0x0100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIII", 0, 0, 1, 0),
        struct.pack(">I", duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _full_box(
        b"mdhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, timescale, duration),
        struct.pack(">HH", 0x55C4, 0),
    )
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = _full_box(b"vmhd", 0, 1, bytes(8))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 0)),
        _full_box(b"stts", 0, 0, struct.pack(">I", 0)),
        _full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
        _full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        _full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, _box(b"minf", vmhd, dinf, stbl)))
    udta = _box(b"udta", _box(b"kseh", digest))
    moov = _box(b"moov", mvhd, trak, udta)
    mdat = _box(b"mdat", digest * 8)
    return ftyp + moov + mdat


def result_object(seed: str, model_id: str) -> dict[str, Any]:
    """The ``resultObject`` a model with an object result answers in the sandbox."""
    return {
        "model": model_id,
        "text": f"Sandbox result for: {seed}"[:500],
        "fingerprint": _digest(seed).hex()[:16],
    }
