"""A summary-only run (no row per submission) gives the very summary and time series of a full run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.engine.virtual import run_virtual
from simulator.records import run_files, timeseries_csv
from simulator.scenario import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def without_wall(summary: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in summary.items() if k != "wall_s"}, sort_keys=True)


def assert_same_run(scenario: Scenario) -> None:
    full = run_virtual(scenario)
    light = run_virtual(scenario, summary_only=True)
    assert without_wall(light.summary) == without_wall(full.summary)
    assert timeseries_csv(light.recorder, light.simulated_s) == timeseries_csv(full.recorder, full.simulated_s)
    assert light.recorder.ids == [] and light.recorder.created_s == []  # no rows were kept
    assert sorted(light.recorder.times_to_created_s) == sorted(full.recorder.times_to_created_s)


@pytest.mark.parametrize(("horizon", "unfinished"), [("50m", "dead_lettered"), ("12m", "pending")])
def test_every_outcome_counts_the_same_without_rows(horizon: str, unfinished: str) -> None:
    """Rejections (full events without a waitlist), and the work an outage held up: dead-lettered at the
    deadline, or still pending when the horizon cuts the run — every branch of the recorder."""
    scenario = parse_scenario({
        "name": "outcomes", "horizon": horizon, "bin": "30s",
        "catalog": {"events": 2, "capacity": 1000, "waitlist": False, "session_capacity": 0},
        "workload": {"shape": "spike", "rate": 20, "half_life": "2m", "duration": "10m"},
        "retry": {"deadline": "15m"},
        "faults": [{"at": "2m", "duration": "20m", "kind": "outage"}],
    })
    subs = run_virtual(scenario, summary_only=True).summary["submissions"]
    assert subs["rejected"] > 0 and subs[unfinished] > 0 and subs["created"] > 0
    assert_same_run(scenario)


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_shipped_scenarios_summarize_the_same_without_rows(path: Path) -> None:
    assert_same_run(load_scenario(path, [], None))


def test_a_summary_only_run_cannot_render_submissions_csv() -> None:
    run = run_virtual(load_scenario(SCENARIOS / "live-smoke.toml", [], None), summary_only=True)
    with pytest.raises(ValueError, match="summary-only"):
        run_files(run.recorder, run.summary, "")
