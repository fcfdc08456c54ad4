"""Support for the reliability and security tests: a `stampede serve` subprocess on a loopback port, the live
model in-process behind httpx's ASGI transport, bounded waiting, and direct reads of the SQLite file.

Test support, not a test module. Every wait is bounded in time; servers are stopped by their own PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from simulator.scenario import parse_scenario
from simulator.server.serve import DEV_ORG, Served, build_served

STAMPEDE = Path(sys.executable).with_name("stampede")
ORG = DEV_ORG
TOKEN = "reliability-token"
T = TypeVar("T")


def person(email: str, **fields: Any) -> dict[str, Any]:
    """One attendee as the RTM documentation shows it."""
    return {"firstName": "Ada", "lastName": "Lovelace", "email": email,
            "responses": [{"id": "jobtitle", "value": "Engineer"}], **fields}


def registration(*attendees: dict[str, Any]) -> dict[str, Any]:
    return {"attendees": list(attendees)}


class ServeProcess:
    """`stampede serve` as a subprocess on a free 127.0.0.1 port; stdout/stderr go to files next to ``logs``
    (a pipe nobody drains can block a server that logs a lot)."""

    def __init__(self, db: Path, logs: Path, *args: str, ready_timeout_s: float = 30.0) -> None:
        self.out_path = logs.with_name(logs.name + ".out")
        self.err_path = logs.with_name(logs.name + ".err")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen(
                [str(STAMPEDE), "serve", "--host", "127.0.0.1", "--port", "0", "--db", str(db), "--token", TOKEN,
                 *args],
                stdout=out, stderr=err,
            )
        self.url = self._wait_ready(ready_timeout_s)
        self.base = f"{self.url}/api/v1.0/orgs/{ORG}/eventmanagement"

    def _wait_ready(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.out_path.read_text().splitlines():
                if line.startswith("READY "):
                    return line.split()[1]
            if self.process.poll() is not None:
                raise AssertionError(f"stampede serve exited {self.process.returncode}: {self.stderr()}")
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"stampede serve not ready after {timeout_s} s: {self.stderr()}")

    def api(self, tail: str) -> str:
        return f"{self.base}/{tail}?emApplicationtoken={TOKEN}"

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace") if self.err_path.exists() else ""

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush, no lifespan — a crash."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def async_client(concurrency: int = 32, timeout_s: float = 30.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, timeout=timeout_s)


async def post_all(client: httpx.AsyncClient, requests: Iterable[tuple[str, dict[str, Any]]], concurrency: int
                   ) -> list[httpx.Response | BaseException]:
    """POST every ``(url, json)`` with at most ``concurrency`` in flight; answers (or errors) in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str, body: dict[str, Any]) -> httpx.Response:
        async with gate:
            return await client.post(url, json=body)

    return list(await asyncio.gather(*(one(url, body) for url, body in requests), return_exceptions=True))


async def wait_for(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout_s: float,
                   interval_s: float = 0.1) -> T:
    """Poll ``probe`` until ``done(value)``; AssertionError with the last value after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    value = await probe()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"not done after {timeout_s} s; last value: {value!r}")
        await asyncio.sleep(interval_s)
        value = await probe()
    return value


def table_counts(db: Path) -> dict[str, int]:
    """Row counts straight from the SQLite file (read-only; WAL lets this run beside a live server)."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {table: int(conn.execute(sql).fetchone()[0]) for table, sql in _COUNTS.items()}


_COUNTS = {  # fixed statements (table names cannot be parameters)
    "submissions": "SELECT COUNT(*) FROM submissions",
    "contacts": "SELECT COUNT(*) FROM contacts",
    "event_registrations": "SELECT COUNT(*) FROM event_registrations",
    "session_registrations": "SELECT COUNT(*) FROM session_registrations",
    "waitlist_items": "SELECT COUNT(*) FROM waitlist_items",
}


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql, params).fetchall()


# --- the live model in-process ---------------------------------------------------------------------------------


class Live:
    """The real live model and app in this process, reached through httpx's ASGI transport (no socket)."""

    def __init__(self, served: Served, client: httpx.AsyncClient, db: Path) -> None:
        self.served = served
        self.client = client
        self.db = db
        self.catalog = served.model.catalog

    def api(self, tail: str) -> str:
        return f"{self.served.app.state.base_path}{tail}?emApplicationtoken={TOKEN}"

    async def register(self, event: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(self.api(f"events/{event}/registrations"), json=body)

    async def stats(self) -> dict[str, Any]:
        return dict((await self.client.get("/_harness/stats")).json())

    async def submission(self, submission_id: str) -> dict[str, Any]:
        return dict((await self.client.get(f"/_harness/submissions/{submission_id}")).json())

    async def settled(self, timeout_s: float = 20.0) -> dict[str, Any]:
        """Stats once nothing is pending."""
        return await wait_for(self.stats, lambda s: s["pending"] == 0, timeout_s)

    async def fault(self, **body: Any) -> float:
        """Inject a fault now; the model's simulated time at injection (read just before)."""
        now_s = float((await self.stats())["sim_now_s"])
        answer = await self.client.post("/_harness/faults", json=body)
        assert answer.status_code == 202, answer.text
        return now_s


@contextlib.asynccontextmanager
async def live(tmp_path: Path, scenario: dict[str, Any], *, time_scale: float = 600.0, **options: Any
               ) -> AsyncIterator[Live]:
    db = tmp_path / "live.db"
    served = build_served(parse_scenario({"name": "reliability", **scenario}), db_path=db, time_scale=time_scale,
                          token=TOKEN, **options)
    served.model.start()
    transport = httpx.ASGITransport(app=served.app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            yield Live(served, client, db)
    finally:
        served.model.stop()
        if served.dataverse is not None:
            served.dataverse.close()
        served.store.close()
