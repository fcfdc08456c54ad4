"""Real images for the catalog: event QR codes (segno), speaker portraits and sponsor logos (tiny PNG writer).

Portraits and logos are drawn from a hash of the id, so the same catalog always serves the same bytes, with no
imaging library: a PNG is a signature, an IHDR, zlib-compressed scanlines and an IEND.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import segno

__all__ = ["PNG_SIGNATURE", "png", "event_banner", "qr_code", "speaker_portrait", "sponsor_logo"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_WHITE = (255, 255, 255)
_PAPER = (242, 242, 240)
_INK = (64, 64, 72)

RGB = tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG from ``height`` rows of ``3 * width`` bytes each."""
    if len(rows) != height or any(len(r) != 3 * width for r in rows):
        raise ValueError(f"expected {height} rows of {3 * width} bytes")
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (None) on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _grid_png(cells: list[list[RGB]], cell_px: int, margin_px: int, background: RGB) -> bytes:
    """A PNG of a grid of coloured cells, each ``cell_px`` square, inside a ``margin_px`` border."""
    width = len(cells[0]) * cell_px + 2 * margin_px
    edge = bytes(background) * margin_px
    blank = bytes(background) * width
    rows = [blank] * margin_px
    for line in cells:
        row = edge + b"".join(bytes(colour) * cell_px for colour in line) + edge
        rows.extend([row] * cell_px)
    rows.extend([blank] * margin_px)
    return png(width, len(rows), rows)


def _colour(digest: bytes) -> RGB:
    """A saturated, mid-dark colour from three digest bytes (readable on white)."""
    r, g, b = digest[0], digest[1], digest[2]
    top = max(r, g, b) or 1
    return (r * 190 // top, g * 190 // top, b * 190 // top)


def speaker_portrait(speaker_id: str, size_px: int = 160) -> bytes:
    """A 5×5 mirrored identicon for the speaker (square PNG of ``size_px``)."""
    digest = hashlib.sha256(speaker_id.encode()).digest()
    colour = _colour(digest)
    bits = int.from_bytes(digest[3:7], "big")
    cells: list[list[RGB]] = []
    for y in range(5):
        half = [colour if bits >> (y * 3 + x) & 1 else _PAPER for x in range(3)]
        cells.append(half + half[1::-1])
    cell_px = size_px // 6
    return _grid_png(cells, cell_px, (size_px - 5 * cell_px) // 2, _PAPER)


def sponsor_logo(sponsor_id: str, cell_px: int = 12) -> bytes:
    """A wordmark-like logo: a 4×4 mirrored mark in the brand colour, then bars of 'text' (PNG, about 3:1)."""
    digest = hashlib.sha256(sponsor_id.encode()).digest()
    colour = _colour(digest)
    bits = int.from_bytes(digest[3:5], "big")
    columns = 22
    cells: list[list[RGB]] = []
    for y in range(6):
        mark: list[RGB] = [_WHITE] * 6
        if 1 <= y <= 4:
            half = [colour if bits >> ((y - 1) * 2 + x) & 1 or x == 0 else _WHITE for x in range(2)]
            mark = [_WHITE, *half, *half[::-1], _WHITE]
        text: list[RGB] = [_WHITE] * (columns - 6)
        if y in (2, 3):
            length = 8 + digest[7 + y] % 7 if y == 2 else 5 + digest[7 + y] % 6
            text = [_INK if x < length else _WHITE for x in range(columns - 6)]
        cells.append(mark + text)
    return _grid_png(cells, cell_px, cell_px, _WHITE)


def event_banner(event_id: str, cell_px: int = 16) -> bytes:
    """A dark banner for the event (PNG, 3:1): a night-sky ground with a few shapes in a deep shade of the
    event's colour. Portals lay the event's name over it in white (the v2.0 sample's event header), so every
    pixel stays dark enough for white text: its contrast with white is at least 7:1 (WCAG AAA)."""
    digest = hashlib.sha256(event_id.encode()).digest()
    r, g, b = _colour(digest)
    ground: RGB = (18, 22, 36)
    shade: RGB = (ground[0] + r // 5, ground[1] + g // 5, ground[2] + b // 5)  # at most 38 over the ground
    columns, lines = 30, 10
    bits = int.from_bytes(digest[3:11], "big")
    cells = [[shade if (x + y) % 5 == 0 and bits >> ((x * 7 + y) % 64) & 1 else ground for x in range(columns)]
             for y in range(lines)]
    return _grid_png(cells, cell_px, 0, ground)


def qr_code(url: str, scale: int = 6) -> bytes:
    """A QR code (PNG) encoding ``url``, with the standard four-module quiet zone."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
