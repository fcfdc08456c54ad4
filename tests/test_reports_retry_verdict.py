"""A comparison of retry policies says what honouring Retry-After does — on real simulated runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import reports
from reports.comparison import varied_settings
from simulator.engine.virtual import run_virtual
from simulator.records import run_files
from simulator.scenario import parse_scenario, scenario_to_toml

BLAST = {"name": "blast", "horizon": "3h", "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
         "workload": {"shape": "constant", "rate": 10, "duration": "30m"}}


def simulated(parent: Path, policy: str, honour: bool) -> Path:
    scenario = parse_scenario({**BLAST, "retry": {"policy": policy, "honor_retry_after": honour}})
    run = run_virtual(scenario)
    run_dir = parent / f"{policy}-{honour}"
    run_dir.mkdir()
    for name, text in run_files(run.recorder, run.summary, scenario_to_toml(scenario)).items():
        (run_dir / name).write_text(text)
    return run_dir


@pytest.mark.slow  # several full runs
def test_honouring_retry_after_makes_policies_identical_and_ignoring_it_turns_callers_away(tmp_path: Path) -> None:
    variants = [("exponential", True), ("full-jitter", True), ("exponential", False), ("full-jitter", False)]
    runs = [reports.load_run(simulated(tmp_path, policy, honour)) for policy, honour in variants]
    labels = [f"policy={p}, honor_retry_after={str(h).lower()}" for p, h in variants]
    text = " ".join(reports.comparison_verdict(runs, labels, varied_settings(runs)).sentences)
    assert "Honouring Retry-After, the retry policies give identical runs" in text
    assert runs[0].summary["submissions"] == runs[1].summary["submissions"]
    # 10/s against a 5.7/s ceiling for 30 min: the cache expires under throttling, and retries that ignore
    # Retry-After keep the key throttled when validation reads need it
    assert runs[2].summary["submissions"]["rejected"] > 2 * runs[0].summary["submissions"]["rejected"] + 10
    assert "Ignoring Retry-After costs callers" in text
