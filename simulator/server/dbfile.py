"""The ``--db`` file before the store opens it: a bad file said in one line, and one server per database.

``check_database(path)`` reads, never writes: a missing directory, a file that cannot be read and written, a
file that is not SQLite, a truncated one, or another application's SQLite database is refused with one line
naming the file and what to do (``DatabaseRefused``). A new file (or an empty one) is fine: the store creates it.

``DatabaseLock(path)`` is an exclusive ``flock`` on ``<db>.lock``, held for as long as the server runs; the file
holds the owner's PID, so a second server on the same database is refused naming it (``DatabaseInUse``). The
kernel lets go of the lock when its process ends, even by ``kill -9``: a lock file left behind locks nothing.

    ServerError ─ ConfigurationError ─ DatabaseRefused ─ DatabaseInUse
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import struct
from pathlib import Path

from simulator.server.errors import ConfigurationError

__all__ = ["DatabaseRefused", "DatabaseInUse", "DatabaseLock", "check_database", "lock_path"]

_HEADER = b"SQLite format 3\x00"
_OWN_TABLE = "submissions"  # every Stampede database has it (store.py's schema)
_DELETE_IT = "choose another --db or delete it"


class DatabaseRefused(ConfigurationError):
    """The ``--db`` file cannot be served; the message names it and says what to do, on one line."""


class DatabaseInUse(DatabaseRefused):
    """Another process serves this database; ``pid`` is its process id (None when it could not be read)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


def check_database(path: str | Path) -> None:
    """Refuse a ``--db`` that cannot be served (see the module's docstring); writes nothing."""
    if str(path) == ":memory:":
        return
    path = Path(path)
    if not path.parent.is_dir():
        raise DatabaseRefused(f"{path}: the directory {path.parent} does not exist: create it, or choose another "
                              f"--db")
    if not path.exists():
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise DatabaseRefused(f"{path}: cannot create it, the directory {path.parent} is not writable: "
                                  f"choose another --db")
        return
    if not path.is_file():
        raise DatabaseRefused(f"{path}: not a file: choose another --db")
    try:
        with open(path, "r+b") as file:  # read and write, as the store will; nothing is written
            header = file.read(100)
    except OSError as exc:
        raise DatabaseRefused(f"{path}: cannot be opened for reading and writing ({exc.strerror}): make it "
                              f"writable, or choose another --db") from None
    if not header:
        return  # empty: the store makes it a database
    if len(header) < 100 or not header.startswith(_HEADER):
        raise DatabaseRefused(f"{path}: not a Stampede database (not SQLite at all): {_DELETE_IT}")
    _check_size(path, header)
    tables = _tables(path)
    if tables and _OWN_TABLE not in tables:
        shown = ", ".join(sorted(tables)[:3]) + (", …" if len(tables) > 3 else "")
        raise DatabaseRefused(f"{path}: not a Stampede database (another application's: tables {shown}): "
                              f"{_DELETE_IT}")


def _check_size(path: Path, header: bytes) -> None:
    """A file shorter than the pages its header counts was cut short (the count holds when the header's
    "version-valid-for" number equals its change counter: https://sqlite.org/fileformat.html#in_header_database_size)."""
    (page_size,) = struct.unpack(">H", header[16:18])
    page_size = 65536 if page_size == 1 else page_size
    change_counter, pages = struct.unpack(">II", header[24:32])
    (valid_for,) = struct.unpack(">I", header[92:96])
    if valid_for == change_counter and pages and path.stat().st_size < pages * page_size:
        raise DatabaseRefused(f"{path}: a truncated database ({path.stat().st_size} bytes of "
                              f"{pages * page_size}): {_DELETE_IT}")


def _tables(path: Path) -> set[str]:
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise DatabaseRefused(f"{path}: not a Stampede database, or a damaged one ({exc}): {_DELETE_IT}") from None


def lock_path(path: str | Path) -> Path:
    return Path(f"{path}.lock")


class DatabaseLock:
    """An exclusive lock on a database for one server (``acquire``/``release``, or ``with``)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.lock = lock_path(path)
        self._fd: int | None = None

    def acquire(self) -> DatabaseLock:
        """Take the lock, or raise ``DatabaseInUse`` naming the process that holds it."""
        while True:
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                owner = f"process {pid}" if pid is not None else "another process"
                raise DatabaseInUse(f"{self.path}: already served by {owner} (lock {self.lock}): stop that server, "
                                    f"or choose another --db", pid) from None
            # the owner before us may have removed the file between our open and our lock: lock the file on disk
            with contextlib.suppress(FileNotFoundError):
                if os.stat(self.lock).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.lock.unlink()  # while still holding it: a waiting server then locks a file of its own
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
