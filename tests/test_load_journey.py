"""`stampede load` on a journey scenario sends the simulation's arrivals: the schedule Locust replays is the
virtual run's offers (no sockets), and a short live run over real HTTP agrees with the simulation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from loadtests import traffic
from loadtests.traffic import Schedule
from simulator.engine.virtual import run_virtual
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
# 3,000 members sent in 77 s, answered by 30 % within minutes (median 2 min): about 900 registrations over 15
# simulated minutes, against one key cut to 1,500 requests per 5 minutes so the window bites; 30 s of wall time.
JOURNEY: dict[str, Any] = {
    "name": "journey-smoke", "seed": 7, "horizon": "15m", "bin": "10s",
    "catalog": {"events": 2, "paid_events": 0},
    "workload": {"shape": "journey", "browse_per_submission": 2},
    "journey": {"audience": 3000, "entry_limit": 1500, "start": "2027-03-01T09:50", "response_share": 0.3,
                "response_delay": {"dist": "lognormal", "median": "2m", "p95": "8m"}},
    "dataverse": {"requests_limit": 1500},
    "load": {"time_scale": 30},
}


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("journey") / "journey-smoke.toml"
    path.write_text(tomli_w.dumps(JOURNEY), encoding="utf-8")
    return path


def test_the_schedule_is_the_journeys_simulated_arrivals(scenario_file: Path) -> None:
    scenario = load_scenario(scenario_file)
    schedule = list(Schedule(scenario, time_scale=30))
    recorder = run_virtual(scenario).recorder
    simulated = sorted(zip(recorder.offered_s, recorder.kind, strict=True))
    scheduled = sorted((journey.t_s, traffic.registration_kind(journey)) for _, _, journey in schedule)
    assert len(scheduled) == len(simulated) > 600
    assert [t for t, _ in scheduled] == pytest.approx([t for t, _ in simulated])
    assert [kind for _, kind in scheduled] == [kind for _, kind in simulated]
    # the 10:00 entry batch (1,500 members, 10 minutes in) shows in the schedule as a second wave
    assert any(t >= 600 for t, _ in scheduled) and any(t < 600 for t, _ in scheduled)


@pytest.mark.slow
@pytest.mark.alone
def test_a_live_run_of_the_journey_agrees_with_its_simulation(scenario_file: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "stampede", "load", str(scenario_file), "--out", str(run_dir)],
                            capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert (run_dir / "summary.json").is_file(), result.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    load = summary["load"]
    versus = load["vs_simulated"]
    unsent = load["dropped"] + load["registrations"]["failed"]
    assert 0 <= versus["offered_simulated"] - versus["offered_live"] <= unsent, load
    assert versus["offered_simulated"] > 600
    assert versus["created_live"] == pytest.approx(versus["created_simulated"], rel=0.05), versus
    assert load["lost"] == 0 and summary["submissions"]["pending"] == 0
