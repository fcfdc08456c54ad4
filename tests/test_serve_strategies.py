"""The strategies belong to the model, not to the simulator: `stampede serve` with a shared cache, a retry
budget and batching registers people and creates them over a real socket."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_serve import Server


@pytest.mark.slow
def test_serve_with_shared_cache_ratio_budget_and_batches_creates_every_registration(tmp_path: Path) -> None:
    server = Server(tmp_path / "serve.db", "--time-scale", "60", "--set", "api.cache=shared",
                    "--set", "retry.budget=ratio", "--set", "dataverse.batch_size=50",
                    "--set", "catalog.capacity=0", "--set", "dataverse.requests_limit=30",
                    "--set", "api.processors=2", "--out", str(tmp_path / "live"))
    try:
        answers = [server.register("launch-001", f"s{i}@example.com") for i in range(80)]
        assert {answer.status_code for answer in answers} == {202}
        stats = server.wait_settled(timeout_s=90)
        assert stats["created"] == stats["accepted"] == 80 and stats["dead_lettered"] == 0
        # 30 requests per window make a backlog, and backlogged registrations go in batches: fewer Dataverse
        # requests than registrations, each of which is 3 calls on its own.
        assert stats["dv_admitted"] < 80, stats
        ids = [answer.json()["submissionId"] for answer in answers[:5]]
        deadline = time.monotonic() + 30
        states: set[str] = set()
        while time.monotonic() < deadline:
            states = {server.client.get(f"{server.url}/_harness/submissions/{i}").json()["state"] for i in ids}
            if states == {"created"}:
                break
        assert states == {"created"}
    finally:
        server.stop()
    summary = json.loads((tmp_path / "live" / "summary.json").read_text())
    assert summary["submissions"]["created"] == 80 and summary["cache"]["misses"] >= 1
