"""The HTTP face over the REAL live model (not the fake), in-process: each operation answers, registrations
go through the model's cache and Dataverse, and the harness shows the model's counters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from simulator.scenario import parse_scenario
from simulator.server.serve import Served, build_served

pytestmark = pytest.mark.anyio
TOKEN = "live-token"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    scenario = parse_scenario({"name": "live", "catalog": {"events": 2, "paid_events": 1, "capacity": 2,
                                                           "waitlist": False}})
    served = build_served(scenario, db_path=tmp_path / "live.db", time_scale=600, token=TOKEN)
    served.model.start()
    try:
        yield served
    finally:
        served.model.stop()
        served.store.close()


def client(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=served.app), base_url="http://mock")


def path(served: Served, tail: str) -> str:
    return f"{served.app.state.base_path}{tail}?emApplicationtoken={TOKEN}"


async def test_every_catalog_operation_answers_over_the_live_model(served: Served) -> None:
    catalog = served.model.catalog
    free, paid = catalog.events
    session, speaker, sponsorship = free.sessions[0], free.speakers[0], free.sponsorships[0]
    gets = {
        "events/published": "application/json", f"events/{free.readable_id}": "application/json",
        f"events/{free.readable_id}/sessions": "application/json", f"events/{free.readable_id}/tracks":
        "application/json", f"events/{paid.readable_id}/passes": "application/json",
        f"events/{free.readable_id}/speakers": "application/json",
        f"events/{free.readable_id}/sponsorships": "application/json",
        f"events/{free.readable_id}/custom-registration-fields": "application/json",
        f"events/{free.readable_id}/registrations/count": "application/json",
        f"events/{free.readable_id}/qrcode": "image/png", f"speakers/{speaker.id}/image": "image/png",
        f"sponsorships/{sponsorship.id}/logo": "image/png", f"sessions/{session.id}": "application/json",
        f"sessions/{session.id}/registrations/count": "application/json", "users/authenticated": "application/json",
    }
    async with client(served) as c:
        for tail, content_type in gets.items():
            answer = await c.get(path(served, tail))
            assert answer.status_code == 200, (tail, answer.text)
            assert answer.headers["content-type"].startswith(content_type), tail


async def test_registration_goes_through_the_model_to_created_and_capacity_holds(served: Served) -> None:
    free = served.model.catalog.events[0]
    async with client(served) as c:
        answers = []
        for i in range(3):
            body = {"attendees": [{"firstName": "Grace", "lastName": "Hopper", "email": f"g{i}@example.com",
                                   "attendeeSessions": [{"sessionId": free.sessions[0].id}]}]}
            answers.append(await c.post(path(served, f"events/{free.readable_id}/registrations"), json=body))
        assert [a.status_code for a in answers] == [202, 202, 409]  # capacity 2, no waitlist
        assert answers[2].json()["type"] == "EventFull"
        for _ in range(200):
            count = (await c.get(path(served, f"events/{free.readable_id}/registrations/count"))).json()
            if count == 2:
                break
            await asyncio.sleep(0.02)
        assert count == 2
        session_count = await c.get(path(served, f"sessions/{free.sessions[0].id}/registrations/count"))
        assert session_count.json() == 2
        stats = (await c.get("/_harness/stats")).json()
        assert stats["offered"] == 3 and stats["accepted"] == 2 and stats["rejected"] == 1
        assert stats["created"] == 2 and stats["cache_misses"] >= 1 and stats["dv_admitted"] >= 7
        metrics = (await c.get("/metrics")).text
        assert "stampede_created" in metrics or "created" in metrics


async def test_a_paid_event_without_a_pass_is_refused_after_the_validation_read(served: Served) -> None:
    paid = served.model.catalog.events[1]
    async with client(served) as c:
        body = {"attendees": [{"firstName": "Alan", "lastName": "Turing", "email": "alan@example.com"}]}
        answer = await c.post(path(served, f"events/{paid.readable_id}/registrations"), json=body)
        assert answer.status_code == 400 and answer.json()["type"] == "PassRequired"
        ok = {"attendees": [{**body["attendees"][0], "passId": paid.passes[0].id}]}
        answer = await c.post(path(served, f"events/{paid.readable_id}/registrations"), json=ok)
        assert answer.status_code == 200 and "redirectUrl" in answer.text
        stats = (await c.get("/_harness/stats")).json()
        # the paid registration is a held purchase: accepted once finalize confirms the payment
        assert stats["rejected"] == 1 and stats["accepted"] == 1 and stats["purchases_held"] == 1
        assert stats["pending"] == 1 and stats["created"] == 0  # not created before anyone pays


async def test_faults_injected_over_http_reach_the_model(served: Served) -> None:
    async with client(served) as c:
        answer = await c.post("/_harness/faults", json={"kind": "outage", "duration": "1m"})
        assert answer.status_code in (200, 201, 202), answer.text
        assert served.model.model.dataverse.outages == 1


async def test_retry_after_is_in_wall_seconds_at_a_fast_clock(tmp_path: Path) -> None:
    """The model's Retry-After is simulated seconds; an HTTP caller waits on the wall clock."""
    scenario = parse_scenario({"name": "tight", "catalog": {"events": 1, "capacity": 0},
                               "api": {"cache": "none", "instances": 1},
                               "dataverse": {"requests_limit": 2, "window": "5m"}})
    served = build_served(scenario, db_path=tmp_path / "tight.db", time_scale=60, token=TOKEN)
    served.model.start()
    try:
        event = served.model.catalog.events[0]
        body = {"attendees": [{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}]}
        async with client(served) as c:
            answers = [await c.post(path(served, f"events/{event.readable_id}/registrations"), json=body)
                       for _ in range(4)]
        throttled = [a for a in answers if a.status_code == 429]
        assert throttled, [a.status_code for a in answers]
        for answer in throttled:
            assert 1 <= int(answer.headers["retry-after"]) <= 5  # ≤ 300 simulated s ÷ 60
    finally:
        served.model.stop()
        served.store.close()
