"""Capacity under concurrency: N parallel submissions over real sockets against capacity C < N — exactly C
registered, the rest waitlisted where the event has a waitlist and otherwise refused with a clear error; never
over capacity, not even for a moment while the processors write."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_support import ServeProcess, async_client, person, post_all, query, registration, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # slow: stampede serve subprocesses, real sockets

N = 200
C = 40
SESSION_C = 15


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def submit_and_watch(server: ServeProcess, db: Path, requests: list[tuple[str, dict[str, Any]]],
                           event: str) -> tuple[Counter[int], list[httpx.Response], int]:
    """Send every request at once (64 connections); meanwhile sample the event's registration count. Returns
    the statuses, the answers and the highest count seen while it all settled."""
    highest = 0
    async with async_client(64) as client:
        async def sample() -> None:
            nonlocal highest
            while True:
                count = (await client.get(server.api(f"events/{event}/registrations/count"))).json()
                highest = max(highest, int(count))
                await asyncio.sleep(0.01)

        sampler = asyncio.ensure_future(sample())
        try:
            answers = await post_all(client, [(server.api(f"events/{e}/registrations"), b) for e, b in requests], 64)
            await wait_for(lambda: _pending(client, server), lambda pending: pending == 0, timeout_s=30)
        finally:
            sampler.cancel()
    responses = [a for a in answers if isinstance(a, httpx.Response)]
    assert len(responses) == len(requests), [a for a in answers if not isinstance(a, httpx.Response)][:3]
    return Counter(a.status_code for a in responses), responses, highest


async def _pending(client: httpx.AsyncClient, server: ServeProcess) -> int:
    return int((await client.get(f"{server.url}/_harness/stats")).json()["pending"])


async def test_with_a_waitlist_exactly_c_register_and_the_rest_are_waitlisted(tmp_path: Path) -> None:
    db = tmp_path / "waitlist.db"
    server = ServeProcess(db, tmp_path / "waitlist", "--time-scale", "60", "--set", f"catalog.capacity={C}",
                          "--set", "catalog.waitlist=true")
    try:
        requests = [("launch-001", registration(person(f"p{i}@capacity.example"))) for i in range(N)]
        statuses, _, highest = await submit_and_watch(server, db, requests, "launch-001")
    finally:
        server.stop()
    assert statuses == {202: N}  # the waitlisted ones are accepted too: the waitlist item is created later
    event_id = query(db, "SELECT DISTINCT event_id FROM submissions")[0][0]
    assert query(db, "SELECT COUNT(*) FROM event_registrations WHERE event_id = ?", (event_id,)) == [(C,)]
    assert query(db, "SELECT COUNT(*) FROM waitlist_items WHERE event_id = ? AND session_id = ''",
                 (event_id,)) == [(N - C,)]
    assert query(db, "SELECT COUNT(*) FROM submissions WHERE state = 'created'") == [(N,)]
    assert highest <= C


async def test_without_a_waitlist_exactly_c_register_and_the_rest_hear_event_full(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    server = ServeProcess(db, tmp_path / "full", "--time-scale", "60", "--set", f"catalog.capacity={C}",
                          "--set", "catalog.waitlist=false")
    try:
        requests = [("launch-001", registration(person(f"p{i}@capacity.example"))) for i in range(N)]
        statuses, answers, highest = await submit_and_watch(server, db, requests, "launch-001")
    finally:
        server.stop()
    assert statuses == {202: C, 409: N - C}
    refusals = [a.json() for a in answers if a.status_code == 409]
    assert {(r["type"], r["errorMessage"]) for r in refusals} == {
        ("EventFull", f"event launch-001 is full ({C} seats) and has no waitlist")}
    assert query(db, "SELECT COUNT(*) FROM event_registrations") == [(C,)]
    assert query(db, "SELECT COUNT(*) FROM submissions") == [(C,)]  # a refusal stores nothing
    assert query(db, "SELECT COUNT(*) FROM waitlist_items") == [(0,)]
    assert highest <= C


async def test_a_full_session_refuses_the_rest_even_when_the_event_has_seats(tmp_path: Path) -> None:
    """Sessions have no waitlist in the model: past the session's capacity the caller hears SessionFull."""
    db = tmp_path / "session.db"
    server = ServeProcess(db, tmp_path / "session", "--time-scale", "60", "--set", f"catalog.capacity={N}",
                          "--set", f"catalog.session_capacity={SESSION_C}")
    try:
        async with async_client() as client:
            session = (await client.get(server.api("events/launch-001/sessions"))).json()[0]["id"]
        requests = [("launch-001", registration(person(f"s{i}@capacity.example",
                                                       attendeeSessions=[{"sessionId": session}])))
                    for i in range(C)]
        statuses, answers, _ = await submit_and_watch(server, db, requests, "launch-001")
    finally:
        server.stop()
    assert statuses == {202: SESSION_C, 409: C - SESSION_C}
    assert {a.json()["type"] for a in answers if a.status_code == 409} == {"SessionFull"}
    assert query(db, "SELECT COUNT(*) FROM session_registrations WHERE session_id = ?", (session,)) == [(SESSION_C,)]
    assert query(db, "SELECT COUNT(*) FROM event_registrations") == [(SESSION_C,)]
