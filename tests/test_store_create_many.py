"""Creations written as a set (``Store.create_many``, one driver turn's group commit) give exactly the rows and
records that writing them one at a time gives: same contacts (matched by the tenant's rule, renamed by the later
registration), registrations, duplicates, session registrations, waitlist items and consents, ids included."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import consent
from simulator.matching import RULES
from simulator.scenario import parse_scenario
from simulator.server import Store, UnknownSubmission
from simulator.server.contract import RegistrationRequest
from simulator.server.live import LiveEventModel
from simulator.server.model import Accepted
from simulator.server.store import Creation

EVENTS = ("event-1", "event-2")
SESSIONS = ("s1", "s2", "s3")
PURPOSES = consent.purpose_ids(2)
TABLES = {  # every row of every table the creations write, in id order (fixed statements)
    "contacts": "SELECT * FROM contacts ORDER BY id",
    "consents": "SELECT contact_point, purpose_id, opted_in, submission_id, updated_s FROM consents "
                "ORDER BY contact_point, purpose_id",
    "event_registrations": "SELECT * FROM event_registrations ORDER BY id",
    "session_registrations": "SELECT * FROM session_registrations ORDER BY id",
    "waitlist_items": "SELECT * FROM waitlist_items ORDER BY id",
    "submissions": "SELECT * FROM submissions ORDER BY id",
}

# a few people, written in several ways, so that every matching rule both matches and tells apart
emails = st.sampled_from(["ada@contoso.com", " ADA@Contoso.com", "grace@contoso.com", "alan@fabrikam.com"])
names = st.sampled_from(["Ada", "ada ", "Augusta", "Grace"])
answers = st.lists(st.tuples(st.sampled_from(PURPOSES), st.booleans()), max_size=2).map(
    lambda pairs: [consent.consent_response(purpose, opted_in) for purpose, opted_in in pairs])
attendees = st.fixed_dictionaries({
    "firstName": names, "lastName": st.sampled_from(["Lovelace", "Hopper"]), "email": emails,
    "responses": answers, "waitlisted": st.sampled_from([None, False, True]),
    "passId": st.sampled_from([None, "p1"]),
    "attendeeSessions": st.lists(st.fixed_dictionaries({"sessionId": st.sampled_from(SESSIONS),
                                                        "waitlisted": st.booleans()}), max_size=3),
})
submissions = st.lists(st.tuples(st.sampled_from(EVENTS), st.lists(attendees, min_size=1, max_size=3),
                                 st.sampled_from([None, True]), st.booleans()), min_size=1, max_size=8)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def dump(store: Store) -> dict[str, list[Any]]:
    db: sqlite3.Connection = store._db  # the test reads every row; the store has no API for that
    return {table: db.execute(sql).fetchall() for table, sql in TABLES.items()}


@settings(max_examples=150, deadline=None)
@given(rule=st.sampled_from(RULES), audience=st.sampled_from(["contact", "lead"]), items=submissions,
       earlier=st.integers(0, 3), repeat=st.booleans())
def test_a_set_writes_what_one_at_a_time_writes(rule: str, audience: str,
                                                items: list[tuple[str, list[dict[str, Any]], bool | None, bool]],
                                                earlier: int, repeat: bool) -> None:
    stores = [Store(":memory:", matching=rule, audience=audience, consent_purposes=len(PURPOSES)) for _ in "ab"]
    creations = []
    for index, (event_id, people, model_waitlisted, stored_waitlisted) in enumerate(items):
        for store in stores:
            store.accept(f"sub-{index}", event_id, json.dumps({"attendees": people}), float(index),
                         waitlisted=stored_waitlisted)
        creations.append(Creation(f"sub-{index}", 100.0 + index, attempts=index % 3 or None,
                                  waitlisted=model_waitlisted))
    if repeat:  # the same submission twice in one turn: the second is a repeat
        creations.append(creations[0])
    one_by_one, as_a_set = stores
    try:
        # the first few were created in earlier turns (both ways alike): the set meets people and rows it did
        # not write itself, and repeats of submissions already created
        before = [one_by_one.create_many([c])[0] for c in creations[:earlier]]
        assert [as_a_set.mark_created(c.submission_id, c.created_s, attempts=c.attempts,
                                      waitlisted=c.waitlisted) for c in creations[:earlier]] == before
        sequential = [one_by_one.create_many([c])[0] for c in creations]
        with as_a_set.batch():
            together = as_a_set.create_many(creations)
        assert together == sequential
        assert dump(as_a_set) == dump(one_by_one)
    finally:
        for store in stores:
            store.close()


def test_an_unknown_submission_fails_the_whole_set_and_writes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.accept("a", "event-1", json.dumps({"attendees": [
            {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com", "responses": []}]}), 1.0)
        with pytest.raises(UnknownSubmission, match="nope"):
            store.create_many([Creation("a", 2.0), Creation("nope", 2.0)])
        assert store.counts()["contacts"] == 0 and store.submission("a")["state"] == "accepted"  # type: ignore[index]
        assert store.create_many([Creation("a", 2.0)])[0].event_registrations == 1


@pytest.mark.anyio
async def test_if_the_set_fails_the_turn_is_written_one_by_one_and_only_the_failing_one_stays_pending(
        monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = parse_scenario({"name": "fallback", "catalog": {"capacity": 0}, "api": {"processors": 64},
                               "dataverse": {"requests_limit": 1_000_000, "concurrency_limit": 10_000,
                                             "worker_slots": 10_000}})
    people = [RegistrationRequest.model_validate({"attendees": [
        {"firstName": "Ada", "lastName": f"Number {i}", "email": f"ada{i}@contoso.com", "responses": []}]})
        for i in range(12)]
    with Store(":memory:") as store:
        live = LiveEventModel(scenario, store, time_scale=60.0, run_record=False)
        sets: list[int] = []
        failing: list[str] = []
        real_mark = store.mark_created

        def create_many(creations: list[Creation]) -> list[Any]:
            sets.append(len(creations))
            raise sqlite3.OperationalError("disk I/O error")  # the whole set fails

        def mark_created(submission_id: str, created_s: float, **kwargs: Any) -> Any:
            if not failing:
                failing.append(submission_id)
            if submission_id == failing[0]:
                raise sqlite3.OperationalError("disk I/O error")
            return real_mark(submission_id, created_s, **kwargs)

        monkeypatch.setattr(store, "create_many", create_many)
        monkeypatch.setattr(store, "mark_created", mark_created)
        live.start()
        try:
            event = live.catalog.events[0]
            outcomes = await asyncio.gather(*(live.register(event, p) for p in people))
            assert all(isinstance(o, Accepted) for o in outcomes)
            deadline = time.monotonic() + 30
            while live.tally.totals.created < len(people) - 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)  # polling a counter, bounded by the deadline
        finally:
            live.stop()
        counts = store.counts()
        assert sets and counts["submissions"]["created"] == len(people) - 1 == counts["event_registrations"]
        assert [s.id for s in store.pending()] == failing  # the one that failed is pending: it resumes at restart
