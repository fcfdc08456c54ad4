"""Seats are never over-given or leaked: a request takes as many seats of a session as it has attendees naming
it, and a caller that goes away before its answer leaves no seat behind (the real live model, in-process)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from live_support import Live, live, person, query, registration

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (bounded) until ``condition()`` holds; it reads state the model thread changes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met after {timeout_s} s")
        await asyncio.sleep(0.01)


async def test_a_two_attendee_request_does_not_overfill_a_session(tmp_path: Path) -> None:
    """Session capacity 3, two one-attendee registrations name it, then one with two attendees: 2 + 2 > 3."""
    async with live(tmp_path, {"catalog": {"events": 1, "capacity": 100, "session_capacity": 3}}) as mock:
        session = mock.catalog.events[0].sessions[0].id
        chosen = {"attendeeSessions": [{"sessionId": session}]}
        for email in ("ada@contoso.com", "grace@contoso.com"):
            assert (await mock.register("launch-001", registration(person(email, **chosen)))).status_code == 202
        pair = registration(person("alan@contoso.com", **chosen), person("joan@contoso.com", **chosen))
        refused = await mock.register("launch-001", pair)
        assert refused.status_code == 409 and refused.json()["type"] == "SessionFull"
        await mock.settled()
    assert query(mock.db, "SELECT COUNT(*) FROM session_registrations WHERE session_id = ?", (session,)) == [(2,)]


async def test_a_two_attendee_request_fills_the_last_two_seats_of_a_session(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 1, "capacity": 100, "session_capacity": 3}}) as mock:
        session = mock.catalog.events[0].sessions[0].id
        chosen = {"attendeeSessions": [{"sessionId": session}]}
        assert (await mock.register("launch-001", registration(person("ada@contoso.com", **chosen)))).status_code \
            == 202
        pair = registration(person("alan@contoso.com", **chosen), person("joan@contoso.com", **chosen))
        assert (await mock.register("launch-001", pair)).status_code == 202
        await mock.settled()
    assert query(mock.db, "SELECT COUNT(*) FROM session_registrations WHERE session_id = ?", (session,)) == [(3,)]


def validating(mock: Live) -> int:
    return mock.served.model.model.pipeline.validating


@pytest.mark.slow  # waits out real-time reads (time scale 1)
async def test_a_caller_cancelled_during_its_validation_read_leaves_no_seat(tmp_path: Path) -> None:
    """One seat, no waitlist; Ada's handler is cancelled while her validation read is under way (an in-process
    client timeout): nothing is stored for her, so the seat is Grace's."""
    slow_read = {"median": "1s", "p99": "1s"}
    scenario = {"catalog": {"events": 1, "capacity": 1, "waitlist": False},
                "dataverse": {"latency": {"read": slow_read}}}
    async with live(tmp_path, scenario, time_scale=1.0) as mock:
        ada = asyncio.ensure_future(mock.register("launch-001", registration(person("ada@contoso.com"))))
        await until(lambda: validating(mock) == 1)  # her offer is waiting for its read
        ada.cancel()
        await until(lambda: validating(mock) == 0)  # the read is over: the model has decided about her offer
        grace = await asyncio.wait_for(mock.register("launch-001", registration(person("grace@contoso.com"))), 10)
        assert grace.status_code == 202, grace.text
        stats = await mock.settled()
        assert stats["created"] == 1
    assert query(mock.db, "SELECT COUNT(*) FROM event_registrations") == [(1,)]
    assert query(mock.db, "SELECT email FROM contacts") == [("grace@contoso.com",)]
