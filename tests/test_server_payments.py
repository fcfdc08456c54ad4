"""Paid registrations over the live model: the registration follows the payment.

Microsoft's payment-gateway article: the registration answer sends the attendee to pay; the purchase holds the
seat; the payment is confirmed, and only then is the registration created; a reservation not paid within the
payment provider's "Payment timeout (minutes)" releases the spot. Each test reads the answers as a portal does
(the v2.0 sample: ``status == "Redirect"`` → go to ``redirectUrl``, keep ``purchaseId``; then finalize).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_support import wait_for

from simulator.scenario import parse_scenario
from simulator.server.serve import Served, build_served
from simulator.server.store import Store

pytestmark = pytest.mark.anyio
TOKEN = "payments-token"
# browser-session.service.ts of Microsoft's sample portal (EventsManagementWebApp v1.46.0)
GUID = re.compile(r"\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?", re.I)
TIME_SCALE = 600.0  # a 10-minute payment timeout passes in 1 s
TIMEOUT = "10m"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _scenario(**payment: Any) -> Any:
    return parse_scenario({"name": "paid", "catalog": {"events": 1, "paid_events": 1, "capacity": 1,
                                                       "waitlist": False}, "payment": {"timeout": TIMEOUT, **payment}})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    served = build_served(_scenario(), db_path=tmp_path / "paid.db", time_scale=TIME_SCALE, token=TOKEN)
    served.model.start()
    try:
        yield served
    finally:
        served.model.stop()
        served.store.close()


def client(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=served.app), base_url="http://mock")


def url(served: Served, tail: str) -> str:
    return f"{served.app.state.base_path}{tail}?emApplicationtoken={TOKEN}"


def buyer(served: Served, email: str) -> dict[str, Any]:
    event = served.model.catalog.events[0]
    return {"attendees": [{"firstName": "Ada", "lastName": "Lovelace", "email": email,
                           "passId": event.passes[0].id}]}


async def test_the_registration_is_created_only_when_finalize_confirms_the_payment(served: Served) -> None:
    event = served.model.catalog.events[0]
    register, count = f"events/{event.readable_id}/registrations", f"events/{event.readable_id}/registrations/count"
    async with client(served) as c:
        first = await c.post(url(served, register), json=buyer(served, "ada@example.com"))
        assert first.status_code == 200
        answer = first.json()
        assert answer["status"] == "Redirect" and answer["redirectUrl"]
        assert GUID.fullmatch(answer["purchaseId"])  # the v2.0 sample keeps a purchaseId only if it is a GUID
        # the seat is held: capacity 1, so a second buyer finds the event full
        second = await c.post(url(served, register), json=buyer(served, "grace@example.com"))
        assert second.status_code == 409 and second.json()["type"] == "EventFull"
        assert (await c.get(url(served, count))).json() == 0  # nothing registered before anyone pays
        assert served.store.counts()["submissions"]["accepted"] == 0
        assert served.store.purchase_counts()["held"] == 1
        done = await c.post(url(served, f"{register}/finalize"), json={"purchaseId": answer["purchaseId"]})
        assert done.status_code == 200 and done.json()["status"] == "Success"
        assert done.json()["purchaseId"] == answer["purchaseId"]
        await wait_for(lambda: _json(c, url(served, count)), lambda n: n == 1, timeout_s=30)
        again = await c.post(url(served, f"{register}/finalize"), json={"purchaseId": answer["purchaseId"]})
        assert again.status_code == 200  # a repeated finalize is answered the same, and registers nothing more
        assert (await c.get(url(served, count))).json() == 1
        stats = (await c.get("/_harness/stats")).json()
    assert served.store.purchase_counts() == {"held": 0, "confirmed": 1, "expired": 0, "cancelled": 0}
    # settled: the confirmed purchase is one stored, created submission (what stampede load waits for)
    assert (stats["stored"], stats["stored_created"], stats["pending"]) == (1, 1, 0)
    assert stats["created"] + stats["dead_lettered"] >= stats["accepted"]


async def test_an_unpaid_purchase_releases_its_seat_after_the_payment_timeout(served: Served) -> None:
    event = served.model.catalog.events[0]
    register = f"events/{event.readable_id}/registrations"
    async with client(served) as c:
        unpaid = (await c.post(url(served, register), json=buyer(served, "ada@example.com"))).json()

        async def register_grace() -> int:
            return (await c.post(url(served, register), json=buyer(served, "grace@example.com"))).status_code

        # 409 while Ada's hold lasts (10 model minutes = 1 wall second), then Grace gets the released seat
        assert await wait_for(register_grace, lambda status: status == 200, timeout_s=30, interval_s=0.2) == 200
        late = await c.post(url(served, f"{register}/finalize"), json={"purchaseId": unpaid["purchaseId"]})
        assert late.status_code == 400 and late.json()["type"] == "PurchaseExpired"
        stats = (await c.get("/_harness/stats")).json()
    assert stats["purchases_expired"] == 1 and stats["purchases_held"] == 1
    assert stats["dead_lettered"] == 1  # the abandoned purchase, with its reason: nothing accepted is lost
    assert stats["pending"] == 1 and stats["created"] == 0  # Grace's purchase, held until she pays
    assert served.store.registration_count(event.id) == 0


async def _ada_buys_then_the_server_stops(scenario: Any, db: Path) -> tuple[dict[str, Any], str]:
    """Serve ``scenario`` on ``db``, let Ada buy the event's first pass, stop: her answer, and the event's
    registrations path (the purchase is left held in the store)."""
    first = build_served(scenario, db_path=db, time_scale=1.0, token=TOKEN)
    first.model.start()
    register = f"events/{first.model.catalog.events[0].readable_id}/registrations"
    try:
        async with client(first) as c:
            return (await c.post(url(first, register), json=buyer(first, "ada@example.com"))).json(), register
    finally:
        first.model.stop()
        first.store.close()


async def test_a_held_purchase_survives_a_restart_and_can_still_be_finalized(tmp_path: Path) -> None:
    db = tmp_path / "paid.db"
    scenario = _scenario(timeout="1h")
    answer, register = await _ada_buys_then_the_server_stops(scenario, db)
    second = build_served(scenario, db_path=db, time_scale=1.0, token=TOKEN)
    second.model.start()
    try:
        async with client(second) as c:
            full = await c.post(url(second, register), json=buyer(second, "grace@example.com"))
            assert full.status_code == 409  # the held seat was restored with the purchase
            done = await c.post(url(second, f"{register}/finalize"), json={"purchaseId": answer["purchaseId"]})
            assert done.status_code == 200 and done.json()["status"] == "Success"
            await wait_for(lambda: _json(c, url(second, f"{register}/count")), lambda n: n == 1, timeout_s=30)
    finally:
        second.model.stop()
        second.store.close()
    with Store(db) as store:
        assert store.purchase_counts() == {"held": 0, "confirmed": 1, "expired": 0, "cancelled": 0}


async def _json(c: httpx.AsyncClient, target: str) -> Any:
    return (await c.get(target)).json()


# --- paid and full: a waitlisted buyer has nothing to pay ------------------------------------------------------


async def test_a_full_paid_event_waitlists_the_next_buyer_with_no_purchase_and_nothing_to_finalize(
        tmp_path: Path) -> None:
    """Capacity 1 with a waitlist: the first buyer holds the seat; the next is waitlisted, answered as a free
    waitlisted registration (202 Success, no redirectUrl, no purchaseId), so the portal shows no payment; a
    finalize naming that submission finds no purchase. As the v2.0 sample sends one, a waitlisted attendee with
    no pass is taken too."""
    scenario = parse_scenario({"name": "full", "catalog": {"events": 1, "paid_events": 1, "capacity": 1,
                                                           "waitlist": True}, "payment": {"timeout": "1h"}})
    served = build_served(scenario, db_path=tmp_path / "full.db", time_scale=TIME_SCALE, token=TOKEN)
    served.model.start()
    event = served.model.catalog.events[0]
    register = f"events/{event.readable_id}/registrations"
    try:
        async with client(served) as c:
            held = await c.post(url(served, register), json=buyer(served, "ada@example.com"))
            full = await c.post(url(served, register), json=buyer(served, "grace@example.com"))
            asked = await c.post(url(served, register), json={"attendees": [
                {"firstName": "Alan", "lastName": "Turing", "email": "alan@example.com", "waitlisted": True}]})
            late = await c.post(url(served, f"{register}/finalize"), json={"purchaseId": full.json()["submissionId"]})
            await wait_for(lambda: _json(c, "/_harness/stats"), lambda s: s["pending"] == 1, timeout_s=30)
    finally:
        served.model.stop()
        served.store.close()
    assert held.status_code == 200 and held.json()["status"] == "Redirect"
    for waitlisted in (full, asked):
        assert waitlisted.status_code == 202, waitlisted.text
        assert waitlisted.json()["status"] == "Success"
        assert waitlisted.json()["redirectUrl"] is None and waitlisted.json()["purchaseId"] is None
        assert waitlisted.headers["location"].startswith("/_harness/submissions/")
    assert late.status_code == 400 and late.json()["type"] == "PurchaseNotFound"
    with Store(tmp_path / "full.db") as store:  # one purchase (Ada's); the two others are waitlist items
        assert store.purchase_counts()["held"] == 1 and sum(store.purchase_counts().values()) == 1
        assert store.waitlist_count(event.id) == 2 and store.registration_count(event.id) == 0


async def test_a_held_purchases_location_answers_its_state_until_and_after_it_ends(served: Served) -> None:
    """The paid answer's Location names the purchase on the harness plane: held, then confirmed (pointing at
    its submission); another's, expired once the payment timeout passed."""
    event = served.model.catalog.events[0]
    register = f"events/{event.readable_id}/registrations"
    async with client(served) as c:
        paid = await c.post(url(served, register), json=buyer(served, "ada@example.com"))
        location = paid.headers["location"]
        held = (await c.get(location)).json()
        await c.post(url(served, f"{register}/finalize"), json={"purchaseId": paid.json()["purchaseId"]})
        confirmed = (await c.get(location)).json()
        assert held["state"] == "held" and held["purchaseId"] == paid.json()["purchaseId"]
        assert held["amount"] == event.passes[0].price and held["expiresAt"]
        assert confirmed["state"] == "confirmed"
        assert (await c.get(confirmed["submission"])).status_code == 200
        assert (await c.get("/_harness/purchases/no-such-purchase")).status_code == 404


async def test_an_unpaid_purchases_location_says_expired(tmp_path: Path) -> None:
    scenario = _scenario(timeout="10m")
    served = build_served(scenario, db_path=tmp_path / "expiry.db", time_scale=TIME_SCALE, token=TOKEN)
    served.model.start()
    event = served.model.catalog.events[0]
    try:
        async with client(served) as c:
            paid = await c.post(url(served, f"events/{event.readable_id}/registrations"),
                                json=buyer(served, "ada@example.com"))
            state = await wait_for(lambda: _json(c, paid.headers["location"]), lambda s: s["state"] != "held",
                                   timeout_s=30)
    finally:
        served.model.stop()
        served.store.close()
    assert state["state"] == "expired"


# --- seats that show --------------------------------------------------------------------------------------------


async def test_passes_show_what_is_sold_held_and_left(tmp_path: Path) -> None:
    """Capacity 1 (fewer seats than passes): the passes still offer the one seat, so the v2.0 sample does not
    say "waitlist only" on an empty event (its allPassesSoldOut: every numberOfPassesLeft <= 0, null included).
    A held purchase takes a pass; its payment sells it; the count of registrations follows creation."""
    served = build_served(_scenario(timeout="1h"), db_path=tmp_path / "seats.db", time_scale=TIME_SCALE,
                          token=TOKEN)
    served.model.start()
    event = served.model.catalog.events[0]
    passes, register = f"events/{event.readable_id}/passes", f"events/{event.readable_id}/registrations"

    async def shown(c: httpx.AsyncClient) -> list[tuple[int, int]]:
        return [(p["numberOfPassesSold"], p["numberOfPassesLeft"]) for p in await _json(c, url(served, passes))]

    try:
        async with client(served) as c:
            empty = await shown(c)
            paid = (await c.post(url(served, register), json=buyer(served, "ada@example.com"))).json()
            held = await shown(c)
            held_stats = await _json(c, "/_harness/stats")
            await c.post(url(served, f"{register}/finalize"), json={"purchaseId": paid["purchaseId"]})
            sold = await shown(c)
            await wait_for(lambda: _json(c, url(served, f"{register}/count")), lambda n: n == 1, timeout_s=30)
    finally:
        served.model.stop()
        served.store.close()
    assert empty == [(0, 1), (0, 0)]  # Standard: the one seat; VIP: none (the passes share the event's seats)
    assert held == [(0, 0), (0, 0)] and held_stats["seats_held"] == 1
    assert sold == [(1, 0), (0, 0)]


# --- a payment clock on the wall --------------------------------------------------------------------------------


async def test_a_hold_that_ends_while_the_server_is_down_is_released_at_restart_before_any_answer(
        tmp_path: Path) -> None:
    """The hold's end is stored as a wall-clock instant: the model's own clock resumes where it stopped, but a
    hold whose end passed during the downtime is released as the server starts — before it answers anyone — so
    the next buyer gets the seat at once. One that has not ended keeps its end."""
    db = tmp_path / "wall.db"
    ada, register = await _ada_buys_then_the_server_stops(_scenario(timeout="2s"), db)
    with Store(db) as store:
        stored = store.purchase(ada["purchaseId"])
    assert stored is not None and stored["state"] == "held" and stored["expires_at"] is not None
    await wait_for(_now, lambda now: now > stored["expires_at"], timeout_s=10, interval_s=0.05)  # down past it

    second = build_served(_scenario(timeout="1h"), db_path=db, time_scale=1.0, token=TOKEN)
    try:  # not started yet: the release happened while the model was built, before any request
        assert second.store.purchase(ada["purchaseId"])["state"] == "expired"  # type: ignore[index]
        assert second.model.stats()["purchases_released_at_start"] == 1
        second.model.start()
        async with client(second) as c:
            grace = await c.post(url(second, register), json=buyer(second, "grace@example.com"))
            late = await c.post(url(second, f"{register}/finalize"), json={"purchaseId": ada["purchaseId"]})
    finally:
        second.model.stop()
        second.store.close()
    assert grace.status_code == 200 and grace.json()["status"] == "Redirect"  # the released seat
    assert late.status_code == 400 and late.json()["type"] == "PurchaseExpired"


async def _now() -> float:
    return time.time()
