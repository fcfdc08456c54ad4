"""The harness plane: health, stats, submission status, faults, time series, /metrics, and its admin token."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from test_server_fakes import ORG, FakeModel, api, attendee, build, client, make_app

from simulator.server import STATS_KEYS

pytestmark = pytest.mark.anyio

CATALOG = build()


@pytest.fixture
def served() -> tuple[FastAPI, FakeModel]:
    return make_app(CATALOG)


async def test_health(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.get("/_harness/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "organizationId": ORG, "events": len(CATALOG.events)}


async def test_stats_are_the_models(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    async with client(app) as c:
        await c.post(api(f"events/{CATALOG.events[0].readable_id}/registrations"), json={"attendees": [attendee()]})
        stats = (await c.get("/_harness/stats")).json()
    assert set(STATS_KEYS) <= set(stats)
    assert stats["offered"] == 1 and stats["accepted"] == 1 and stats["pending"] == 1


async def test_unknown_submission_is_404(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.get("/_harness/submissions/nope")
    assert response.status_code == 404 and response.json()["type"] == "SubmissionNotFound"


@pytest.mark.parametrize(("body", "kind", "duration_s", "values"), [
    ({"kind": "outage", "duration": "5m"}, "outage", 300.0, {}),
    ({"kind": "slow", "duration": 30}, "slow", 30.0, {"factor": 5.0}),
    ({"kind": "slow", "duration": "1m", "factor": 3}, "slow", 60.0, {"factor": 3.0}),
    ({"kind": "limit", "duration": "10m", "requests_limit": 3000}, "limit", 600.0, {"requests_limit": 3000}),
    ({"kind": "limit", "duration": "2m", "execution_limit": "5m", "concurrency_limit": 10}, "limit", 120.0,
     {"execution_limit": 300.0, "concurrency_limit": 10}),
])
async def test_faults_are_handed_to_the_model(served: tuple[FastAPI, FakeModel], body: dict[str, Any], kind: str,
                                              duration_s: float, values: dict[str, Any]) -> None:
    app, model = served
    async with client(app) as c:
        response = await c.post("/_harness/faults", json=body)
    assert response.status_code == 202
    assert response.json() == {"kind": kind, "duration_s": duration_s, **values}
    assert model.faults == [(kind, duration_s, values)]


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "earthquake", "duration": "5m"}, "kind"),
    ({"kind": "outage"}, "duration"),
    ({"kind": "outage", "duration": "5 minutes"}, "duration"),
    ({"kind": "outage", "duration": 0}, "duration"),
    ({"kind": "limit", "duration": "5m"}, "(body)"),
    ({"kind": "outage", "duration": "5m", "factor": 2}, "(body)"),
    ({"kind": "slow", "duration": "5m", "factor": 0.5}, "factor"),
    ({"kind": "outage", "duration": "5m", "severity": "high"}, "severity"),
])
async def test_bad_faults_are_422(served: tuple[FastAPI, FakeModel], body: dict[str, Any], field: str) -> None:
    app, model = served
    async with client(app) as c:
        response = await c.post("/_harness/faults", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert model.faults == []


async def test_a_fault_the_model_refuses_is_400(served: tuple[FastAPI, FakeModel]) -> None:
    app, _ = served
    async with client(app) as c:
        response = await c.post("/_harness/faults", json={"kind": "limit", "duration": "1m",
                                                          "requests_limit": 10_000_000})
    assert response.status_code == 400 and response.json()["type"] == "FaultRejected"


async def test_timeseries(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    async with client(app) as c:
        everything = (await c.get("/_harness/timeseries")).json()
        later = (await c.get("/_harness/timeseries", params={"since_s": 0})).json()
    assert everything == model.rows
    assert later == model.rows[1:]


async def test_metrics_parse_as_prometheus_text(served: tuple[FastAPI, FakeModel]) -> None:
    app, model = served
    model.counters.update(created=7, dv_throttled=5, dv_throttled_requests=4, dv_throttled_concurrency=1,
                          cache_hits=90, cache_misses=10)
    async with client(app) as c:
        await c.get(api("events/published"))
        await c.get(api("events/published", token="wrong"))
        response = await c.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    value = {f.name: f.samples[0].value for f in families.values() if len(f.samples) == 1}
    assert families["stampede_submissions_created"].type == "counter"
    assert value["stampede_submissions_created"] == 7
    assert value["stampede_dataverse_throttled"] == 5
    assert value["stampede_cache_hits"] == 90
    assert families["stampede_submissions_pending"].type == "gauge"
    by_limit = {s.labels["limit"]: s.value for s in families["stampede_dataverse_throttled_by_limit"].samples
                if s.name.endswith("_total")}
    assert by_limit == {"requests": 4, "execution": 0, "concurrency": 1}
    codes = {s.labels["code"]: s.value for s in families["stampede_http_responses"].samples
             if s.name.endswith("_total")}
    assert codes["200"] >= 1 and codes["401"] == 1


# --- the admin token ------------------------------------------------------------------------------------------

HARNESS_GETS = ["/_harness/health", "/_harness/stats", "/_harness/timeseries", "/_harness/submissions/x",
                "/metrics"]


async def test_loopback_without_admin_token_is_open() -> None:
    app, _ = make_app(CATALOG, host="127.0.0.1")
    assert app.state.admin_token is None
    async with client(app) as c:
        assert (await c.get("/_harness/health")).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
async def test_non_loopback_requires_the_admin_token(host: str) -> None:
    app, _ = make_app(CATALOG, host=host)
    admin = app.state.admin_token
    assert admin and len(admin) >= 32
    async with client(app) as c:
        for path in HARNESS_GETS:
            missing = await c.get(path)
            wrong = await c.get(path, headers={"Authorization": "Bearer nope"})
            assert (missing.status_code, wrong.status_code) == (401, 401), path
            assert missing.headers["www-authenticate"] == "Bearer"
            right = await c.get(path, headers={"Authorization": f"Bearer {admin}"})
            assert right.status_code in (200, 404), path  # 404: submission x does not exist
        fault = await c.post("/_harness/faults", json={"kind": "outage", "duration": "1m"})
        assert fault.status_code == 401
        # the real API surface is unaffected: it has its own token
        assert (await c.get(api("events/published"))).status_code == 200


async def test_an_explicit_admin_token_is_required_on_loopback_too() -> None:
    app, _ = make_app(CATALOG, admin_token="s3cret")
    async with client(app) as c:
        assert (await c.get("/_harness/stats")).status_code == 401
        assert (await c.get("/_harness/stats", headers={"Authorization": "Bearer s3cret"})).status_code == 200
