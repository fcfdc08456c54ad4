"""Faults injected through ``POST /_harness/faults`` into the real live model, at ×60 (a minute passes in a
second): an outage shorter than the deadline loses nothing and its retries follow the policy; one longer than
the deadline dead-letters with the reason; slow and limit faults show in throughput."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from live_support import Live, live, person, query, registration, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # slow: minutes of simulated time at a fast clock

SCALE = 60.0
WAIT_S = 30.0  # the fixed retry policy's wait
ONE_INSTANCE = {"instances": 1, "processors": 8}  # one read cache: one warm-up registration warms it


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def warm(mock: Live) -> None:
    """One registration through, so validation reads hit the cache (a read in an outage would be a 503)."""
    answer = await mock.register("launch-001", registration(person("warm@faults.example")))
    assert answer.status_code == 202
    await mock.settled(timeout_s=10)


async def register_many(mock: Live, prefix: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        answer = await mock.register("launch-001", registration(person(f"{prefix}{i}@faults.example")))
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["submissionId"])
    return ids


async def test_an_outage_shorter_than_the_deadline_loses_nothing_and_retries_follow_the_policy(
        tmp_path: Path) -> None:
    scenario = {"api": ONE_INSTANCE, "retry": {"policy": "fixed", "base": f"{WAIT_S:g}s"}}
    async with live(tmp_path, scenario, time_scale=SCALE) as mock:
        await warm(mock)
        outage_from_s = await mock.fault(kind="outage", duration="3m")
        outage_to_s = outage_from_s + 180.0
        ids = await register_many(mock, "outage", 8)
        stats = await mock.settled(timeout_s=15)
        statuses = [await mock.submission(i) for i in ids]
    assert stats["dead_lettered"] == 0 and stats["created"] == 9 and stats["dv_failed"] > 0
    for status in statuses:
        assert status["state"] == "created", status
        accepted_s, created_s, attempts = status["accepted_s"], status["created_s"], status["attempts"]
        # Fixed policy: every failed attempt waits exactly WAIT_S, so the attempts are accepted_s + k * WAIT_S
        # and the first one after the outage goes through.
        assert created_s >= outage_to_s - 1.0
        expected_attempts = 1 + math.ceil((outage_to_s - accepted_s) / WAIT_S)
        assert abs(attempts - expected_attempts) <= 1, (status, expected_attempts)
        service_s = created_s - accepted_s - WAIT_S * (attempts - 1)
        assert 0 <= service_s < 5.0, status  # the three calls themselves; nothing else waited
        assert "503" in (status["last_error"] or ""), status


async def test_an_outage_beyond_the_deadline_dead_letters_with_the_reason(tmp_path: Path) -> None:
    scenario = {"api": ONE_INSTANCE, "retry": {"policy": "fixed", "base": "20s", "deadline": "2m"}}
    async with live(tmp_path, scenario, time_scale=SCALE) as mock:
        await warm(mock)
        await mock.fault(kind="outage", duration="10m")
        ids = await register_many(mock, "lost", 5)
        stats = await mock.settled(timeout_s=15)
        statuses = [await mock.submission(i) for i in ids]
        db = mock.db
    assert stats["dead_lettered"] == 5 and stats["created"] == 1
    for status in statuses:
        assert status["state"] == "dead_lettered"
        assert status["last_error"] == "deadline 2m reached; last error: 503 Service Unavailable (outage)"
        assert 120.0 - 1.0 <= status["dead_lettered_s"] - status["accepted_s"] <= 120.0 + 1.0
    rows = query(db, "SELECT state, last_error FROM submissions WHERE id IN (?, ?, ?, ?, ?)", tuple(ids))
    assert {row[0] for row in rows} == {"dead_lettered"} and all(row[1] for row in rows)
    assert query(db, "SELECT COUNT(*) FROM event_registrations") == [(1,)]  # only the warm-up


def rate(rows: list[dict[str, Any]], column: str, from_s: float, to_s: float) -> float:
    """``column`` per simulated second over the whole bins inside [from_s, to_s)."""
    inside = [row for row in rows if row["t_s"] >= from_s and row["t_s"] + BIN_S <= to_s]
    assert inside, (from_s, to_s)
    return sum(row[column] for row in inside) / (len(inside) * BIN_S)


BIN_S = 5.0


async def test_slow_and_limit_faults_show_in_throughput(tmp_path: Path) -> None:
    """Four processors, one second a call, three calls a registration: 4/3 created per second with a backlog.
    Slow ×5 should cut that to a fifth; a requests limit far below the window's traffic to nearly nothing."""
    second = {"median": "1s", "p99": "1s"}
    scenario = {"bin": f"{BIN_S:g}s", "catalog": {"capacity": 0}, "api": {"instances": 1, "processors": 4},
                "dataverse": {"latency": {"read": second, "write": second}}}
    async with live(tmp_path, scenario, time_scale=SCALE) as mock:
        await register_many(mock, "backlog", 300)
        base_from_s = float((await mock.stats())["sim_now_s"])
        await wait_for(mock.stats, lambda s: s["sim_now_s"] >= base_from_s + 60, timeout_s=5, interval_s=0.05)
        slow_from_s = await mock.fault(kind="slow", duration="2m", factor=5)
        await wait_for(mock.stats, lambda s: s["sim_now_s"] >= slow_from_s + 125, timeout_s=5, interval_s=0.05)
        limit_from_s = await mock.fault(kind="limit", duration="2m", requests_limit=50)
        stats = await wait_for(mock.stats, lambda s: s["sim_now_s"] >= limit_from_s + 125, timeout_s=5,
                               interval_s=0.05)
        rows = (await mock.client.get("/_harness/timeseries")).json()
    assert stats["pending"] > 0, "the backlog must outlast the measurement"
    baseline = rate(rows, "created", base_from_s + BIN_S, slow_from_s)
    slow = rate(rows, "created", slow_from_s + 2 * BIN_S, slow_from_s + 120)
    limited = rate(rows, "created", limit_from_s + 2 * BIN_S, limit_from_s + 120)
    throttled = rate(rows, "dv_throttled", limit_from_s - BIN_S, limit_from_s + 120)  # its first bin too
    assert 1.0 <= baseline <= 1.5, rows  # 4/3 per second
    assert slow <= baseline / 3, (baseline, slow)  # expected a fifth
    assert limited <= baseline / 10, (baseline, limited)
    assert throttled > 0 and rate(rows, "dv_throttled", base_from_s, slow_from_s - BIN_S) == 0
    print(f"\ncreated per simulated second: baseline {baseline:.2f}, slow x5 {slow:.2f}, "
          f"requests_limit=50 {limited:.2f} (429s {throttled:.2f}/s)")
