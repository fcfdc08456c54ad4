"""`stampede load` on live-smoke, as a user runs it (real sockets: the server and Locust are subprocesses on
127.0.0.1): the open workload keeps its rate, nothing accepted is lost, everything settles, and the live run
agrees with the simulation of the same scenario."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # Locust against a live server; achieved and live rates (conftest)

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "scenarios" / "live-smoke.toml"


class Run:
    def __init__(self, run_dir: Path, result: subprocess.CompletedProcess[str]) -> None:
        self.dir = run_dir
        self.result = result
        self.summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        self.load: dict[str, Any] = self.summary["load"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Run:
    run_dir = tmp_path_factory.mktemp("live-smoke")
    # The second --fail-on holds on purpose: the exit code must say so, and the run directory must be complete.
    result = subprocess.run(
        [sys.executable, "-m", "stampede", "load", str(SMOKE), "--out", str(run_dir),
         "--fail-on", "load.lost>0", "--fail-on", "load.scheduled>0"],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    assert (run_dir / "summary.json").is_file(), result.stderr[-3000:]
    return Run(run_dir, result)


def test_fail_on_sets_the_exit_code_and_names_what_held(smoke: Run) -> None:
    assert smoke.result.returncode == 1, smoke.result.stderr[-3000:]
    assert "--fail-on: load.scheduled>0" in smoke.result.stderr
    assert "load.lost" not in smoke.result.stderr.split("--fail-on:")[-1]


def test_the_achieved_arrival_rate_is_within_5_percent_of_the_target(smoke: Run) -> None:
    load = smoke.load
    assert load["scheduled"] > 500
    assert load["achieved_rate_per_s"] == pytest.approx(load["target_rate_per_s"], rel=0.05)
    assert load["target_rate_per_s"] == pytest.approx(load["shape_rate_per_s"], rel=0.1)  # the seeded draw
    assert load["dropped"] <= 0.05 * load["scheduled"]


def test_nothing_accepted_is_lost_and_everything_settles(smoke: Run) -> None:
    subs = smoke.summary["submissions"]
    assert smoke.load["lost"] == 0
    assert smoke.load["settled"]
    assert subs["created"] + subs["dead_lettered"] == subs["accepted"]
    assert subs["pending"] == 0
    assert smoke.load["accepted_ids"] == smoke.load["registrations"]["accepted"] == subs["accepted"]


def test_a_429_from_the_limiter_is_throttled_not_failed(smoke: Run) -> None:
    registrations = smoke.load["registrations"]
    turned_away = sum(n for reason, n in smoke.summary["rejected_by"].items() if "429" in reason)
    assert turned_away > 0, "live-smoke should turn some callers away with 429"
    assert registrations["throttled"] == smoke.load["http_status"].get("429", 0) == turned_away, smoke.load
    with (smoke.dir / "locust_failures.csv").open(newline="", encoding="utf-8") as handle:
        failures = list(csv.DictReader(handle))
    assert not [row for row in failures if "429" in row["Error"]], failures
    assert registrations["failed"] == len(failures) == 0, failures  # nothing else went wrong either


def test_live_agrees_with_the_simulation_of_the_same_scenario(smoke: Run) -> None:
    """Created within 5 %, mean created per second within 10 %, the throttled share of Dataverse requests within
    10 points. The live run takes the simulation's arrivals, catalog and buyers' payments; where timing decides
    (which validation reads meet a throttled window) it is one more sample of the same chaos: 40 simulations
    whose read latency median was moved by 0.1 ms steps (28.0-31.9 ms) created 0.984-1.014 of the shipped run's
    count at 0.996-1.068 of its mean rate (the rate ends with the last buyer's payment, and turning away one of
    the last buyers moves it 5 %); twelve live runs, four beside two CPU-bound processes, gave 1.005-1.077."""
    versus = smoke.load["vs_simulated"]
    unsent = smoke.load["dropped"] + smoke.load["registrations"]["failed"]  # on a busy machine; counted, not hidden
    assert 0 <= versus["offered_simulated"] - versus["offered_live"] <= unsent, smoke.load
    assert versus["created_live"] == pytest.approx(versus["created_simulated"], rel=0.05), versus
    assert versus["mean_created_per_s_ratio"] == pytest.approx(1.0, abs=0.10), versus
    assert abs(versus["throttled_share_difference_points"]) <= 10
    assert smoke.summary["dataverse"]["throttled"] > 0  # the 5-minute window did bite


def test_the_run_directory_is_a_live_run_with_locusts_files_beside_it(smoke: Run) -> None:
    names = {path.name for path in smoke.dir.iterdir()}
    assert {"scenario.toml", "summary.json", "timeseries.csv", "submissions.csv"} <= names
    assert {"locust_stats.csv", "locust_stats_history.csv", "locust.html"} <= names
    assert smoke.summary["mode"] == "live"
    assert smoke.summary["time_scale"] == 30
    latency = smoke.load["latency_ms"]
    assert latency["registration_from_intended"]["p50"] >= latency["registration"]["p50"]
    assert latency["page"]["count"] == smoke.load["visits"]["pages"] > 0


def test_progress_is_shown_during_the_traffic_and_the_report_is_named(smoke: Run) -> None:
    # Not a terminal here, so progress comes as lines (a bar on a terminal): sent of planned, created so far.
    planned = smoke.load["scheduled"]
    lines = [line for line in smoke.result.stderr.splitlines() if "planned arrivals sent" in line]
    assert lines, smoke.result.stderr[-3000:]
    assert all(f"of {planned:,} planned arrivals sent" in line and "created" in line for line in lines)
    report = smoke.dir / "report.html"
    assert report.is_file()
    assert str(report) in " ".join(smoke.result.stdout.split()) or "report.html" in smoke.result.stdout
