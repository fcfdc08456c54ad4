"""An in-memory LiveModel for the HTTP-face tests, and the app they run against.

``FakeModel`` accepts what ``entity_refusal`` and a simple capacity check let through, records every request,
and creates submissions only when a test says so (``create``), so tests can watch counts move. It is test
support, not part of the package; the real model drives the SimPy engine.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI

from simulator.catalog import Catalog, Event, build_catalog
from simulator.scenario import Catalog as CatalogSettings
from simulator.server import (
    STATS_KEYS,
    Accepted,
    LiveModel,
    Refused,
    RegistrationOutcome,
    RejectionCode,
    create_app,
    entity_refusal,
)
from simulator.server.contract import RegistrationRequest

ORG = "6f2c1d4e-0b7a-4c55-9a61-1d2f3e4a5b6c"
TOKEN = "B7vdzdhCiLt9c5iT-test-token"
ORIGIN = "http://localhost:5173"
BASE = f"/api/v1.0/orgs/{ORG}/eventmanagement"


def api(path: str, token: str | None = TOKEN, **query: str) -> str:
    """An event API URL with the token (``token=None`` leaves it out)."""
    params = dict(query)
    if token is not None:
        params["emApplicationtoken"] = token
    return f"{BASE}/{path.lstrip('/')}" + (f"?{urlencode(params)}" if params else "")


class FakeModel:
    """Accepts, records, and creates on demand."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.requests: list[tuple[Event, RegistrationRequest]] = []
        self.submissions: dict[str, dict[str, Any]] = {}
        self.bodies: dict[str, RegistrationRequest] = {}
        self.seats: Counter[str] = Counter()
        self.created_events: Counter[str] = Counter()
        self.created_sessions: Counter[str] = Counter()
        self.counters: Counter[str] = Counter(dict.fromkeys(STATS_KEYS, 0))
        self.faults: list[tuple[str, float, dict[str, Any]]] = []
        self.rows: list[dict[str, Any]] = [{"t_s": 0.0, "offered": 0}, {"t_s": 10.0, "offered": 3}]
        self.refuse_next: Refused | None = None
        self.fail_next = False
        self.redirect_url: str | None = None
        self._ids = itertools.count(1)

    async def register(self, event: Event, request: RegistrationRequest) -> RegistrationOutcome:
        self.requests.append((event, request))
        self.counters["offered"] += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the fake model failed on purpose")
        refusal = self.refuse_next or entity_refusal(event, request)
        self.refuse_next = None
        seats = sum(1 for a in request.attendees if not a.waitlisted)
        if refusal is None and event.capacity and self.seats[event.id] + seats > event.capacity and not event.waitlist:
            refusal = Refused(RejectionCode.EVENT_FULL, f"event {event.readable_id} is full")
        if refusal is not None:
            self.counters["rejected"] += 1
            return refusal
        self.seats[event.id] += seats
        submission_id = f"sub-{next(self._ids):06d}"
        self.bodies[submission_id] = request
        self.submissions[submission_id] = {
            "id": submission_id, "event_id": event.id, "state": "accepted", "attempts": 0, "accepted_s": 1.0,
            "created_s": None, "dead_lettered_s": None, "last_error": None,
        }
        self.counters["accepted"] += 1
        self.counters["pending"] += 1
        return Accepted(submission_id, self.redirect_url)

    def create(self, submission_id: str) -> None:
        """The processors finished this submission: its registrations now exist."""
        status = self.submissions[submission_id]
        if status["state"] == "created":
            return
        status.update(state="created", created_s=5.0, attempts=1)
        for attendee in self.bodies[submission_id].attendees:
            if attendee.waitlisted:
                continue
            self.created_events[status["event_id"]] += 1
            for chosen in attendee.attendeeSessions:
                if not chosen.waitlisted:
                    self.created_sessions[chosen.sessionId] += 1
        self.counters["created"] += 1
        self.counters["pending"] -= 1

    def registration_count(self, event_id: str) -> int:
        return self.created_events[event_id]

    def session_registration_count(self, session_id: str) -> int:
        return self.created_sessions[session_id]

    async def submission(self, submission_id: str) -> dict[str, Any] | None:
        return self.submissions.get(submission_id)

    def stats(self) -> dict[str, Any]:
        return dict(self.counters)

    def timeseries(self) -> list[dict[str, Any]]:
        return list(self.rows)

    async def inject_fault(self, kind: str, duration_s: float, **values: Any) -> None:
        if values.get("requests_limit", 1) > 1_000_000:
            raise ValueError("requests_limit above 1000000 is not a Dataverse limit")
        self.faults.append((kind, duration_s, values))


def build(paid_events: int = 1, **settings: Any) -> Catalog:
    return build_catalog(CatalogSettings(paid_events=paid_events, **settings), seed=7)


def make_app(catalog: Catalog | None = None, **options: Any) -> tuple[FastAPI, FakeModel]:
    catalog = catalog or build()
    model = FakeModel(catalog)
    app = create_app(catalog, org_id=ORG, token=TOKEN, origin=ORIGIN, model=model, **options)
    return app, model


def client(app: FastAPI) -> httpx.AsyncClient:
    """An in-process client (no socket); app errors become 500 answers, as a server would send them."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def attendee(**fields: Any) -> dict[str, Any]:
    body = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com",
            "responses": [{"id": "jobtitle", "value": "Engineer"}]}
    body.update(fields)
    return body


def test_fake_model_satisfies_the_protocol() -> None:
    assert isinstance(FakeModel(build()), LiveModel)
