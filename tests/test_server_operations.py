"""The table of operations is the one source: the routes, the fast lane and the contract all follow it, and a
refusal's status and error type follow its code."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from test_server_fakes import api, build, client, make_app

from conformance.generate import CONTRACT_PATH
from simulator import plan
from simulator.engine.pipeline import Rejected
from simulator.server import Refused, RejectionCode
from simulator.server.api import api_router
from simulator.server.errors import ErrorType
from simulator.server.operations import EVENT_MANAGEMENT, OPERATIONS, REFUSALS

pytestmark = pytest.mark.anyio

CATALOG = build(paid_events=1, events=3, sessions_per_event=2, speakers_per_event=1, sponsors_per_event=1)
FREE = CATALOG.events[0]
CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
ATTENDEE = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com"}


def test_the_table_has_the_19_operations_each_once() -> None:
    assert len(OPERATIONS) == 19
    assert len({op.operation_id for op in OPERATIONS}) == 19
    assert len({(op.method, op.path) for op in OPERATIONS}) == 19


def test_the_contract_has_exactly_the_tables_operations_and_refusals() -> None:
    published = {op["operationId"]: (method.upper(), path, op) for path, methods in CONTRACT["paths"].items()
                 for method, op in methods.items()}
    assert set(published) == {op.operation_id for op in OPERATIONS}
    for operation in OPERATIONS:
        method, path, contract = published[operation.operation_id]
        assert (method, path) == (operation.method, EVENT_MANAGEMENT + operation.path)
        statuses = {int(s) for s in contract["responses"]}
        assert statuses == {a.status for a in operation.answers} | {e.status for e in operation.documented_refusals()}
        assert bool(contract["security"]) is operation.secured
        assert ("requestBody" in contract) is (operation.body is not None)


def test_every_engine_refusal_has_a_status_and_an_error_type() -> None:
    assert set(REFUSALS) == set(RejectionCode) - {RejectionCode.WITHDRAWN}
    assert all(isinstance(error, ErrorType) and error.status in (400, 409, 429, 503) for error in REFUSALS.values())


def test_the_pages_charged_to_the_read_cache_are_the_ones_simulated_visitors_browse() -> None:
    charged = {op.charges for op in OPERATIONS if op.charges is not None}
    assert charged == {kind for kind, _ in plan.browse_keys("some-event")}


def test_the_engine_record_counts_by_code_and_keeps_the_detail() -> None:
    rejected = Rejected(RejectionCode.THROTTLED, 30.0, "429 requests limit (0x80072322)")
    assert rejected.reason == "validation read throttled: 429 requests limit (0x80072322)"
    assert Rejected(RejectionCode.EVENT_FULL).reason == RejectionCode.EVENT_FULL.value


@pytest.mark.parametrize("code", list(REFUSALS), ids=lambda c: c.name)
async def test_a_refusal_code_becomes_the_tables_status_and_type(code: RejectionCode) -> None:
    app, model = make_app(CATALOG)
    model.refuse_next = Refused(code, f"refused: {code.value}", retry_after_s=7 if code is RejectionCode.THROTTLED
                                else None)
    async with client(app) as c:
        response = await c.post(api(f"events/{FREE.readable_id}/registrations"), json={"attendees": [ATTENDEE]})
    assert (response.status_code, response.json()["type"]) == (REFUSALS[code].status, REFUSALS[code].type)
    assert response.json()["errorMessage"] == f"refused: {code.value}"
    assert (response.headers.get("retry-after") == "7") is (code is RejectionCode.THROTTLED)


def _requests() -> list[tuple[str, str, dict[str, Any] | None]]:
    """One request per operation, with values from the catalog (and one that is refused, for the 404s)."""
    session, speaker, sponsorship = FREE.sessions[0], FREE.speakers[0], FREE.sponsorships[0]
    event = f"events/{FREE.readable_id}"
    return [("GET", "events/published", None), ("GET", event, None), ("GET", f"{event}/captcha", None),
            ("GET", f"{event}/custom-registration-fields", None), ("GET", f"{event}/qrcode", None),
            ("GET", f"{event}/sessions", None), ("GET", f"{event}/tracks", None), ("GET", f"{event}/passes", None),
            ("GET", f"{event}/speakers", None), ("GET", f"{event}/sponsorships", None),
            ("GET", f"sponsorships/{sponsorship.id}/logo", None), ("GET", f"speakers/{speaker.id}/image", None),
            ("GET", f"sessions/{session.id}", None), ("GET", "users/authenticated", None),
            ("GET", f"{event}/registrations/count", None), ("GET", f"sessions/{session.id}/registrations/count", None),
            ("POST", f"{event}/registrations", {"attendees": [ATTENDEE]}),
            ("POST", f"{event}/registrations/finalize", {"purchaseId": "nope"}),
            ("POST", "checkins", {"registrationId": "r1"}),
            ("GET", "events/no-such-event/sessions", None), ("GET", "sessions/no-such-session", None),
            ("POST", "events/no-such-event/registrations", {"attendees": [ATTENDEE]})]


async def test_the_fast_lane_and_the_fastapi_routes_answer_alike() -> None:
    """The same handlers behind both: FastAPI's routes alone (no gate, no lane) answer what the full app does."""
    app, _ = make_app(CATALOG)
    routes_only = FastAPI()
    routes_only.include_router(api_router(app.state.handlers))
    async with client(app) as full, client(routes_only) as bare:
        for method, path, body in _requests():
            url = api(path)
            answers = [await c.request(method, url, json=body) for c in (full, bare)]
            assert answers[0].status_code == answers[1].status_code, (method, path)
            if answers[0].headers.get("content-type") == "application/json" and answers[0].status_code < 400:
                if "checkins" not in path and "registrations" not in path:  # fresh ids in those
                    assert answers[0].content == answers[1].content, (method, path)
            elif answers[0].status_code >= 400:
                assert answers[0].json()["type"] == answers[1].json()["type"], (method, path)


def test_every_operation_has_its_handler() -> None:
    app, _ = make_app(CATALOG)
    assert set(app.state.handlers) == {op.operation_id for op in OPERATIONS}
