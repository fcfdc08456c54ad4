"""Test your own Dataverse client against Stampede's Dataverse face: Microsoft's Python SDK creating records under
service protection, once with a naive retry and once with one that honours Retry-After.

    stampede serve --tls --time-scale 60 --set dataverse.requests_limit=40 --set dataverse.window=60s \
        --set dataverse.extend_retry_after=true --db /tmp/dv.db
    REQUESTS_CA_BUNDLE=/tmp/dv.db.tls/ca.pem python docs/examples/dataverse_client.py https://127.0.0.1:8000

(the banner prints the URL and the CA file). Each client creates the same number of contacts as an app user of
its own (its bearer token), so each has a key of its own and the two runs do not share a budget.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from azure.core.credentials import AccessToken
from PowerPlatform.Dataverse.client import DataverseClient
from PowerPlatform.Dataverse.core.errors import HttpError


class StaticToken:
    """A TokenCredential with one fixed token: the face names the app user after it."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


BUDGET_S = 120.0  # each client gets this long; what it has not created by then is reported as not created


class OutOfTime(Exception):
    pass


def naive(call: Callable[[], str], tally: dict[str, float]) -> str:
    """Retry every 0.1 s whatever the server says (what a generic HTTP retry does)."""
    while time.monotonic() < tally["deadline"]:
        try:
            return call()
        except HttpError as exc:
            if exc.status_code != 429:
                raise
            tally["throttled"] += 1
            time.sleep(0.1)
    raise OutOfTime


def honouring(call: Callable[[], str], tally: dict[str, float]) -> str:
    """Wait exactly Retry-After, then resend (Microsoft's guidance, S8)."""
    while time.monotonic() < tally["deadline"]:
        try:
            return call()
        except HttpError as exc:
            if exc.status_code != 429:
                raise
            tally["throttled"] += 1
            time.sleep(float(exc.details.get("retry_after") or 1))
    raise OutOfTime


def run(url: str, name: str, retry: Callable[[Callable[[], str], dict[str, float]], str], records: int
        ) -> dict[str, float]:
    started = time.monotonic()
    tally = {"throttled": 0.0, "deadline": started + BUDGET_S}
    ids: list[str] = []
    with DataverseClient(url, StaticToken(f"{name}-client")) as client:
        try:
            for i in range(records):
                record = {"emailaddress1": f"{name}{i}@x.example"}
                ids.append(retry(lambda record=record: client.records.create("contact", record), tally))
        except OutOfTime:
            pass
    wall_s = time.monotonic() - started
    return {"created": len(set(ids)), "of": records, "requests": len(ids) + int(tally["throttled"]),
            "throttled": int(tally["throttled"]), "wall_s": round(wall_s, 1),
            "created_per_s": round(len(ids) / wall_s, 2)}


if __name__ == "__main__":
    base = sys.argv[1] if len(sys.argv) > 1 else "https://127.0.0.1:8000"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    for label, policy in (("naive", naive), ("honouring", honouring)):
        print(label, run(base, label, policy, count), flush=True)
