"""WAL checkpoints on a thread of their own, so the model thread never waits for them.

SQLite's default checkpoints run inside the COMMIT that takes the write-ahead log past 1,000 pages: that commit
copies the log into the database file and fsyncs it (``synchronous=NORMAL`` fsyncs only there). In
benchmarks/e2e.py those commits were about half the store's commit time, all of it on the model thread. The
store turns automatic checkpoints off on its writer and a :class:`Checkpointer` runs passive ones from its own
connection: a passive checkpoint never blocks the writer, and the sqlite3 module lets go of the GIL while it
copies and syncs.

Durability is unchanged: a commit is durable once it is in the log (against a process crash under ``NORMAL``,
against power loss too under ``FULL``); a checkpoint only moves committed pages into the database file, and one
cut short by a crash is finished by the next connection. The log is restarted from its beginning by the first
commit after a checkpoint that copied it all, so it stays near ``pages`` long.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

__all__ = ["Checkpointer"]

_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


class Checkpointer:
    """Checkpoints the WAL of the database at ``path`` after the writer :meth:`nudge`\\ s it (after a commit), at
    most once every ``interval_s``: the fsyncs are bounded in time, not by the log's length."""

    def __init__(self, path: str | Path, *, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.checkpoints = 0  # checkpoints that copied pages (for tests)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stampede-checkpoint", daemon=True)
        self._thread.start()

    def nudge(self) -> None:
        """(the writer, after a commit) There is something new in the log."""
        if not self._wake.is_set():
            self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                _, _, copied = self._db.execute(_CHECKPOINT).fetchone()
            except sqlite3.Error:  # e.g. busy: the next nudge tries again; the log is only longer meanwhile
                continue
            if copied > 0:
                self.checkpoints += 1
            self._stop.wait(self.interval_s)  # at most one checkpoint per interval

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread and close its connection (before the writer closes: its close checkpoints the rest)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self._db.close()
