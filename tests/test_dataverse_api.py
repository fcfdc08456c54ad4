"""The Dataverse Web API face (``/api/data/v9.2/``) in-process: the OData subset over the live store, its error
shape, and service protection by the live model's own keys — counted against what the store and the face's
ledger independently hold."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_support import live, person, query, registration

from reports.dataverse_api import face_series
from reports.write import write_report

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # each test runs the live model on a thread
API = "/api/data/v9.2/"
SYNC = {"Authorization": "Bearer nightly-sync"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _id(answer: httpx.Response) -> str:
    location = answer.headers["OData-EntityId"]
    return location[location.index("(") + 1:-1]


async def test_crud_filter_paging_and_the_processors_registrations_through_the_face(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}) as server:
        client = server.client
        assert (await server.register("launch-001", registration(person("reg@face.example")))).status_code == 202
        await server.settled()
        regs = (await client.get(API + "msevtmgt_eventregistrations?$select=_msevtmgt_contactid_value",
                                 headers=SYNC)).json()["value"]
        assert len(regs) == 1  # created by the event API's processors, read through the face

        created = [await client.post(API + "contacts", headers=SYNC, json={
            "emailaddress1": f"p{i}@face.example", "firstname": f"P{i}", "lastname": "X"}) for i in range(7)]
        assert {answer.status_code for answer in created} == {204}
        ids = [_id(answer) for answer in created]
        shown = await client.post(API + "contacts", headers={**SYNC, "Prefer": "return=representation"},
                                  json={"emailaddress1": "Rep@Face.example", "firstname": "Rep"})
        assert shown.status_code == 201 and shown.json()["emailaddress1"] == "rep@face.example"
        people = query(server.db, "SELECT COUNT(*) FROM contacts")[0][0]
        assert people == 9  # 1 from the registration, 8 through the face, one --db

        one = (await client.get(API + f"contacts({ids[3]})?$select=firstname", headers=SYNC)).json()
        assert one["firstname"] == "P3" and one["contactid"] == ids[3] and "lastname" not in one

        filtered = (await client.get(API + "contacts", headers=SYNC, params={
            "$filter": "contains(emailaddress1,'@face.example') and (firstname eq 'p1' or firstname eq 'P2' "
                       "or lastname ne 'X')", "$select": "firstname", "$orderby": "firstname desc"})).json()
        assert [row["firstname"] for row in filtered["value"]] == ["Rep", "P2", "P1", "Ada"]  # eq ignores case

        pages, url = [], API + "contacts?$select=emailaddress1&$filter=lastname eq 'X'&$orderby=emailaddress1"
        while url:
            page = (await client.get(url, headers={**SYNC, "Prefer": "odata.maxpagesize=3"})).json()
            pages.append([row["emailaddress1"] for row in page["value"]])
            url = page.get("@odata.nextLink")
        assert pages == [[f"p{i}@face.example" for i in range(j, min(j + 3, 7))] for j in (0, 3, 6)]
        top = (await client.get(API + "contacts?$top=2", headers={**SYNC, "Prefer": "odata.maxpagesize=1"})).json()
        assert len(top["value"]) == 1 and "$skiptoken=1" in top["@odata.nextLink"]
        last = (await client.get(top["@odata.nextLink"].replace("http://mock", ""), headers=SYNC)).json()
        assert len(last["value"]) == 1 and "@odata.nextLink" not in last  # $top caps the paging

        patched = await client.patch(API + f"contacts({ids[0]})", headers={**SYNC, "If-Match": "*"},
                                     json={"lastname": "Lovelace"})
        assert patched.status_code == 204
        upserted = await client.patch(API + "contacts(emailaddress1='new@face.example')", headers=SYNC,
                                      json={"firstname": "New"})
        again = await client.patch(API + "contacts(emailaddress1='NEW@face.example')", headers=SYNC,
                                   json={"lastname": "Again"})
        assert (upserted.status_code, again.status_code) == (204, 204) and _id(upserted) == _id(again)
        assert query(server.db, "SELECT first_name, last_name FROM contacts WHERE email = 'new@face.example'") == \
            [("New", "Again")]
        missing = await client.patch(API + "contacts(00000001-0000-4000-8000-0000000fffff)",
                                     headers={**SYNC, "If-Match": "*"}, json={"firstname": "Z"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "0x80040217"
        duplicate = await client.post(API + "contacts", headers=SYNC, json={"emailaddress1": "p1@face.example"})
        assert duplicate.status_code == 412 and duplicate.json()["error"]["code"] == "0x80040237"

        assert (await client.delete(API + f"contacts({ids[6]})", headers=SYNC)).status_code == 204
        assert (await client.get(API + f"contacts({ids[6]})", headers=SYNC)).status_code == 404
        registered = regs[0]["_msevtmgt_contactid_value"]  # the processors' contact: its registration goes too
        assert (await client.delete(API + f"contacts({registered})", headers=SYNC)).status_code == 204
        assert query(server.db, "SELECT COUNT(*) FROM event_registrations")[0][0] == 0
        events = (await client.get(API + "msevtmgt_events?$select=msevtmgt_readableeventid", headers=SYNC)).json()
        assert [e["msevtmgt_readableeventid"] for e in events["value"]] == ["launch-001"]
        refused = await client.post(API + "msevtmgt_events", headers=SYNC, json={"msevtmgt_name": "x"})
        assert refused.status_code == 405 and "read-only" in refused.json()["error"]["message"]
        event_id = events["value"][0]["msevtmgt_eventid"]
        bound = await client.post(API + "msevtmgt_eventregistrations", headers=SYNC, json={
            "msevtmgt_ContactId@odata.bind": f"/contacts({ids[1]})", "msevtmgt_EventId@odata.bind":
            f"/msevtmgt_events({event_id})"})
        assert bound.status_code == 204
        assert (await server.client.get(server.api("events/launch-001/registrations/count"))).status_code == 200


BAD = [
    ("GET", "nosuch", {}, b"", 404, "Resource not found for the segment 'nosuch'"),
    ("GET", "contacts?$filter=emailaddress1 eq", {}, b"", 400, "ends early"),
    ("GET", "contacts?$filter=nosuchcolumn eq 1", {}, b"", 400, "doesn't contain attribute"),
    ("GET", "contacts?$filter=contains(firstname,5)", {}, b"", 400, "takes a text value"),
    ("GET", "contacts?$filter=firstname eq 'a' and", {}, b"", 400, "ends early"),
    ("GET", "contacts?$filter=(firstname eq 'a'", {}, b"", 400, "ends early"),
    ("GET", "contacts?$filter=firstname eq @", {}, b"", 400, "unexpected '@'"),
    ("GET", "contacts?$expand=x", {}, b"", 501, "$select, $filter"),
    ("GET", "contacts?$top=-1", {}, b"", 400, "whole number"),
    ("GET", "contacts(not-a-guid)", {}, b"", 400, "neither a GUID"),
    ("GET", "contacts(lastname='x')", {}, b"", 400, "alternate key (emailaddress1="),
    ("GET", "$metadata", {}, b"", 501, "is not supported"),
    ("POST", "contacts", {"Content-Type": "application/json"}, b"{nope", 400, "not JSON"),
    ("POST", "contacts", {}, b'{"firstname": 5}', 400, "expected text"),
    ("POST", "contacts", {}, b'{"fullname": "x"}', 400, "cannot be set here"),
    ("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", {}, b'{"Targets": 3}', 400, "Targets"),
    ("POST", "$batch", {"Content-Type": "text/plain"}, b"x", 400, "malformed $batch"),
    ("POST", "$batch", {"Content-Type": "multipart/mixed; boundary=b"}, b"--b\r\n\r\nGET contacts\r\n--b--", 400,
     "malformed $batch"),
    ("POST", "$batch", {"Content-Type": "multipart/mixed; boundary=b"}, b"garbage", 400, "malformed $batch"),
    ("PUT", "contacts", {}, b"", 405, "GET and POST"),
]


async def test_bad_odata_gets_dataverses_error_shape_never_a_500(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}}) as server:
        for method, path, headers, body, status, says in BAD:
            answer = await server.client.request(method, API + path, headers={**SYNC, **headers}, content=body)
            error = answer.json()["error"]
            assert (answer.status_code, set(error)) == (status, {"code", "message"}), (path, answer.text)
            assert says in error["message"], (path, error)
        unauthorized = await server.client.get(API + "contacts")
        assert unauthorized.status_code == 401 and "Bearer" in unauthorized.json()["error"]["message"]


def _batch(parts: list[str], boundary: str = "batch_1") -> bytes:
    return ("".join(f"--{boundary}\r\n{part}" for part in parts) + f"--{boundary}--\r\n").encode()


def _http_part(method: str, url: str, body: dict[str, Any] | None = None, content_id: int | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id is not None:
        head += f"Content-ID: {content_id}\r\n"
    request = f"{method} {url} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
    return head + "\r\n" + request + (json.dumps(body) if body is not None else "") + "\r\n"


async def test_batch_change_sets_are_all_or_nothing_and_a_batch_is_one_request(tmp_path: Path) -> None:
    # The CreateMultiple is answered when its 1,000 operations' execution time has passed on the model's clock
    # (~2 model minutes): at ×60 that is 2 s, not the 2 minutes it took at ×1; the hour-long window (a minute of
    # wall time) still holds every request of the test.
    scenario = {"catalog": {"events": 1}, "dataverse": {"requests_limit": 4, "window": "1h"}}
    async with live(tmp_path, scenario, time_scale=60.0) as server:
        def change_set(emails: list[str]) -> str:
            inner = "".join(f"--cs\r\n{_http_part('POST', API + 'contacts', {'emailaddress1': e}, i + 1)}"
                            for i, e in enumerate(emails)) + "--cs--\r\n"
            return f"Content-Type: multipart/mixed; boundary=cs\r\n\r\n{inner}"

        body = _batch([change_set(["a@batch.example", "b@batch.example"]),
                       _http_part("GET", "contacts?$select=emailaddress1")])
        answer = await server.client.post(API + "$batch", headers={**SYNC, "Content-Type":
                                                                   "multipart/mixed; boundary=batch_1"}, content=body)
        assert answer.status_code == 200 and answer.text.count("HTTP/1.1 204") == 2
        assert "a@batch.example" in answer.text and "b@batch.example" in answer.text
        failing = _batch([change_set(["c@batch.example", "a@batch.example"])])  # the second is a duplicate
        batch_headers = {**SYNC, "Content-Type": "multipart/mixed; boundary=batch_1"}
        answer = await server.client.post(API + "$batch", headers=batch_headers, content=failing)
        assert answer.status_code == 200 and "HTTP/1.1 412" in answer.text and "HTTP/1.1 204" not in answer.text
        assert query(server.db, "SELECT COUNT(*) FROM contacts WHERE email = 'c@batch.example'")[0][0] == 0
        many = {"Targets": [{"emailaddress1": f"m{i}@batch.example"} for i in range(1000)]}
        made = await server.client.post(API + "contacts/Microsoft.Dynamics.CRM.CreateMultiple", headers=SYNC,
                                        json=many)
        assert made.status_code == 200 and len(made.json()["Ids"]) == 1000
        assert made.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] == "1"  # 4 - 3 requests, 1,003 records
        throttled = await server.client.get(API + "WhoAmI", headers=SYNC)
        throttled = await server.client.get(API + "WhoAmI", headers=SYNC) if throttled.status_code == 200 else throttled
        assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "0x80072322"
        assert int(throttled.headers["Retry-After"]) >= 1
        ledger = server.served.dataverse.protection.ledger.rows()  # the face's own record of every request
        assert [row["operations"] for row in ledger[:3]] == [3, 2, 1000]
        assert query(server.db, "SELECT COUNT(*) FROM contacts WHERE email LIKE 'm%@batch.example'")[0][0] == 1000


async def test_a_client_named_as_the_event_apis_app_user_spends_the_processors_budget(tmp_path: Path) -> None:
    scenario = {"catalog": {"events": 1}, "dataverse": {"requests_limit": 6, "window": "10m",
                                                        "app_user": "event-api"}}
    async with live(tmp_path, scenario, time_scale=1.0) as server:
        shared = {"Authorization": "Bearer event-api"}
        for _ in range(6):
            assert (await server.client.get(API + "WhoAmI", headers=shared)).status_code == 200
        assert (await server.client.get(API + "WhoAmI", headers=shared)).status_code == 429
        assert (await server.client.get(API + "WhoAmI", headers=SYNC)).status_code == 200  # a key of its own
        # the event API's validation read is the same app user's: the client spent its budget, so it is refused
        refused = await server.register("launch-001", registration(person("late@face.example")))
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        stats = await server.stats()
        assert stats["dv_throttled"] == 2  # the face's 429 and the event API's, on the one key they share
        assert stats["dataverse_api"]["by_user"]["event-api"]["throttled_by"]["requests"] == 1


async def test_the_live_run_directory_holds_the_faces_calls_and_the_report_draws_them(tmp_path: Path) -> None:
    scenario = {"catalog": {"events": 1}, "dataverse": {"requests_limit": 3, "window": "10m"}}
    async with live(tmp_path, scenario, time_scale=1.0) as server:
        answers = [await server.client.get(API + "WhoAmI", headers=SYNC) for _ in range(5)]
        server.served.model.stop()  # as serve's shutdown does before it writes the run directory
        files = server.served.run_files()
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200, 200, 200, 429, 429]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name, text in files.items():
        (run_dir / name).write_text(text)
    with (run_dir / "dataverse_api.csv").open() as rows:
        table = list(csv.DictReader(rows))
    assert [int(row["status"]) for row in table] == statuses  # one row per request, as the client saw it
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["dataverse_api"]["throttled_by"]["requests"] == 2
    assert summary["dataverse"]["throttled"] >= 2  # the model's own count has the face's 429s too
    data = face_series(table, bin_s=10.0)
    assert sum(float(v.sum()) for v in data.admitted_per_s.values()) * 10.0 == 3
    write_report([run_dir])
    assert (run_dir / "dataverse-api.png").stat().st_size > 0
    assert "Dataverse Web API face" in (run_dir / "report.html").read_text()


@pytest.mark.parametrize(("enforcement", "statuses"), [("exact", [200, 200, 200, 429, 429]),
                                                       ("lagging", [200, 200, 200, 200, 200])])
async def test_the_scenarios_enforcement_applies_to_the_face(tmp_path: Path, enforcement: str,
                                                             statuses: list[int]) -> None:
    """``lagging``: the limiter's view of the window is refreshed every 30 s, so a burst overshoots before it
    bites, exactly as for the processors (simulator/limits.py)."""
    scenario = {"catalog": {"events": 1}, "dataverse": {"requests_limit": 3, "window": "10m",
                                                        "enforcement": enforcement, "enforcement_lag": "30s"}}
    async with live(tmp_path, scenario, time_scale=1.0) as server:
        answers = [await server.client.get(API + "WhoAmI", headers=SYNC) for _ in range(5)]
    assert [answer.status_code for answer in answers] == statuses
    assert [answer.headers["x-ms-ratelimit-burst-remaining-xrm-requests"] for answer in answers[:3]] == ["2", "1", "0"]
