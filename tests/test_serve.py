"""`stampede serve` on a real socket, backed by the live model: register, follow Location, counts move,
throttling at a fast clock, and pending work resumes after a restart."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow  # stampede serve subprocesses, real sockets

STAMPEDE = Path(sys.executable).with_name("stampede")
ORG = "00000000-0000-4000-8000-000000000001"
TOKEN = "test-token"


class Server:
    """A `stampede serve` subprocess on a free loopback port, stopped by PID."""

    def __init__(self, db: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(STAMPEDE), "serve", "--port", "0", "--db", str(db), "--token", TOKEN, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.url = self._wait_ready()
        self.base = f"{self.url}/api/v1.0/orgs/{ORG}/eventmanagement"
        self.client = httpx.Client(timeout=10)

    def _wait_ready(self, timeout_s: float = 30) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("READY "):
                return line.split()[1]
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.process.stderr.read() if self.process.stderr else ''}")
        raise AssertionError("serve did not become ready")

    def api(self, path: str) -> str:
        return f"{self.base}/{path}?emApplicationtoken={TOKEN}"

    def register(self, event: str, email: str) -> httpx.Response:
        body = {"attendees": [{"firstName": "Ada", "lastName": "Lovelace", "email": email}]}
        return self.client.post(self.api(f"events/{event}/registrations"), json=body)

    def stats(self) -> dict[str, float]:
        return dict(self.client.get(f"{self.url}/_harness/stats").json())

    def wait_settled(self, timeout_s: float = 60) -> dict[str, float]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["pending"] == 0:
                return stats
            time.sleep(0.1)
        raise AssertionError(f"work still pending after {timeout_s} s: {self.stats()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.client.close()
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "serve.db"


@pytest.fixture
def server(db: Path) -> Iterator[Server]:
    running = Server(db, "--time-scale", "60")
    yield running
    running.stop()


def test_register_follow_location_until_created_and_the_count_moves(server: Server) -> None:
    published = server.client.get(server.api("events/published"))
    assert published.status_code == 200
    event = published.json()[0]["readableEventId"]
    before = server.client.get(server.api(f"events/{event}/registrations/count")).json()

    answer = server.register(event, "ada@example.com")
    assert answer.status_code == 202
    location = answer.headers["location"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = server.client.get(server.url + location).json()
        if status["state"] == "created":
            break
        time.sleep(0.05)
    assert status["state"] == "created" and status["attempts"] >= 1
    after = server.client.get(server.api(f"events/{event}/registrations/count")).json()
    assert after == before + 1


def test_a_burst_beyond_one_window_is_throttled_and_still_all_created(db: Path) -> None:
    # 300 requests per 5-minute window (5 s wall at ×60); 120 registrations cost ~4 calls each (a validation
    # read on the first, then match, contact, registration): about two windows of work.
    server = Server(db, "--time-scale", "60", "--set", "dataverse.requests_limit=300",
                    "--set", "catalog.capacity=0", "--set", "api.on_validation_throttle=wait")
    try:
        accepted = [server.register("launch-001", f"p{i}@example.com") for i in range(120)]
        assert {r.status_code for r in accepted} == {202}
        stats = server.wait_settled(timeout_s=90)
        assert stats["dv_throttled_requests"] > 0, stats
        assert stats["created"] == stats["accepted"] == 120
        assert stats["dead_lettered"] == 0
    finally:
        server.stop()


def test_pending_submissions_resume_after_a_restart_on_the_same_database(db: Path, tmp_path: Path) -> None:
    # A budget so small that most of the work is still pending when the server is killed.
    slow = ("--time-scale", "10", "--set", "dataverse.requests_limit=60", "--set", "catalog.capacity=0",
            "--set", "api.on_validation_throttle=wait")
    first = Server(db, *slow)
    ids = []
    try:
        for i in range(60):
            answer = first.register("launch-002", f"r{i}@example.com")
            assert answer.status_code == 202
            ids.append(answer.json()["submissionId"])
    finally:
        first.stop(signal.SIGKILL)
    with sqlite3.connect(db) as conn:
        pending = conn.execute("SELECT COUNT(*) FROM submissions WHERE state IN ('accepted', 'retrying')").fetchone()
    assert pending[0] > 0, "the test needs work left pending at the crash"

    second = Server(db, "--time-scale", "120", "--set", "catalog.capacity=0", "--out", str(tmp_path / "live"))
    try:
        stats = second.wait_settled(timeout_s=90)
        assert stats["pending"] == 0
        states = {second.client.get(f"{second.url}/_harness/submissions/{i}").json()["state"] for i in ids}
        assert states == {"created"}
        count = second.client.get(second.api("events/launch-002/registrations/count")).json()
        assert count == 60
    finally:
        second.stop()
    summary = json.loads((tmp_path / "live" / "summary.json").read_text())
    assert summary["mode"] == "live"
    assert summary["resumed"] == pending[0]
    assert (tmp_path / "live" / "timeseries.csv").exists()
