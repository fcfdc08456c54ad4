"""The SQLite store: accept, pending, created records (idempotent, one registration per email and event)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.server import Store, StoreError, UnknownSubmission

EVENT = "event-1"


def body(*attendees: dict[str, Any]) -> str:
    return json.dumps({"attendees": list(attendees)})


def person(email: str = "ada@contoso.com", **fields: Any) -> dict[str, Any]:
    return {"firstName": "Ada", "lastName": "Lovelace", "email": email, "responses": [], **fields}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "stampede.db") as opened:
        yield opened


def test_accept_then_pending_oldest_first(store: Store) -> None:
    assert store.accept("b", EVENT, body(person()), accepted_s=2.0)
    assert store.accept("a", EVENT, body(person("grace@contoso.com")), accepted_s=1.0)
    pending = store.pending()
    assert [s.id for s in pending] == ["a", "b"]
    assert pending[0].state == "accepted" and pending[0].attempts == 0
    assert pending[0].request()["attendees"][0]["email"] == "grace@contoso.com"


def test_accepting_the_same_id_twice_changes_nothing(store: Store) -> None:
    assert store.accept("a", EVENT, body(person()), 1.0)
    assert not store.accept("a", "other", body(), 9.0)
    assert store.submission("a")["event_id"] == EVENT  # type: ignore[index]
    assert store.accept_many([("a", EVENT, body(), 1.0), ("b", EVENT, body(), 1.0)]) == 1


def test_mark_created_writes_contact_registration_and_sessions(store: Store) -> None:
    sessions = [{"sessionId": "s1"}, {"sessionId": "s2"}]
    store.accept("a", EVENT, body(person(attendeeSessions=sessions, passId="p1")), 1.0)
    created = store.mark_created("a", 5.0, attempts=2)
    assert (created.contacts, created.event_registrations, created.session_registrations) == (1, 1, 2)
    assert store.registration_count(EVENT) == 1
    assert store.session_registration_count("s1") == store.session_registration_count("s2") == 1
    status = store.submission("a")
    assert status == {"id": "a", "event_id": EVENT, "state": "created", "attempts": 2, "accepted_s": 1.0,
                      "created_s": 5.0, "dead_lettered_s": None, "last_error": None}
    assert store.pending() == []


def test_mark_created_is_idempotent(store: Store) -> None:
    store.accept("a", EVENT, body(person(attendeeSessions=[{"sessionId": "s1"}])), 1.0)
    store.mark_created("a", 5.0)
    again = store.mark_created("a", 6.0)
    assert again.already_created and again.event_registrations == 0
    assert store.registration_count(EVENT) == 1 and store.session_registration_count("s1") == 1
    assert store.submission("a")["created_s"] == 5.0  # type: ignore[index]


def test_no_second_registration_for_the_same_email_and_event(store: Store) -> None:
    store.accept("a", EVENT, body(person("ada@contoso.com")), 1.0)
    store.accept("b", EVENT, body(person("ADA@Contoso.com ", firstName="Augusta")), 2.0)
    store.accept("c", "event-2", body(person("ada@contoso.com")), 3.0)
    store.mark_created("a", 4.0)
    second = store.mark_created("b", 5.0)
    store.mark_created("c", 6.0)
    assert second.event_registrations == 0 and second.duplicates == 1 and second.contacts == 0
    assert store.registration_count(EVENT) == 1 and store.registration_count("event-2") == 1
    counts = store.counts()
    assert counts["contacts"] == 1 and counts["event_registrations"] == 2
    assert counts["submissions"]["created"] == 3


def test_waitlisted_attendees_get_waitlist_items_not_registrations(store: Store) -> None:
    store.accept("a", EVENT, body(person(waitlisted=True),
                                  person("grace@contoso.com", attendeeSessions=[{"sessionId": "s1",
                                                                                 "waitlisted": True}])), 1.0)
    created = store.mark_created("a", 2.0)
    assert (created.event_registrations, created.session_registrations, created.waitlist_items) == (1, 0, 2)
    assert store.waitlist_count(EVENT) == 1 and store.waitlist_count(EVENT, "s1") == 1
    assert store.session_registration_count("s1") == 0


def test_the_model_can_waitlist_a_submission_whatever_the_body_says(store: Store) -> None:
    store.accept("a", EVENT, body(person(attendeeSessions=[{"sessionId": "s1"}])), 1.0)
    created = store.mark_created("a", 2.0, waitlisted=True)
    assert (created.event_registrations, created.waitlist_items) == (0, 1)
    assert store.registration_count(EVENT) == 0 and store.session_registration_count("s1") == 0


def test_retry_then_dead_letter(store: Store) -> None:
    store.accept("a", EVENT, body(person()), 1.0)
    store.record_attempt("a", "429 0x80072322 Number of requests exceeded", attempts=1)
    pending = store.pending()
    assert pending[0].state == "retrying" and pending[0].attempts == 1 and "0x80072322" in str(pending[0].last_error)
    assert store.mark_dead_lettered("a", 21601.0, "deadline 6h reached", attempts=9)
    assert not store.mark_dead_lettered("a", 21602.0, "again")
    status = store.submission("a")
    assert status is not None and status["state"] == "dead_lettered" and status["attempts"] == 9
    assert status["dead_lettered_s"] == 21601.0 and status["last_error"] == "deadline 6h reached"
    assert store.pending() == []


def test_unknown_submissions_raise(store: Store) -> None:
    assert store.submission("nope") is None
    with pytest.raises(UnknownSubmission, match="nope"):
        store.mark_created("nope", 1.0)
    with pytest.raises(UnknownSubmission):
        store.mark_dead_lettered("nope", 1.0, "x")
    with pytest.raises(UnknownSubmission):
        store.record_attempt("nope", "x", 1)


def test_pending_survives_a_restart_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    with Store(path) as first:
        first.accept("a", EVENT, body(person()), 1.0)
        first.accept("b", EVENT, body(person("grace@contoso.com")), 2.0)
        first.mark_created("a", 3.0)
    with Store(path) as second:
        assert [s.id for s in second.pending()] == ["b"]
        assert second.registration_count(EVENT) == 1
        assert second.registration_counts() == {EVENT: 1}
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_accepts_from_threads_all_land(store: Store) -> None:
    def accept(worker: int) -> None:
        for i in range(50):
            store.accept(f"{worker}-{i}", EVENT, body(person(f"p{worker}-{i}@contoso.com")), float(i))

    threads = [threading.Thread(target=accept, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(store.pending()) == 200


def test_synchronous_must_be_normal_or_full(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store(tmp_path / "x.db", synchronous="OFF")  # type: ignore[arg-type]


def test_the_log_is_checkpointed_off_the_writers_thread(tmp_path: Path) -> None:
    """The writer never checkpoints (its commits stay short); the store's checkpointer copies the log into the
    database file after commits, so the log does not grow without bound, and nothing committed is lost."""
    path = tmp_path / "checkpointed.db"
    with Store(path) as store:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        checkpointer = store._checkpointer
        assert checkpointer is not None
        for i in range(20):
            store.accept(f"s{i}", EVENT, body(person(f"p{i}@contoso.com")), float(i))
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a counter, bounded by the deadline
        assert checkpointer.checkpoints >= 1
        assert len(store.pending()) == 20
    with Store(path) as again:
        assert len(again.pending()) == 20
