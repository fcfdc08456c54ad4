"""The replication options as a user runs them: today's output at N = 1, the files of a replicated run,
compare's comparison.csv and its 80-column table."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from simulator.comparison import COMPARISON_COLUMNS, variant_labels
from simulator.stats import HEADLINE_METRICS
from simulator.sweep import parse_vary
from stampede.compare_table import print_comparison

ROOT = Path(__file__).resolve().parents[1]
STAMPEDE = Path(sys.executable).with_name("stampede")
TINY = """
name = "tiny"
seed = 5
horizon = "30m"
[catalog]
events = 1
capacity = 0
session_capacity = 0
[workload]
shape = "constant"
rate = 6
duration = "2m"
browse_per_submission = 1
[api]
processors = 4
[dataverse]
requests_limit = 600
"""


def stampede(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STAMPEDE), *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def _summary(path: Path) -> dict:
    return {k: v for k, v in json.loads((path / "summary.json").read_text()).items() if k != "wall_s"}


@pytest.mark.slow  # stampede in a subprocess
def test_one_replication_writes_exactly_todays_run_directory(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    today, one = tmp_path / "today", tmp_path / "one"
    assert stampede("simulate", str(scenario), "--out", str(today), "--no-report").returncode == 0
    assert stampede("simulate", str(scenario), "--out", str(one), "--no-report", "--replications", "1").returncode == 0
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in today.iterdir()) == [
        "scenario.toml", "submissions.csv", "summary.json", "timeseries.csv"]
    assert _summary(one) == _summary(today)
    for name in ("scenario.toml", "timeseries.csv", "submissions.csv"):
        assert (one / name).read_text() == (today / name).read_text()


@pytest.mark.slow  # stampede in a subprocess
def test_compare_with_replications_writes_comparison_csv_with_paired_differences(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    out = tmp_path / "cmp"
    result = stampede("compare", str(scenario), "--vary", "dataverse.app_users=1,2", "--out", str(out),
                      "--no-report", "--replications", "3", "--workers", "2", "--baseline", "1")
    assert result.returncode == 0, result.stderr
    with (out / "comparison.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == COMPARISON_COLUMNS
    assert {r["variant"] for r in rows} == {"app_users=1", "app_users=2"}
    assert {r["metric"] for r in rows} >= set(HEADLINE_METRICS) - {"last_created_s"}
    by = {(r["variant"], r["metric"]): r for r in rows}
    base = by[("app_users=1", "submissions.created")]
    assert float(base["diff"]) == float(base["diff_ci_low"]) == float(base["diff_ci_high"]) == 0.0
    two = by[("app_users=2", "submissions.created")]
    per_variant = {}
    for name in ("app_users-1", "app_users-2"):
        with (out / name / "replications.csv").open(newline="") as handle:
            per_variant[name] = [float(r["submissions.created"]) for r in csv.DictReader(handle)]
    diffs = [b - a for a, b in zip(per_variant["app_users-1"], per_variant["app_users-2"], strict=True)]
    assert float(two["diff"]) == sum(diffs) / 3
    assert float(two["diff_ci_low"]) <= float(two["diff"]) <= float(two["diff_ci_high"])
    assert "difference from app_users=1" in result.stdout
    # the report, re-made from the run directories, opens with the very sentences the console printed
    from reports.comparison import variant_labels as report_labels
    from reports.rundata import load_run
    from reports.write import comparison_decision

    runs = [load_run(out / name) for name in ("app_users-1", "app_users-2")]
    again = comparison_decision(runs, report_labels(runs)).sentences
    assert " ".join(result.stdout.split("\n\n")[0].split()) == " ".join(" ".join(again).split())


@pytest.mark.slow  # stampede in a subprocess
def test_compare_with_one_replication_has_interval_columns_equal_to_the_mean(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    out = tmp_path / "cmp"
    result = stampede("compare", str(scenario), "--vary", "retry.policy=none,exponential", "--out", str(out),
                      "--no-report", "--workers", "2")
    assert result.returncode == 0, result.stderr
    with (out / "comparison.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert all(r["mean"] == r["ci_low"] == r["ci_high"] for r in rows)
    single = tmp_path / "single"
    assert stampede("simulate", str(scenario), "--set", "retry.policy=exponential", "--out", str(single),
                    "--no-report").returncode == 0
    variant = _summary(out / "policy-exponential")
    assert variant == _summary(single)  # a variant is the same run simulate makes


def test_the_console_table_labels_variants_by_varied_values_and_fits_80_columns() -> None:
    varies = [parse_vary("retry.policy=none,exponential,decorrelated-jitter"),
              parse_vary("retry.honor_retry_after=true,false")]
    labels = variant_labels(varies)
    assert labels[:2] == ["none · RA on", "none · RA off"]
    summary = {"submissions": {"created": 11676, "dead_lettered": 50562, "rejected": 0, "pending": 0},
               "last_created_s": 9000.0, "time_to_created_s": {"p95": 4000.0},
               "dataverse": {"throttled": 123456, "binding_limit": "requests"}, "attempts_per_created": 1.5}
    rows = []
    for i, label in enumerate(labels):
        varied = json.loads(json.dumps(summary))
        varied["submissions"]["created"] += i * 1000
        varied["submissions"]["rejected"] = i * 7
        rows.append((label, varied))
    console = Console(width=80, record=True)
    print_comparison(rows, target=console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "same in every variant: dead-lettered 50,562" in text  # equal columns said once, above
    header = next(line for line in text.splitlines() if line.strip().startswith("variant "))
    assert "rej" in header and "dead" not in header  # rejected shown; the equal column dropped
    for label in labels:
        assert label.split(" · ")[0] in text
