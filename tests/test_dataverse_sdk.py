"""Microsoft's Python SDK (``PowerPlatform-Dataverse-Client``) against ``stampede serve --tls``'s Dataverse face:
it creates, queries, updates and deletes; driven past the limit it gets the 429 with Microsoft's code; wrapped in
a retry that honours Retry-After, every record ends up created once; a ``$batch`` and a ``CreateMultiple`` are
one request each (S8: "A batch … will avoid the number of requests limit")."""

from __future__ import annotations

import re
import sqlite3
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from azure.core.credentials import AccessToken
from live_support import ServeProcess
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError

pytestmark = pytest.mark.slow
T = TypeVar("T")
# One key may take 40 requests in 60 model seconds; at --time-scale 60 that window is one wall second, so a client
# in a loop meets the limit within a second and a Retry-After is a second or two.
LIMITS = ("--set", "dataverse.requests_limit=40", "--set", "dataverse.window=60s", "--time-scale", "60")


class StaticToken:
    """A ``TokenCredential`` handing out one fixed token: the face names the app user after it."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    tmp = tmp_path_factory.mktemp("sdk")
    served = ServeProcess(tmp / "serve.db", tmp / "serve", "--tls", *LIMITS)
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def trust_the_run(server: ServeProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    match = re.search(r"REQUESTS_CA_BUNDLE=(\S+)", server.stderr())
    assert match, server.stderr()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", match.group(1))


def _stats(server: ServeProcess) -> dict[str, Any]:
    ca = re.search(r"REQUESTS_CA_BUNDLE=(\S+)", server.stderr())
    assert ca
    trusting = ssl.create_default_context(cafile=ca.group(1))
    return httpx.get(f"{server.url}/_harness/stats", verify=trusting, timeout=10).json()["dataverse_api"]


def honouring_retry_after(call: Callable[[], T], waits: list[float], attempts: int = 20) -> T:
    """The retry the SDK does not do (it retries network errors only): on a 429, wait Retry-After and resend."""
    for _ in range(attempts):
        try:
            return call()
        except HttpError as exc:
            if exc.status_code != 429 or exc.details.get("retry_after") is None:
                raise
            waits.append(exc.details["retry_after"])
            time.sleep(exc.details["retry_after"])
    raise AssertionError(f"still throttled after {attempts} attempts")


def test_the_sdk_creates_queries_updates_and_deletes_over_tls(server: ServeProcess) -> None:
    with DataverseClient(server.url, StaticToken("sdk-crud")) as client:
        ada = client.records.create("contact", {"firstname": "Ada", "lastname": "Lovelace",
                                                "emailaddress1": "ada@sdk.example"})
        grace = client.records.create("contact", {"firstname": "Grace", "emailaddress1": "grace@sdk.example"})
        found = client.records.retrieve("contact", ada, select=["firstname"])
        assert found is not None and found["firstname"] == "Ada"
        pages = list(client.records.list_pages("contact", filter="contains(emailaddress1,'@sdk.example')",
                                               select=["emailaddress1"], orderby=["emailaddress1 desc"], page_size=1))
        assert [[r["emailaddress1"] for r in page] for page in pages] == [["grace@sdk.example"], ["ada@sdk.example"]]
        client.records.update("contact", grace, {"lastname": "Hopper"})
        updated = client.records.retrieve("contact", grace)
        assert updated is not None and updated["lastname"] == "Hopper"
        client.records.delete("contact", ada)
        assert client.records.retrieve("contact", ada) is None  # the SDK's answer to Dataverse's 404


def test_past_the_limit_the_sdk_gets_microsofts_429_and_a_retry_after_retry_creates_each_record_once(
        server: ServeProcess) -> None:
    emails = [f"sync{i}@sdk.example" for i in range(120)]
    with DataverseClient(server.url, StaticToken("sdk-naive")) as naive, pytest.raises(HttpError) as throttled:
        for email in emails:
            naive.records.create("contact", {"emailaddress1": email.replace("sync", "naive")})
    refused = throttled.value
    # The error's traceback holds the naive client's https connection open, and the server's graceful shutdown
    # waits for it: the module's teardown took ServeProcess.stop's 15 s and then a kill. Let go, it closes.
    del throttled
    refused.__traceback__ = None
    assert refused.status_code == 429 and refused.details["service_error_code"] == "0x80072322"
    assert "Number of requests exceeded the limit of 40 over time window of 60 seconds." in str(refused)
    assert refused.details["retry_after"] >= 1

    waits: list[float] = []
    with DataverseClient(server.url, StaticToken("sdk-patient")) as patient:
        ids = [honouring_retry_after(lambda e=email: patient.records.create("contact", {"emailaddress1": e}), waits)
               for email in emails]
    assert waits and len(set(ids)) == len(emails)  # it was throttled, and still every record exists
    db = Path(re.sub(r"\.tls/ca\.pem$", "", re.search(r"REQUESTS_CA_BUNDLE=(\S+)", server.stderr()).group(1)))
    with sqlite3.connect(db) as rows:
        counts = rows.execute("SELECT email, COUNT(*) FROM contacts WHERE email LIKE 'sync%@sdk.example' "
                              "GROUP BY email").fetchall()
    assert len(counts) == len(emails) and {n for _, n in counts} == {1}  # each created once, none twice
    patient_stats = _stats(server)["by_user"]["sdk-patient"]
    assert patient_stats["admitted"] >= len(emails) and patient_stats["throttled_by"]["requests"] == len(waits)


def test_a_create_multiple_and_a_batch_of_1000_records_are_one_request_each(server: ServeProcess) -> None:
    before = _stats(server)
    with DataverseClient(server.url, StaticToken("sdk-bulk")) as client:
        client.records.create("contact", {"emailaddress1": "warm@sdk.example"})  # the SDK's metadata reads first
        after_lookup = _stats(server)
        ids = client.records.create("contact", [{"emailaddress1": f"bulk{i}@sdk.example"} for i in range(1000)])
        after_multiple = _stats(server)
        batch = client.batch.new()
        for i in range(1000):
            batch.records.create("contact", {"emailaddress1": f"batch{i}@sdk.example"})
        result = batch.execute()
        after_batch = _stats(server)
    assert len(set(ids)) == 1000 and len(result.succeeded) == 1000 and not result.failed
    assert after_multiple["requests"] - after_lookup["requests"] == 1  # one request …
    assert after_multiple["operations"] - after_lookup["operations"] == 1000  # … charged 1,000 operations' time
    assert after_batch["requests"] - after_multiple["requests"] == 1
    assert after_batch["operations"] - after_multiple["operations"] == 1000
    assert after_lookup["requests"] > before["requests"]
