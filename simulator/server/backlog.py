"""Journal writes that failed on a transient store error, written again after a backoff while the server runs.

A full disk, an I/O error or a locked database (SQLite's ``OperationalError``) can pass: the live model keeps
what it could not write — creations, and its other writes (an attempt, a dead letter, an expired purchase) — and
the journal's flush tries them again once they are due: first after ``first_s``, then twice as long after each
failure, up to ``cap_s``; a success starts over at ``first_s``. Anything else (a constraint violation, a row that
cannot be read back) no retry can fix: the caller dead-letters the registration with the reason instead.

Used on the model thread only; times are wall-clock seconds (``time.monotonic``), passed in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Backlog", "is_transient", "FIRST_WAIT_S", "MAX_WAIT_S"]

#: The first wait before a failed write is tried again, and the longest (doubling in between). The model
#: thread flushes at least once per simulated bin, so at time scale 1 a wait shorter than the bin rounds up.
FIRST_WAIT_S = 0.5
MAX_WAIT_S = 10.0

C = TypeVar("C")


def is_transient(error: BaseException) -> bool:
    """Whether a retry can fix this store error: SQLite's OperationalError (disk full, I/O error, database
    locked) can; a constraint violation, bad data or any other error cannot."""
    return isinstance(error, sqlite3.OperationalError)


class Backlog(Generic[C]):
    """Creations (of type ``C``) and other writes waiting to be written again, all due at one time."""

    def __init__(self, first_s: float = FIRST_WAIT_S, cap_s: float = MAX_WAIT_S) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self.wait_s = first_s
        self.due_s = 0.0
        self.creations: list[C] = []
        self.writes: list[tuple[str, Callable[[], object]]] = []  # (what it is for, the write)

    def __len__(self) -> int:
        return len(self.creations) + len(self.writes)

    def _failed(self, now_s: float) -> None:
        if now_s >= self.due_s:  # not waiting yet (a new failure, or a retry that failed): wait, longer each time
            self.due_s = now_s + self.wait_s
            self.wait_s = min(self.cap_s, self.wait_s * 2)

    def creations_failed(self, creations: list[C], now_s: float) -> None:
        if creations:
            self.creations.extend(creations)
            self._failed(now_s)

    def write_failed(self, what: str, write: Callable[[], object], now_s: float) -> None:
        self.writes.append((what, write))
        self._failed(now_s)

    def due_creations(self, now_s: float) -> list[C]:
        """The creations to write now (removed from the backlog), if they are due."""
        if not self.creations or now_s < self.due_s:
            return []
        creations, self.creations = self.creations, []
        return creations

    def due_writes(self, now_s: float) -> list[tuple[str, Callable[[], object]]]:
        if not self.writes or now_s < self.due_s:
            return []
        writes, self.writes = self.writes, []
        return writes

    def flushed(self) -> None:
        """A flush ended: with nothing left to write again, the next failure waits ``first_s`` again."""
        if not self.creations and not self.writes:
            self.wait_s = self.first_s
