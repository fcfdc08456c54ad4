"""`stampede sensitivity`: the input that decides a metric ranks first, one that cannot matter scores 0."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.engine.virtual import run_virtual
from simulator.scenario import parse_scenario
from simulator.sensitivity import (
    SensitivityError,
    analyze,
    check_metrics,
    design,
    ranking,
    read_sensitivity_csv,
    sensitivity_csv,
)
from simulator.uncertain import parse_uncertain

STAMPEDE = str(Path(sys.executable).with_name("stampede"))
ROOT = Path(__file__).resolve().parent.parent

# With no read cache (api.cache = "none") the TTL is never read: it provably cannot move any metric. The
# request limit on one key (1-minute window) is what throttles the spike: it decides time to created.
SCENARIO = """
name = "sens"
seed = 11
horizon = "1h"
bin = "10s"
[catalog]
events = 2
capacity = 0
session_capacity = 0
[workload]
shape = "spike"
rate = 12
half_life = "1m"
duration = "4m"
[api]
cache = "none"
[dataverse]
window = "1m"
[uncertain]
"api.cache_ttl" = { dist = "uniform", low = "1m", high = "20m" }
"dataverse.requests_limit" = { dist = "uniform", low = 200, high = 800 }
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STAMPEDE, "sensitivity", *args], capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.mark.slow
def test_the_deciding_input_ranks_first_and_the_unread_one_scores_zero(tmp_path: Path) -> None:
    scenario = tmp_path / "sens.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "out"
    done = run(str(scenario), "--metric", "time_to_created_s.p95", "--trajectories", "4", "--out", str(out))
    assert done.returncode == 0, done.stderr
    with (out / "sensitivity.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["input", "metric", "mu_star", "sigma"]
    by_input = {row["input"]: row for row in rows}
    assert float(by_input["api.cache_ttl"]["mu_star"]) == 0.0
    assert float(by_input["dataverse.requests_limit"]["mu_star"]) > 0.0
    assert "time_to_created_s.p95: dataverse.requests_limit drives it" in done.stdout
    assert "api.cache_ttl barely matters" in done.stdout
    report = (out / "report.html").read_text(encoding="utf-8")
    assert report.count("<img") == 1 and "drives it" in report
    with (out / "points.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 4 * (2 + 1)  # R trajectories of D + 1 points
    # `stampede report` on the sensitivity run makes the same report again, elsewhere too
    again = subprocess.run([STAMPEDE, "report", str(out), "--out", str(tmp_path / "again")], capture_output=True,
                           text=True, timeout=300, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    remade = (tmp_path / "again" / "report.html").read_text(encoding="utf-8")
    assert remade.count("<img") == 1 and "dataverse.requests_limit drives it" in remade
    assert (tmp_path / "again" / "sensitivity-1.png").stat().st_size > 0


def test_sobol_design_has_n_times_d_plus_2_points() -> None:
    entries = parse_uncertain(parse_scenario({"uncertain": {
        "api.cache_ttl": {"dist": "uniform", "low": "1m", "high": "20m"},
        "workload.rate": {"dist": "normal", "mean": 100, "sd": 10},
    }}), "test")
    points = design(entries, "sobol", 6, seed=1)  # 6 → 8, a power of two
    assert points.points.shape == (8 * (2 + 2), 2)
    assert points.problem["bounds"][1] == [0.01, 0.99]  # a normal's infinite tails are left out


def test_sobol_ranking_words() -> None:
    rows = [{"input": "a", "metric": "m", "s1": 0.7, "s1_conf": 0.1, "st": 0.8, "st_conf": 0.1},
            {"input": "b", "metric": "m", "s1": 0.0, "s1_conf": 0.0, "st": 0.01, "st_conf": 0.0}]
    assert ranking(rows) == ["m: a drives it (ST 0.8); b barely matters (ST 0.01)"]


@pytest.mark.parametrize("path", ["time_to_created_s.p97", "submissions", "name", ""])
def test_a_metric_that_is_not_a_number_in_the_summary_is_refused(path: str) -> None:
    with pytest.raises(SensitivityError, match="time_to_created_s.p95"):
        check_metrics([path])


def test_every_number_of_a_runs_summary_is_a_metric_and_nothing_else_is() -> None:
    """check_metrics accepts exactly the paths that hold a number (or null: not reached) in a real run's
    summary.json, whatever the run."""
    summary = run_virtual(parse_scenario({"name": "m", "horizon": "2m", "workload": {
        "shape": "constant", "rate": 1, "duration": "20s"}})).summary

    def leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for key, value in node.items():
            path = f"{prefix}{key}"
            yield from leaves(value, path + ".") if isinstance(value, dict) else [(path, value)]

    numbers = [p for p, v in leaves(summary) if v is None or (isinstance(v, int | float) and not isinstance(v, bool))]
    assert {"time_to_created_s.p95", "time_to_created_s.of_created.p95", "submissions.created_share",
            "last_created_s", "dataverse.throttled_by.requests"} <= set(numbers)
    check_metrics(numbers, summary)
    for path, value in leaves(summary):
        if isinstance(value, str | bool | list):
            with pytest.raises(SensitivityError):
                check_metrics([path], summary)


def test_a_metric_some_point_did_not_reach_is_refused_in_one_line() -> None:
    design_ = design(parse_uncertain(parse_scenario({"uncertain": {
        "workload.rate": {"dist": "uniform", "low": 1, "high": 2}}}), "x.toml"), "morris", 2, seed=1)
    outputs = {"time_to_created_s.p95": [1.0] * (len(design_.points) - 1) + [math.nan]}
    with pytest.raises(SensitivityError, match=r"--metric time_to_created_s.p95: not reached at 1 of \d+ points"):
        analyze(design_, outputs, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize(("extra", "expected"), [
    ((), "[uncertain]"),
    (("--method", "fast"), "--method"),
    (("--trajectories", "1"), "--trajectories"),
])
def test_errors_are_one_line_and_write_nothing(tmp_path: Path, extra: tuple[str, ...], expected: str) -> None:
    scenario = tmp_path / "plain.toml"
    text = SCENARIO if extra else SCENARIO.split("[uncertain]")[0]
    scenario.write_text(text, encoding="utf-8")
    done = run(str(scenario), "--metric", "time_to_created_s.p95", "--out", str(tmp_path / "out"), *extra)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_sensitivity_csv_reads_back_as_it_was_written() -> None:
    rows = [{"input": "a", "metric": "m", "mu_star": 1.5, "sigma": 0.25},
            {"input": "b", "metric": "m", "mu_star": 0.0, "sigma": 0.0}]
    assert read_sensitivity_csv(sensitivity_csv(rows, "morris")) == rows
    assert ranking(read_sensitivity_csv(sensitivity_csv(rows, "morris"))) == ranking(rows)


@pytest.mark.parametrize(("text", "expected"), [
    ("input,metric,p\n", "expected the columns input, metric, mu_star, sigma"),
    ("input,metric,mu_star,sigma\na,m,lots,1\n", "line 2: mu_star = 'lots' is not a number"),
    ("input,metric,mu_star,sigma\na,m,1\n", "line 2: 3 cells, expected 4"),
])
def test_a_damaged_sensitivity_csv_is_named_with_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(SensitivityError, match=expected):
        read_sensitivity_csv(text, "runs/x/sensitivity.csv")
