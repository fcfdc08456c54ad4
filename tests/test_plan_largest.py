"""`stampede plan --largest` on scenarios/invitation.toml: the fastest entry limit that still meets the SLO, and
the probe just above it fails. Shrunk to run in about a minute: 20,000 contacts sent at 250,000/hr against one key
cut to 150 requests per 5 minutes (0.15 registrations/s), two replications per probe — four probes (40,000 contacts
against 300 requests took five, each simulating twice the registrations, for the same bisection)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHRINK = ["journey.audience=20000", "journey.send_rate_per_h=250000", "dataverse.requests_limit=150", "horizon=12h",
          "bin=5m"]


@pytest.mark.slow
def test_plan_largest_returns_an_entry_limit_that_meets_where_the_next_probe_above_fails() -> None:
    command = [sys.executable, "-m", "stampede", "plan", "scenarios/invitation.toml", "--largest",
               "--slo", "time_to_confirmed_s.p95<=900", "--search", "journey.entry_limit=2000..20000",
               "--step", "2000", "--replications", "2", "--workers", "1", "--json"]
    for item in SHRINK:
        command += ["--set", item]
    done = subprocess.run(command, capture_output=True, text=True, timeout=400, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["direction"] == "largest"
    tried = {row["value"]: row for row in result["tried"]}
    found = result["value"]
    assert tried[found]["met"]
    assert found < 20000, "with one key cut to 0.15/s the fastest entry limit must fail the SLO"
    assert not tried[found + 2000]["met"]  # the next probe above fails
    assert all(row["met"] == (value <= found) for value, row in tried.items())  # monotone over what was probed
    assert result["answer"].startswith(f"journey.entry_limit = {found:,}/h meets p95 time to confirmed ≤ 15 min "
                                       "with probability ")
    assert "the 20,000 invitations then take" in result["answer"]
