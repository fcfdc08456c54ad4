"""The commands as a user runs them: files, columns, exit codes, messages."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from simulator.scenario import load_scenario

pytestmark = pytest.mark.slow  # each test runs the stampede CLI in a subprocess

ROOT = Path(__file__).resolve().parents[1]
STAMPEDE = Path(sys.executable).with_name("stampede")

SMALL = """
name = "small"
horizon = "1h"
[catalog]
events = 2
capacity = 0
[workload]
shape = "spike"
rate = 20
half_life = "2m"
duration = "10m"
browse_per_submission = 2
[api]
processors = 8
"""

DEMAND_ABOVE_ONE_USER = """
name = "plan-demand"
horizon = "2h"
[catalog]
events = 1
capacity = 0
session_capacity = 0
[workload]
shape = "constant"
rate = 15
duration = "30m"
browse_per_submission = 0
[workload.mix]
event = 1.0
session = 0.0
waitlist = 0.0
[api]
processors = 48
"""

TIMESERIES_COLUMNS = ["t_s", "offered", "accepted", "rejected", "cache_hits", "cache_misses", "dv_admitted",
                      "dv_throttled", "dv_throttled_requests", "dv_throttled_execution", "dv_throttled_concurrency",
                      "created", "dead_lettered", "queue_depth", "retrying"]
SUBMISSION_COLUMNS = ["id", "kind", "offered_s", "accepted_s", "created_s", "attempts", "outcome"]


def stampede(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STAMPEDE), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    return path


def test_simulate_writes_the_run_directory_design_md_fixes(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = stampede("simulate", str(small), "--out", str(out), "--set", "dataverse.app_users=2", "--seed", "11",
                      "--no-report")
    assert result.returncode == 0, result.stderr
    assert "time to created" in result.stdout and str(out) in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    for key in ("name", "mode", "seed", "simulated_s", "wall_s", "submissions", "cache", "dataverse", "throughput",
                "time_to_created_s", "attempts_per_created"):
        assert key in summary
    assert summary["mode"] == "simulated" and summary["seed"] == 11 and summary["name"] == "small"
    assert set(summary["dataverse"]["throttled_by"]) == {"requests", "execution", "concurrency"}
    assert set(summary["time_to_created_s"]) >= {"p50", "p95", "p99", "max"}
    with (out / "timeseries.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert set(TIMESERIES_COLUMNS) <= set(rows[0])
    assert sum(int(r["created"]) for r in rows) == summary["submissions"]["created"]
    with (out / "submissions.csv").open() as handle:
        submissions = list(csv.DictReader(handle))
    assert list(submissions[0])[:7] == SUBMISSION_COLUMNS
    assert len(submissions) == summary["submissions"]["offered"]
    resolved = tomllib.loads((out / "scenario.toml").read_text())
    assert resolved["seed"] == 11 and resolved["dataverse"]["app_users"] == 2
    assert load_scenario(out / "scenario.toml") == load_scenario(small, ["dataverse.app_users=2"], seed=11)


def test_simulate_without_out_names_the_run_by_scenario_and_utc_time(small: Path, tmp_path: Path) -> None:
    result = stampede("simulate", str(small), "--no-report", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [run_dir] = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("small-20") and "T" in run_dir.name
    assert result.stdout.strip().endswith(run_dir.name)


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "retry.base=2 sec"], 'retry.base = \'2 sec\' — expected a duration like "2s"'),
    (["--set", "api.cahce=none"], 'did you mean "cache"'),
    (["--set", "nonsense"], "expected key=value"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(small: Path, tmp_path: Path, args: list[str],
                                                       message: str) -> None:
    result = stampede("simulate", str(small), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr.replace("\n", " ")
    assert str(small) in result.stderr or "--set" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_missing_scenario_file_says_so(tmp_path: Path) -> None:
    result = stampede("simulate", "nope.toml", cwd=tmp_path)
    assert result.returncode == 2 and "no such scenario file" in result.stderr


def test_plan_returns_the_analytic_minimum_of_app_users(tmp_path: Path) -> None:
    path = tmp_path / "demand.toml"
    path.write_text(DEMAND_ABOVE_ONE_USER)  # 15/s against 6000/300 s ÷ 3 calls = 6.67/s per app user → 3 users
    result = stampede("plan", str(path), "--slo", "time_to_created_s.p95<=120", "--search",
                      "dataverse.app_users=1..8", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["key"] == "dataverse.app_users"
    assert answer["value"] == answer["analytic_value"] == 3
    assert answer["met"] is True
    tried = {row["value"]: row for row in answer["tried"]}
    assert tried[2]["met"] is False and tried[3]["met"] is True
    assert tried[3]["ceiling_created_per_s"] == pytest.approx(20.0)


def test_plan_exits_non_zero_when_nothing_in_range_meets_the_slo(tmp_path: Path) -> None:
    path = tmp_path / "demand.toml"
    path.write_text(DEMAND_ABOVE_ONE_USER)
    result = stampede("plan", str(path), "--slo", "time_to_created_s.p95<=120", "--search",
                      "dataverse.app_users=1..2", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["value"] is None


def test_compare_writes_one_run_per_variant(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = stampede("compare", str(small), "--vary", "retry.policy=none,exponential", "--vary",
                      "api.cache=none,ttl", "--out", str(out), "--no-report", "--workers", "2")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert names == ["policy-exponential_cache-none", "policy-exponential_cache-ttl", "policy-none_cache-none",
                     "policy-none_cache-ttl"]
    for name in names:
        resolved = tomllib.loads((out / name / "scenario.toml").read_text())
        assert name == f"policy-{resolved['retry']['policy']}_cache-{resolved['api']['cache']}"
        assert (out / name / "summary.json").exists()
