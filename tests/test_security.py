"""Security: tokens compared in constant time; a foreign Origin gets 403 and no CORS headers; the harness plane
needs the admin token whenever the server binds beyond loopback; error bodies carry no stack traces or paths,
even when the store or the model thread fails; every SQL statement is parameterized; adversarial input cannot
grow the model's memory without bound."""

from __future__ import annotations

import ast
import asyncio
import hmac
import inspect
import itertools
import random
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import simpy
from live_support import live, person, registration, wait_for
from sql_check import check_paths, check_source
from test_server_fakes import ORIGIN, TOKEN, api, build, client, make_app

from simulator.engine.model import build_model
from simulator.engine.pipeline import Offer, RejectionCode
from simulator.scenario import parse_scenario
from simulator.server import gate as gate_module
from simulator.server.contract import ErrorBody
from simulator.server.store import Store

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- tokens in constant time ----------------------------------------------------------------------------------


def test_the_gate_never_compares_a_secret_with_equality() -> None:
    tree = ast.parse(inspect.getsource(gate_module))
    secret = re.compile(r"token|admin|supplied|authorization|bearer", re.IGNORECASE)
    offending = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Compare)
                 and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
                 and any(not isinstance(operand, ast.Constant) and secret.search(ast.unparse(operand))
                         for operand in (node.left, *node.comparators))]
    assert offending == []
    digests = [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Call)
               and ast.unparse(node.func) in ("hmac.compare_digest", "secrets.compare_digest")]
    assert any("self.token" in call for call in digests), digests  # the application token
    assert any("self.admin" in call for call in digests), digests  # the harness admin token


async def test_every_token_check_goes_through_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(supplied: Any, expected: Any) -> bool:
        compared.append((supplied, expected))
        return real(supplied, expected)

    monkeypatch.setattr(gate_module.hmac, "compare_digest", spy)
    app, _ = make_app(build(), admin_token="s3cret")
    async with client(app) as c:
        assert (await c.get(api("events/published", token="guess"))).status_code == 401
        assert (await c.get(api("events/published"))).status_code == 200
        assert (await c.get("/_harness/stats", headers={"Authorization": "Bearer guess"})).status_code == 401
        assert (await c.get("/_harness/stats", headers={"Authorization": "Bearer s3cret"})).status_code == 200
    assert compared == [(b"guess", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode()),
                        (b"Bearer guess", b"Bearer s3cret"), (b"Bearer s3cret", b"Bearer s3cret")]


# --- origin and CORS ------------------------------------------------------------------------------------------

FOREIGN = ["https://evil.example", "http://localhost:5173.evil.example", "http://localhost:5174",
           "https://localhost:5173", "null", "http://evil.example/http://localhost:5173"]


@pytest.mark.parametrize("origin", FOREIGN)
async def test_a_foreign_origin_gets_403_no_cors_headers_and_nothing_happens(tmp_path: Path, origin: str) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}, origin=ORIGIN) as mock:
        headers = {"Origin": origin}
        answers = [
            await mock.client.get(mock.api("events/published"), headers=headers),
            await mock.client.get(mock.api("events/launch-001/sessions"), headers=headers),
            await mock.client.post(mock.api("events/launch-001/registrations"), headers=headers,
                                   json=registration(person("ada@contoso.com"))),
            await mock.client.options(mock.api("events/launch-001/registrations"),
                                      headers={**headers, "Access-Control-Request-Method": "POST"}),
            await mock.client.get("/_harness/stats", headers=headers),
        ]
        for answer in answers:
            assert answer.status_code == 403 and answer.json()["type"] == "OriginNotAllowed"
            assert [h for h in answer.headers if h.lower().startswith("access-control-")] == []
        stats = await mock.stats()
        assert stats["offered"] == 0 and mock.served.store.counts()["submissions"]["accepted"] == 0
        ours = await mock.client.get(mock.api("events/published"), headers={"Origin": ORIGIN})
        assert ours.headers["access-control-allow-origin"] == ORIGIN  # exactly the web app's, never *


# --- the harness plane beyond loopback ------------------------------------------------------------------------

HARNESS = [("GET", "/_harness/health"), ("GET", "/_harness/stats"), ("GET", "/_harness/timeseries"),
           ("GET", "/_harness/submissions/x"), ("GET", "/metrics"), ("HEAD", "/_harness/stats"),
           ("POST", "/_harness/faults")]
DISGUISED = ["//_harness/stats", "/_harness//stats", "/%5Fharness/stats", "/_HARNESS/stats", "/_harness/stats/",
             "/metrics/", "/_harness/./stats", "/api/../_harness/stats", "/_harness/stats?x=/api/v1.0/orgs/"]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "stampede.example.com"])
async def test_beyond_loopback_the_harness_plane_refuses_requests_without_the_admin_token(
        tmp_path: Path, host: str) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}, host=host) as mock:  # build_served: stampede serve's path
        admin = mock.served.app.state.admin_token
        assert admin and len(admin) >= 32
        fault = {"kind": "outage", "duration": "1h"}
        for method, path in HARNESS:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": admin}):
                answer = await mock.client.request(method, path, headers=headers, json=fault)
                assert answer.status_code == 401, (method, path, headers)
                if method != "HEAD":
                    assert answer.json()["type"] == "AdminTokenRequired"
        for path in DISGUISED:
            answer = await mock.client.get(path)
            assert answer.status_code not in range(200, 300), path
            assert "dv_admitted" not in answer.text, path
        assert mock.served.model.model.dataverse.outages == 0  # no fault got through
        accepted = await mock.register("launch-001", registration(person("ada@contoso.com")))
        assert accepted.status_code == 202  # the event API keeps its own token
        assert (await mock.client.get(accepted.headers["location"])).status_code == 401
        bearer = {"Authorization": f"Bearer {admin}"}
        assert (await mock.client.get(accepted.headers["location"], headers=bearer)).status_code == 200
        assert (await mock.client.get("/_harness/stats", headers=bearer)).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
async def test_on_loopback_the_harness_plane_is_open_unless_an_admin_token_is_set(tmp_path: Path, host: str) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}, host=host) as mock:
        assert mock.served.app.state.admin_token is None
        assert (await mock.client.get("/_harness/stats")).status_code == 200


# --- no stack traces or paths in error bodies -----------------------------------------------------------------

LEAKS = re.compile(r"Traceback|File \"|\.py\b|/work/|/home/|/tmp/|sqlite3|OperationalError|RuntimeError|line \d+")


def assert_clean_error(answer: httpx.Response, status: int, *secrets: str) -> None:
    assert answer.status_code == status, answer.text
    ErrorBody.model_validate(answer.json())
    assert not LEAKS.search(answer.text), answer.text
    for secret in secrets:
        assert secret not in answer.text


async def test_a_store_that_fails_answers_a_plain_500_and_the_model_keeps_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}) as mock:
        store = mock.served.store
        real = store.accept_many
        failing = True

        def accept_many(items: Any) -> int:
            if failing:
                raise sqlite3.OperationalError("disk I/O error on /srv/secret/stampede.db")
            return real(items)

        monkeypatch.setattr(store, "accept_many", accept_many)
        lost = await asyncio.wait_for(mock.register("launch-001", registration(person("ada@contoso.com"))), 5)
        assert_clean_error(lost, 500, "disk I/O", "/srv/secret")
        failing = False
        kept = await asyncio.wait_for(mock.register("launch-001", registration(person("grace@contoso.com"))), 5)
        assert kept.status_code == 202  # the model thread survived the failed write
        stats = await mock.settled()
        assert stats["created"] == 1 and mock.served.store.counts()["contacts"] == 1  # Ada was never accepted


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the crash is the point
async def test_when_the_model_thread_dies_waiting_requests_are_answered_not_left_hanging(tmp_path: Path) -> None:
    slow_read = {"median": "3s", "p99": "3s"}
    scenario = {"catalog": {"events": 1}, "dataverse": {"latency": {"read": slow_read}}}
    async with live(tmp_path, scenario, time_scale=1.0) as mock:
        waiting = asyncio.ensure_future(mock.register("launch-001", registration(person("ada@contoso.com"))))
        pipeline = mock.served.model.model.pipeline
        await wait_for(lambda: _now(pipeline.validating), lambda n: n == 1, timeout_s=5, interval_s=0.01)
        # the request is now waiting for its validation read (3 s)

        def crash(env: simpy.Environment) -> Any:
            yield env.timeout(0.1)
            raise RuntimeError("model bug at /srv/secret/engine.py line 12")

        mock.served.model.driver.call(lambda model: model.env.process(crash(model.env)))
        started = time.monotonic()
        answer = await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - started < 2.0
        assert_clean_error(answer, 500, "model bug", "/srv/secret")
        later = await asyncio.wait_for(mock.register("launch-001", registration(person("grace@contoso.com"))), 5)
        assert_clean_error(later, 500, "model bug")
        assert (await mock.client.get("/_harness/health")).status_code == 200


async def test_an_unexpected_error_in_any_route_answers_a_plain_500(monkeypatch: pytest.MonkeyPatch) -> None:
    app, model = make_app(build())

    def broken() -> dict[str, Any]:
        raise KeyError("secret key at /srv/secret/harness.py")

    monkeypatch.setattr(model, "stats", broken)
    async with client(app) as c:
        assert_clean_error(await c.get("/_harness/stats"), 500, "secret key")
        model.fail_next = True
        assert_clean_error(await c.post(api("events/launch-001/registrations"),
                                        json=registration(person("ada@contoso.com"))), 500, "on purpose")


# --- SQL ------------------------------------------------------------------------------------------------------


def test_every_sql_statement_in_the_project_is_parameterized() -> None:
    paths = [p for folder in ("simulator", "stampede", "benchmarks") for p in sorted((ROOT / folder).rglob("*.py"))]
    checked, findings = check_paths(paths)
    assert checked >= 20, "the check should see the store's statements"
    # The Dataverse face builds its statements from its table definitions (identifiers written in tables.py) and
    # compiles $filter with every value a parameter: no client text reaches the SQL, which
    # tests/test_dataverse_odata.py holds it to with injection attempts. Its one module is exempt, nothing else.
    generated = ROOT / "simulator" / "server" / "dataverse_api" / "records.py"
    assert [str(f) for f in findings if Path(f.path) != generated] == []


@pytest.mark.parametrize("source", [
    'db.execute(f"SELECT * FROM contacts WHERE email = \'{email}\'")',
    'db.execute("SELECT * FROM contacts WHERE email = \'" + email + "\'")',
    'db.execute("SELECT * FROM contacts WHERE email = \'%s\'" % email)',
    'db.execute("SELECT * FROM contacts WHERE email = \'{}\'".format(email))',
    'sql = f"DELETE FROM contacts WHERE id = {i}"\ndb.execute(sql)',
    'def one(sql):\n    return db.execute(sql)\none(f"SELECT {column} FROM contacts")',
    'for sql in statements:\n    db.execute(sql)',
], ids=["f-string", "concatenation", "percent", "format", "via a variable", "via a helper", "from a loop"])
def test_the_sql_check_catches_built_statements(source: str) -> None:
    assert check_source(source)[1], source


@pytest.mark.parametrize("source", [
    'db.execute("SELECT * FROM contacts WHERE email = ?", (email,))',
    'COUNTS = {"c": "SELECT COUNT(*) FROM contacts"}\ndef f(t):\n    return db.execute(COUNTS[t])',
    'def one(sql, p):\n    return db.execute(sql, p)\none("SELECT 1 WHERE ? = ?", (a, b))',
])
def test_the_sql_check_accepts_parameterized_statements(source: str) -> None:
    assert check_source(source) == (1, [])


def test_hostile_strings_are_stored_as_data(tmp_path: Path) -> None:
    hostile = "x'); DROP TABLE contacts; --\"\\%_"
    with Store(tmp_path / "hostile.db") as store:
        body = registration(person(f"a{hostile[:4]}@contoso.com", firstName=hostile, lastName=hostile,
                                   responses=[{"id": hostile, "value": hostile}]))
        import json

        assert store.accept(hostile, hostile, json.dumps(body), 1.0)
        assert store.mark_created(hostile, 2.0).event_registrations == 1
        assert store.submission(hostile)["event_id"] == hostile  # type: ignore[index]
        assert store.registration_count(hostile) == 1
        assert store.counts()["contacts"] == 1
    with sqlite3.connect(tmp_path / "hostile.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        names = conn.execute("SELECT first_name, last_name FROM contacts").fetchall()
    assert {"submissions", "contacts", "event_registrations"} <= tables
    assert names == [(hostile, hostile)]


# --- memory under adversarial input ---------------------------------------------------------------------------


def test_distinct_session_lists_do_not_grow_the_models_caches_without_bound() -> None:
    """A live caller chooses its session lists (order, repeats): the validation-key cache must stay bounded."""
    scenario = parse_scenario({"name": "adversary", "catalog": {"events": 1, "capacity": 0,
                                                                "session_capacity": 0}})
    model = build_model(simpy.Environment(), scenario)
    event = model.catalog.events[0]
    sessions = [s.id for s in event.sessions]
    lists = itertools.islice(itertools.product(sessions, repeat=6), 6000)
    rng = random.Random(7)
    for chosen in lists:
        model.pipeline.offer(Offer("session", event, tuple(rng.sample(chosen, len(chosen)))))
    assert len(model.pipeline._validation_keys) <= 4096


async def test_bad_requests_leave_nothing_behind_in_the_models_memory(tmp_path: Path) -> None:
    """Refusals quote the caller's input; the model counts them by code, and without a run directory to write
    it keeps no row per submission, so a stream of distinct bad requests does not grow the server."""
    async with live(tmp_path, {"catalog": {"events": 1}}, run_record=False) as mock:
        for i in range(200):
            body = registration(person(f"p{i}@contoso.com", attendeeSessions=[{"sessionId": f"no-such-{i}"}]))
            answer = await mock.register("launch-001", body)
            assert answer.status_code == 400 and answer.json()["field"] == "attendees[0].attendeeSessions[0].sessionId"
        recorder = mock.served.model.model.recorder
        assert recorder.rejected_by == {RejectionCode.INVALID_SESSION.value: 200}
        assert recorder.ids == [] and recorder.submissions == 200
        assert (await mock.stats())["rejected"] == 200


async def _now(value: int) -> int:
    return value
