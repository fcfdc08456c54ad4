"""Fuzz: Hypothesis throws registration bodies (near-valid, arbitrary JSON, raw bytes), query parameters,
headers and paths at the real live model through httpx's ASGI transport — and never gets a 5xx, a stack
trace, or an error answer that is not the documented ``ErrorBody``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_support import TOKEN, Live, live

from simulator.catalog import Event
from simulator.engine.model import Model
from simulator.plan import VALIDATION_READ
from simulator.server.contract import ErrorBody

pytestmark = pytest.mark.slow  # Hypothesis against the live model

SCENARIO = {"catalog": {"events": 2, "paid_events": 1, "draft_events": 1, "capacity": 5, "waitlist": True,
                        "session_capacity": 3}}
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


class Running:
    """One live server and an event loop to drive it from Hypothesis's synchronous examples."""

    def __init__(self, tmp_path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._context = live(tmp_path, SCENARIO)
        self.mock: Live = self.loop.run_until_complete(self._context.__aenter__())
        catalog = self.mock.catalog
        self.events = [e.readable_id for e in (*catalog.events, *catalog.drafts)]
        self.sessions = [s.id for e in catalog.events for s in e.sessions]
        self.passes = [p.id for e in catalog.events for p in e.passes]

    def send(self, method: str, url: str, **options: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.mock.client.request(method, url, **options))

    def close(self) -> None:
        self.loop.run_until_complete(self._context.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server = Running(tmp_path_factory.mktemp("fuzz"))
    yield server
    server.close()


def check(answer: httpx.Response) -> None:
    assert answer.status_code < 500, (answer.status_code, answer.text)
    assert "Traceback" not in answer.text and 'File "' not in answer.text
    if answer.status_code >= 400 and answer.request.method != "HEAD":
        ErrorBody.model_validate(answer.json())


# --- strategies -----------------------------------------------------------------------------------------------

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)  # httpx cannot send lone surrogates


def mostly(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``valid`` about seven times in eight, so enough requests get past the gate and the parser to reach the
    model (``one_of`` alone leaves too few: Hypothesis favours each branch's edge cases)."""
    return st.sampled_from(range(8)).flatmap(lambda pick: other if pick == 7 else valid)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=12)


@st.composite
def attendees(draw: st.DrawFn, event: Event | None) -> dict[str, Any]:
    """Mostly the documented shape for ``event`` (its sessions, its passes when it is paid), with any field
    replaced by something else now and then."""
    sessions = [s.id for s in event.sessions] if event is not None and event.sessions else ["x"]
    passes = [p.id for p in event.passes] if event is not None and event.passes else ["x"]
    fields: dict[str, Any] = {
        "firstName": draw(mostly(st.sampled_from(["Ada", "李", "Zoë 👩🏽‍💻", "Ελένη"]),
                                 st.sampled_from(["", "x" * 101]) | text)),
        "lastName": draw(mostly(st.sampled_from(["Lovelace", "O'Brien; DROP TABLE contacts;--"]), text)),
        "email": draw(mostly(st.emails().map(str), st.sampled_from(["not-an-email", "a b@c.d", "ADA@x.io"]) | text)),
    }
    paid = event is not None and event.paid
    if draw(mostly(st.just(paid), st.just(not paid))):
        fields["passId"] = draw(mostly(st.sampled_from(passes), text | st.none()))
    optional: dict[str, st.SearchStrategy[Any]] = {
        "waitlisted": st.booleans() | st.none(),
        "autoRegister": st.booleans(),
        "responses": st.lists(st.fixed_dictionaries({"id": text}, optional={"value": text | st.none(),
                                                                             "values": st.lists(text, max_size=3)}),
                              max_size=3),
        "attendeeSessions": st.lists(st.fixed_dictionaries({"sessionId": mostly(st.sampled_from(sessions), text)},
                                                           optional={"waitlisted": st.booleans()}), max_size=3),
        "unknownField": json_values,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            fields[key] = draw(strategy)
    for key in list(fields):
        if draw(st.sampled_from(range(20))) == 19:  # now and then: a wrong type, or missing
            if draw(st.booleans()):
                fields[key] = draw(json_values)
            else:
                del fields[key]
    return fields


@st.composite
def requests(draw: st.DrawFn, running: Running) -> tuple[str, bytes]:
    """(readable event id, body): mostly a registration shaped for that event, else any JSON or any bytes."""
    name = draw(mostly(st.sampled_from(running.events), text))
    event = running.mock.catalog.by_readable_id.get(name)
    kind = draw(st.sampled_from(["registration"] * 6 + ["json", "bytes"]))
    if kind == "bytes":
        return name, draw(st.binary(max_size=200))
    if kind == "json":
        return name, json.dumps(draw(json_values)).encode()
    body: dict[str, Any] = {"attendees": draw(mostly(st.lists(attendees(event), min_size=1, max_size=3),
                                                     st.lists(attendees(event), max_size=60)))}
    if draw(st.booleans()):
        body["hipObject"] = draw(st.none() | st.fixed_dictionaries({"Token": text}) | json_values)
    return name, json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


def queries(running: Running) -> st.SearchStrategy[list[tuple[str, str]]]:
    token = mostly(st.just(TOKEN), st.sampled_from(["", "wrong", TOKEN.upper()]) | text)
    extra = st.lists(st.tuples(text, text), max_size=3)
    return st.tuples(mostly(token, st.none()), extra).map(
        lambda pair: ([("emApplicationtoken", pair[0])] if pair[0] is not None else []) + pair[1])


content_types = mostly(st.sampled_from(["application/json", "application/json; charset=utf-8",
                                        "application/vnd.x+json"]),
                       st.sampled_from(["text/plain", "multipart/form-data", ""]) | text)


# --- the fuzz -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(running: Running) -> str:
    return str(running.mock.served.app.state.base_path)


def test_fuzzed_registrations_never_get_a_5xx(running: Running, base: str) -> None:
    @FUZZ
    @given(request=requests(running), params=queries(running), content_type=content_types,
           origin=mostly(st.none(), st.sampled_from(["http://localhost:5173", "https://x.y"])))
    def fuzz(request: tuple[str, bytes], params: list[tuple[str, str]], content_type: str, origin: str | None
             ) -> None:
        event, body = request
        headers = {"Content-Type": content_type.encode("utf-8", "replace")}  # bytes: any header value
        if origin is not None:
            headers["Origin"] = origin.encode()
        url = f"{base}events/{quote(event, safe='')}/registrations"
        check(running.send("POST", url, params=params, content=body, headers=headers))

    fuzz()
    stats = running.loop.run_until_complete(running.mock.stats())
    assert stats["accepted"] > 0 and stats["rejected"] > 0, stats  # both paths were exercised


def test_fuzzed_catalog_reads_and_harness_calls_never_get_a_5xx(running: Running, base: str) -> None:
    tails = st.sampled_from(["events/published", "events/{e}", "events/{e}/sessions", "events/{e}/passes",
                             "events/{e}/registrations/count", "events/{e}/qrcode", "events/{e}/captcha",
                             "sessions/{e}", "sessions/{e}/registrations/count", "speakers/{e}/image",
                             "sponsorships/{e}/logo", "users/authenticated", "events/{e}/registrations/finalize",
                             "checkins"])

    @FUZZ
    @given(tail=tails, segment=st.sampled_from([*running.events, *running.sessions]) | text,
           params=queries(running), method=st.sampled_from(["GET", "GET", "POST", "HEAD", "OPTIONS", "DELETE"]),
           request=requests(running))
    def fuzz(tail: str, segment: str, params: list[tuple[str, str]], method: str, request: tuple[str, bytes]
             ) -> None:
        url = base + tail.replace("{e}", quote(segment, safe=""))
        content = request[1] if method == "POST" else None
        check(running.send(method, url, params=params, content=content))

    @FUZZ
    @given(path=st.sampled_from(["/_harness/timeseries", "/_harness/submissions/{e}", "/_harness/stats",
                                 "/metrics"]), segment=text, params=st.lists(st.tuples(
                                     st.sampled_from(["since_s", "x"]), text | st.floats().map(str)), max_size=2))
    def harness(path: str, segment: str, params: list[tuple[str, str]]) -> None:
        check(running.send("GET", path.replace("{e}", quote(segment, safe="")), params=params))

    fuzz()
    harness()


def test_fuzzed_faults_are_refused_or_applied_never_a_5xx(tmp_path: Path) -> None:
    server = Running(tmp_path)  # its own server: the faults it takes stay there
    try:
        durations = st.sampled_from(["1h", "5m", "1s", "0s", "-1s", "1e9h"]) | st.floats(allow_nan=False) | text
        huge = st.sampled_from([1.7976931348623157e308, 1e300, 5.0]) | st.floats(allow_nan=False)
        well_formed = st.one_of(
            # short outages: a call fails at once during one, so the slow and limit values would go untested
            st.fixed_dictionaries({"kind": st.just("outage"), "duration": st.sampled_from(["1s", "0s", "-1s"])}),
            st.fixed_dictionaries({"kind": st.just("slow"), "duration": durations, "factor": huge}),
            st.fixed_dictionaries({"kind": st.just("limit"), "duration": durations},
                                  optional={"requests_limit": st.integers(), "execution_limit": durations,
                                            "concurrency_limit": st.integers()}))
        anything = st.dictionaries(st.sampled_from(["kind", "duration", "factor", "requests_limit", "other"]),
                                   json_values, max_size=4)
        fault = mostly(well_formed, anything | json_values)

        driver = server.mock.served.model.driver

        def call_dataverse(model: Model) -> None:  # a call under whatever faults are now in force
            model.env.process(model.dataverse.call(0, VALIDATION_READ))

        @FUZZ
        @given(body=fault)
        def fuzz(body: Any) -> None:
            check(server.send("POST", "/_harness/faults", content=json.dumps(body).encode()))
            driver.call(call_dataverse).result(timeout=5)

        fuzz()
        driver.call(lambda model: None).result(timeout=5)  # the model thread has run everything injected
        assert driver.running and driver.error is None, driver.error  # no fault value kills the model thread
    finally:
        server.close()
