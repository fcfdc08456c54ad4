"""Random ids for submissions: version-4 UUID strings drawn from the OS's random source in blocks.

``uuid.uuid4()`` makes one ``os.urandom`` system call per id; that call releases the GIL, and under a stampede
the event loop then waits for the model thread to hand it back before it can answer. A block of 256 ids costs
one call. Same randomness (the OS's CSPRNG), same format (RFC 4122 version 4).
"""

from __future__ import annotations

import os

__all__ = ["SubmissionIds"]

_BLOCK = 256


class SubmissionIds:
    """``next()`` gives a fresh random UUID string; one object per thread that draws ids (not locked)."""

    def __init__(self) -> None:
        self._raw = b""
        self._at = 0

    def next(self) -> str:
        if self._at >= len(self._raw):
            self._raw, self._at = os.urandom(16 * _BLOCK), 0
        raw = bytearray(self._raw[self._at:self._at + 16])
        self._at += 16
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
