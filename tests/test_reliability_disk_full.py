"""Seats follow the journal (issue 25, item 2): an acceptance the store cannot write is answered 500 and takes no
seat; a creation the store cannot write while the disk is full is written again once there is room, while the
server runs, not only after a restart.

The fault is injected where the store writes: its write methods raise ``sqlite3.OperationalError("database or
disk is full")`` for a window, as SQLite does on a full disk. Capacity and creations are then counted in the
SQLite file itself, not by the server's counters. One run on a real 8 MiB tmpfs is in
``tests/test_reliability_tmpfs.py``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from live_support import live, person, query, registration, wait_for

pytestmark = pytest.mark.anyio
CAPACITY = 100
SCENARIO: dict[str, Any] = {"catalog": {"events": 1, "capacity": CAPACITY, "waitlist": False}}
DISK_FULL = "database or disk is full"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FullDisk:
    """Turns the store's writes of a kind into a full disk while ``on``."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> None:
        self.on = False
        for name in names:
            monkeypatch.setattr(store, name, self._failing(getattr(store, name)))

    def _failing(self, write: Callable[..., Any]) -> Callable[..., Any]:
        def failing(*args: Any, **kwargs: Any) -> Any:
            if self.on:
                raise sqlite3.OperationalError(DISK_FULL)
            return write(*args, **kwargs)

        return failing


async def test_a_full_disk_keeps_no_seat_and_loses_no_registration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with live(tmp_path, SCENARIO) as mock:
        store = mock.served.store
        creations = FullDisk(store, monkeypatch, ("create_many", "mark_created"))
        acceptances = FullDisk(store, monkeypatch, ("accept_many",))

        # 1. accepted, then the disk fills before they are created: 202s, their creations wait
        creations.on = True
        early = [await mock.register("launch-001", registration(person(f"early{i}@disk.example")))
                 for i in range(30)]
        assert [a.status_code for a in early] == [202] * 30
        await wait_for(mock.stats, lambda s: s["journal_backlog"] == 30, timeout_s=20)
        # 2. the acceptances fail too: 500, and no seat is kept for them
        acceptances.on = True
        failed = [await mock.register("launch-001", registration(person(f"failed{i}@disk.example")))
                  for i in range(60)]
        assert {(a.status_code, a.json()["type"]) for a in failed} == {(500, "RegistrationFailed")}
        # 3. room again: the waiting creations are written without a restart, and every seat is sold once
        creations.on = acceptances.on = False
        stats = await wait_for(mock.stats, lambda s: s["pending"] == 0 and s["journal_backlog"] == 0, timeout_s=30)
        assert stats["stored_created"] == 30
        late = [await mock.register("launch-001", registration(person(f"late{i}@disk.example")))
                for i in range(CAPACITY)]
        statuses = [a.status_code for a in late]
        assert statuses.count(202) == CAPACITY - 30 and statuses.count(409) == 30, statuses
        await mock.settled()
    [(registered,)] = query(mock.db, "SELECT COUNT(*) FROM event_registrations")
    [(stored, created)] = query(mock.db, "SELECT COUNT(*), SUM(state = 'created') FROM submissions")
    assert (registered, stored, created) == (CAPACITY, CAPACITY, CAPACITY)
    assert not query(mock.db, "SELECT 1 FROM contacts WHERE email LIKE 'failed%'")


async def test_a_purchase_hold_the_store_refuses_keeps_no_seat(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A paid registration is held (seats and a pass taken) until paid; when the store cannot write the hold the
    buyer hears 500, and the hold is withdrawn in the model in the same step: the seats and the pass are free for
    the next buyers, and nothing of it is counted as a buyer's cancellation."""
    seats = 4
    scenario = {"catalog": {"events": 1, "paid_events": 1, "capacity": seats, "waitlist": False},
                "payment": {"timeout": "1h"}}
    async with live(tmp_path, scenario) as mock:
        event = mock.served.model.catalog.events[0]
        pass_ids = [p.id for p in event.passes if p.quantity]  # the passes that share the event's seats
        holds = FullDisk(mock.served.store, monkeypatch, ("hold_purchases",))

        def buyer(email: str, pass_id: str) -> dict[str, Any]:
            return registration(person(email, passId=pass_id))

        holds.on = True
        failed = [await mock.register(event.readable_id, buyer(f"failed{i}@disk.example", pass_ids[i % 2]))
                  for i in range(seats)]
        assert {a.status_code for a in failed} == {500}
        holds.on = False
        # every seat and pass is there for the next buyers: one per seat is sent to pay, the next finds it full
        quantities = {p.id: p.quantity for p in event.passes}
        answers = [await mock.register(event.readable_id, buyer(f"late{i}-{pass_id}@disk.example", pass_id))
                   for pass_id in pass_ids for i in range(quantities[pass_id])]
        assert [a.status_code for a in answers] == [200] * seats, [a.text for a in answers]
        assert all(a.json()["status"] == "Redirect" for a in answers)
        full = await mock.register(event.readable_id, buyer("one-too-many@disk.example", pass_ids[0]))
        assert full.status_code == 409
        stats = await mock.stats()
        purchases = mock.served.store.purchase_counts()
    assert (purchases["held"], purchases["cancelled"], stats["seats_held"]) == (seats, 0, seats)
    assert not query(mock.db, "SELECT 1 FROM submissions WHERE body LIKE '%failed%'")
