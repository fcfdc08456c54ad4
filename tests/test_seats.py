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
