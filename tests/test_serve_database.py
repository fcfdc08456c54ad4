"""The ``--db`` file (issue 25, items 3 and 5): one server per database, and a bad file said in one line.

A second ``stampede serve`` on a database another one serves is refused in one line naming the first one's PID
(exit 2); a missing directory, a file that is not SQLite, a truncated one or another application's database is
refused in one line naming the file and what to do (exit 2), and nothing is written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from live_support import STAMPEDE, ServeProcess

from simulator.server.dbfile import DatabaseInUse, DatabaseLock, DatabaseRefused, check_database
from simulator.server.store import Store


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def _a_store(path: Path) -> None:
    with Store(path) as store:
        for i in range(200):  # a few pages, so that a cut one is missing some
            store.accept(f"s{i}", "event", '{"attendees": []}' + " " * 200, float(i))


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """kind -> (the --db path, what the one line must say)."""
    text = tmp_path / "notes.db"
    text.write_text("these are my notes, not a database\n" * 10)
    truncated = tmp_path / "cut.db"
    _a_store(truncated)
    truncated.write_bytes(truncated.read_bytes()[:8192])
    foreign = tmp_path / "crm.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    return {
        "missing directory": (tmp_path / "no" / "such" / "dir" / "live.db", "does not exist"),
        "not SQLite": (text, "not a Stampede database"),
        "truncated": (truncated, "truncated"),
        "another application's": (foreign, "another application's: tables customers"),
    }


@pytest.mark.parametrize("kind", ["missing directory", "not SQLite", "truncated", "another application's"])
def test_a_bad_database_is_refused_naming_the_file_and_nothing_is_written(tmp_path: Path, kind: str) -> None:
    path, says = _bad_files(tmp_path)[kind]
    before = _snapshot(tmp_path)
    with pytest.raises(DatabaseRefused) as refused:
        check_database(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and says in message and "--db" in message and "\n" not in message
    assert _snapshot(tmp_path) == before


def test_a_new_an_empty_and_a_stampede_database_are_served(tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()
    _a_store(tmp_path / "ours.db")
    for name in ("new.db", "empty.db", "ours.db"):
        check_database(tmp_path / name)


def test_a_second_lock_on_one_database_names_the_first_ones_pid(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    with Store(db, exclusive=True):
        with pytest.raises(DatabaseInUse) as in_use:
            Store(db, exclusive=True)
        assert in_use.value.pid == os.getpid() and f"process {os.getpid()}" in str(in_use.value)
        with Store(db):  # a reader that does not serve (tests, tools) takes no lock
            pass
    with Store(db, exclusive=True):  # released on close: the next server takes it
        pass
    with DatabaseLock(db):
        pass
    assert not (tmp_path / "live.db.lock").exists()


def _serve(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STAMPEDE), "serve", "--port", "0", "--db", str(db)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow  # starts stampede serve
def test_stampede_serve_refuses_a_bad_database_in_one_line(tmp_path: Path) -> None:
    for kind, (path, says) in _bad_files(tmp_path).items():
        before = _snapshot(tmp_path)
        done = _serve(path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, (kind, done.stderr)
        assert str(path) in lines[0] and says in lines[0] and "Traceback" not in done.stderr, (kind, lines)
        assert _snapshot(tmp_path) == before, kind


@pytest.mark.slow  # starts stampede serve twice
def test_a_second_server_on_one_database_is_refused_naming_the_first(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    first = ServeProcess(db, tmp_path / "first")
    try:
        done = _serve(db)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert f"already served by process {first.process.pid}" in lines[0] and str(db) in lines[0]
        assert first.process.poll() is None  # the first one serves on
    finally:
        first.stop()
