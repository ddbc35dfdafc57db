"""Independent checks that bytes are valid media files of a kind."""

import io
import struct
import wave
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Walk every chunk (lengths and CRCs), inflate the pixels; return (width, height)."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG"
    offset, kinds, idat = len(PNG_SIGNATURE), [], b""
    width = height = 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + payload) & 0xFFFFFFFF == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", payload[:8])
        if kind == b"IDAT":
            idat += payload
        kinds.append(kind)
        offset += 12 + length
    assert kinds[0] == b"IHDR"
    assert kinds[-1] == b"IEND"
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)
    return width, height


def wav_seconds(data: bytes) -> float:
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as audio:
        assert audio.getnframes() > 0
        frames: int = audio.getnframes()
        rate: int = audio.getframerate()
    return frames / rate


def mp4_boxes(data: bytes) -> list[bytes]:
    """The top-level box types; their sizes must add up to the file."""
    assert data[4:8] == b"ftyp", "an MP4 starts with an ftyp box"
    offset, kinds = 0, []
    while offset < len(data):
        (size,) = struct.unpack(">I", data[offset : offset + 4])
        assert size >= 8
        kinds.append(data[offset + 4 : offset + 8])
        offset += size
    assert offset == len(data)
    return kinds
