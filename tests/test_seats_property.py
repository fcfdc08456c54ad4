"""A property of the live model's seats: whatever concurrent multi-attendee, multi-session requests arrive, against
whatever capacities, some of them cancelled by their callers and the server restarted mid-flight,

- the store never holds more registrations than the event (or a session) has seats, and
- the seats the model holds equal the registrations stored plus those pending (accepted, not yet created),
  for the event and for every session — before the restart, after it, and once everything is created.

The real model (its own thread, the SQLite store) is driven directly through ``LiveEventModel.register``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.engine.model import Model
from simulator.scenario import parse_scenario
from simulator.server.contract import RegistrationRequest
from simulator.server.live import LiveEventModel
from simulator.server.store import Store

pytestmark = pytest.mark.slow  # real threads and SQLite files; ~1 s an example

SESSIONS = 2
EMAILS = [f"p{i}@seats.example" for i in range(8)]  # a small pool: repeated people are part of the property


@dataclass(frozen=True)
class Ask:
    emails: tuple[str, ...]
    sessions: tuple[tuple[int, ...], ...]  # per attendee, the sessions (by index) it names
    cancel_after: int | None  # event-loop turns before the caller gives up; None: it waits for its answer


asks = st.lists(
    st.integers(1, 3).flatmap(lambda n: st.builds(
        Ask,
        emails=st.lists(st.sampled_from(EMAILS), min_size=n, max_size=n, unique=True).map(tuple),
        sessions=st.lists(st.lists(st.integers(0, SESSIONS - 1), unique=True, max_size=SESSIONS).map(tuple),
                          min_size=n, max_size=n).map(tuple),
        cancel_after=st.none() | st.integers(0, 4),
    )),
    min_size=1, max_size=12,
)


def scenario(capacity: int, session_capacity: int, waitlist: bool) -> object:
    return parse_scenario({
        "name": "seats", "catalog": {"events": 1, "sessions_per_event": SESSIONS, "capacity": capacity,
                                     "session_capacity": session_capacity, "waitlist": waitlist},
        # reads slow enough that a cancel can land mid-validation; writes slow enough that work is still
        # pending at the restart (at a time scale of 100: 10 ms and 100 ms of wall time)
        "dataverse": {"latency": {"read": {"median": "1s", "p99": "2s"}, "write": {"median": "10s", "p99": "20s"}}},
    })


def body(ask: Ask, session_ids: list[str]) -> RegistrationRequest:
    return RegistrationRequest.model_validate({"attendees": [
        {"firstName": "A", "lastName": "B", "email": email,
         "attendeeSessions": [{"sessionId": session_ids[i]} for i in chosen]}
        for email, chosen in zip(ask.emails, ask.sessions, strict=True)
    ]})


def ledger(store: Store, event_id: str, session_ids: list[str]) -> dict[str, int]:
    """Seats the store accounts for: registrations stored + seats of pending, not waitlisted submissions."""
    seats = dict.fromkeys([event_id, *session_ids], 0)
    seats[event_id] = store.registration_count(event_id)
    for session_id in session_ids:
        seats[session_id] = store.session_registration_count(session_id)
    for pending in store.pending():
        if pending.waitlisted:
            continue
        for attendee in json.loads(pending.body)["attendees"]:
            seats[event_id] += 1
            for chosen in attendee["attendeeSessions"]:
                seats[chosen["sessionId"]] += 1
    return seats


def held(model: Model, event_id: str, session_ids: list[str]) -> dict[str, int]:
    pipeline = model.pipeline
    return {event_id: pipeline.registered[event_id],
            **{session_id: pipeline.session_registered[session_id] for session_id in session_ids}}


def check(live: LiveEventModel, capacity: int, session_capacity: int) -> dict[str, int]:
    """On the model thread (nothing moves meanwhile): store what this batch accepted, then compare."""
    event = live.catalog.events[0]
    session_ids = [s.id for s in event.sessions]

    def on_model_thread(model: Model) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        live.flush()
        stored = {event.id: live.store.registration_count(event.id),
                  **{s: live.store.session_registration_count(s) for s in session_ids}}
        return held(model, event.id, session_ids), ledger(live.store, event.id, session_ids), stored

    seats, accounted, stored = live.driver.call(on_model_thread).result(timeout=10)
    assert seats == accounted
    assert stored[event.id] <= capacity and all(stored[s] <= session_capacity for s in session_ids), stored
    return seats


async def run(live: LiveEventModel, asks_: list[Ask]) -> None:
    event = live.catalog.events[0]
    session_ids = [s.id for s in event.sessions]
    tasks = [asyncio.ensure_future(live.register(event, body(ask, session_ids))) for ask in asks_]
    for turn in range(6):  # callers give up after their number of event-loop turns (mid-validation, or later)
        for ask, task in zip(asks_, tasks, strict=True):
            if ask.cancel_after == turn:
                task.cancel()
        await asyncio.sleep(0)  # one turn of the loop, not a wait for time to pass
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(asks=asks, capacity=st.integers(1, 6), session_capacity=st.integers(1, 4), waitlist=st.booleans())
def test_seats_held_equal_registrations_stored_plus_pending(asks: list[Ask], capacity: int, session_capacity: int,
                                                            waitlist: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "seats.db"
        setup = scenario(capacity, session_capacity, waitlist)
        with Store(db) as store:
            first = LiveEventModel(setup, store, time_scale=100)  # type: ignore[arg-type]
            first.start()
            try:
                asyncio.run(run(first, asks))
                check(first, capacity, session_capacity)  # mid-flight: some are still pending
            finally:
                first.stop()

            second = LiveEventModel(setup, store, time_scale=100)  # type: ignore[arg-type]
            event = second.catalog.events[0]
            session_ids = [s.id for s in event.sessions]
            # restored from the store before the thread starts: what was created, plus what resumes
            assert held(second.model, event.id, session_ids) == ledger(store, event.id, session_ids)
            second.start()
            try:
                deadline = time.monotonic() + 30
                while second.tally.totals.pending and time.monotonic() < deadline:
                    time.sleep(0.02)  # polling a condition (bounded), not ordering events
                assert second.tally.totals.pending == 0
                seats = check(second, capacity, session_capacity)
                assert seats[event.id] == store.registration_count(event.id)  # nothing pending: seats = stored
            finally:
                second.stop()
