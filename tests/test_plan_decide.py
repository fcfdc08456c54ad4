"""`plan` decides each probe after every replication (issue 22): the same answers as the fixed steps of 10, from
fewer replications; the search starts at the analytic minimum."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.engine.probe import decide, needed
from simulator.stats import share_bounds
from simulator.sweep import smallest_meeting

ROOT = Path(__file__).resolve().parents[1]
STAMPEDE = Path(sys.executable).with_name("stampede")


def test_ninety_five_percent_is_shown_by_59_straight_successes_and_no_fewer() -> None:
    """0.95^59 < 0.05 < 0.95^58: the one-sided exact bound needs 59 successes in 59 to show P ≥ 0.95."""
    assert share_bounds(59, 59, 0.95)[0] >= 0.95 > share_bounds(58, 58, 0.95)[0]
    assert decide(58, 58, 100, 0.95, 0.95) is None
    assert decide(59, 59, 100, 0.95, 0.95) == (True, True)
    assert needed(30, 30, 0.95, 0.95) == 59
    assert needed(29, 30, 0.95, 0.95) is not None and needed(29, 30, 0.95, 0.95) > 59  # a failure costs more


def test_a_probe_stops_as_soon_as_its_verdict_or_the_caps_share_is_settled() -> None:
    assert decide(0, 1, 30, 0.95, 0.95) is None  # one failure: 29/30 at the cap would still reach 95 %
    assert decide(0, 2, 30, 0.95, 0.95) == (False, True)  # 0 of 2: the upper bound (78 %) is below 95 %
    assert decide(28, 29, 30, 0.95, 0.95) is None  # 29/30 ≥ 95 % if the last one meets
    assert decide(27, 29, 30, 0.95, 0.95) == (False, False)  # two failures: the share at 30 stays below
    assert decide(29, 29, 30, 0.95, 0.95) == (True, False)  # 29/30 whatever the last one does, not shown
    assert decide(29, 30, 30, 0.95, 0.95) == (True, False)  # at the cap: its share, undecided
    assert decide(5, 5, 5, 1.0, 0.95) == (True, True) and decide(4, 5, 9, 1.0, 0.95) == (False, True)


@pytest.mark.parametrize("start", [None, 0, 1, 3, 7, 12, 15])
def test_the_gallop_from_a_start_finds_what_bisection_finds(start: int | None) -> None:
    """Every threshold in 0..15 (and none met), from every start: the answer of plain bisection, and from a
    start at or next to the answer, at most 3 probes."""
    for threshold in range(17):
        probed: list[int] = []

        def meets(value: int, threshold: int = threshold, probed: list[int] = probed) -> bool:
            probed.append(value)
            return value >= threshold

        found = smallest_meeting(0, 15, meets, start)
        assert found == (threshold if threshold <= 15 else None), (start, threshold, probed)
        assert found is None or found in probed and found - 1 not in range(0, 16) or found - 1 in probed
        if start is not None and abs(start - threshold) <= 1 and threshold <= 15:
            assert len(set(probed)) <= 3, (start, threshold, probed)


SCENARIO = """
name = "plan-decide"
horizon = "2h"
seed = 7
[catalog]
events = 1
capacity = 0
session_capacity = 0
[workload]
shape = "constant"
rate = 2.9166666
duration = "10m"
browse_per_submission = 0
[workload.mix]
event = 1.0
session = 0.0
waitlist = 0.0
[api]
processors = 48
[dataverse]
requests_limit = 1500
[uncertain]
"workload.rate" = { dist = "uniform", low = 1.3333, high = 4.5 }
"""


@pytest.mark.slow
def test_the_answer_is_todays_from_fewer_replications_whatever_the_workers(tmp_path: Path) -> None:
    """Today's answer (main at ed9c86e, fixed steps of 10, --replications 20, seed 7): 3 app users, from 50
    replications — 2 fails (5/10), 3 meets (20/20, borderline), 4 meets (20/20). The sequential probes must
    give 3 again, agree on every value both tried, and count no more replications; two workers give the same
    rows as one (the verdict reads replications in task order)."""
    path = tmp_path / "q.toml"
    path.write_text(SCENARIO)
    rows = {}
    for workers in ("1", "2"):
        done = subprocess.run([str(STAMPEDE), "plan", str(path), "--slo", "time_to_created_s.p95<=60", "--search",
                               "dataverse.app_users=1..4", "--replications", "20", "--workers", workers, "--json",
                               "--out", str(tmp_path / f"plan-{workers}")],
                              capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert answer["value"] == 3 and answer["analytic_value"] == 2
        rows[workers] = answer["tried"]
    assert rows["1"] == rows["2"]
    tried = {row["value"]: row for row in rows["1"]}
    today = {2: False, 3: True, 4: True}
    assert all(row["met"] == today[value] for value, row in tried.items() if value in today)
    assert tried[2]["met"] is False and tried[3]["met"] is True
    assert sum(row["replications"] for row in tried.values()) <= 50
    assert tried[3]["borderline"] and tried[3]["decide_at"] == 59  # 19/19 or 20/20 cannot show 95 %
    # the failing probe's replications stop once p95 <= 60 s cannot hold (test_stopping holds each verdict to
    # the run to the end), so that probe reports no mean: its replications' figures are partial
    rows = list(csv.DictReader((tmp_path / "plan-1" / "probes.csv").open(encoding="utf-8")))
    cut = [row for row in rows if row["stopped_at_s"]]
    assert cut and all(float(row["value"]) == 2 and row["met"] == "False" for row in cut)
    assert tried[2]["metric"] is None and tried[2]["slo_metrics"] == {}
    assert tried[2]["cut_short"] == len([row for row in cut if row["value"] in ("2", "2.0")])
