"""Settings never silently ignored (issue 23 §5): a --set on an [uncertain] key makes it certain, one replication
of an uncertain scenario runs the central values without intervals."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reports.rundata import load_run
from reports.verdict import run_verdict
from stampede.cli import _register_commands, app

runner = CliRunner()
if not app.registered_commands:  # the console script registers them in main()
    _register_commands()

SCENARIO = """name = "tiny-uncertain"
horizon = "2m"
seed = 4
[catalog]
events = 1
capacity = 0
session_capacity = 0
[workload]
shape = "constant"
rate = 1
duration = "60s"
browse_per_submission = 0
[workload.mix]
event = 1.0
session = 0.0
waitlist = 0.0
[uncertain]
"workload.rate" = { dist = "triangular", low = 2, mode = 3, high = 6 }
"api.cache_ttl" = { dist = "choice", values = ["5m", "10m"], weights = [0.3, 0.7] }
"""


def _simulate(tmp_path: Path, *args: str) -> tuple[Path, str]:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(path), "--out", str(out), "--no-report", "--workers", "1", *args])
    assert result.exit_code == 0, result.output
    return out, result.output


def _offered(run_dir: Path) -> list[int]:
    """Submissions offered per replication, counted from the rows each replication's run wrote."""
    with (run_dir / "replications.csv").open(encoding="utf-8") as rows:
        return [int(float(row["submissions.offered"])) for row in csv.DictReader(rows)]


def test_set_on_an_uncertain_key_makes_it_certain_in_every_replication(tmp_path: Path) -> None:
    run_dir, output = _simulate(tmp_path, "--set", "workload.rate=1", "--replications", "3")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["certain_by_set"] == {"workload.rate": {"value": 1.0, "shown": "1"}}
    assert list(summary["replications"]["uncertain"]) == ["api.cache_ttl"]  # still drawn
    # 1/s for 60 s: about 60 (Poisson; above 90 one time in 7,000); the drawn 2..6/s would offer 120 or more
    assert all(n < 90 for n in _offered(run_dir)), _offered(run_dir)
    saved = tomllib.loads((run_dir / "scenario.toml").read_text(encoding="utf-8"))
    assert "workload.rate" not in saved.get("uncertain", {}) and saved["workload"]["rate"] == 1
    assert "workload.rate" in output and "certain" in output
    assert any("workload.rate" in s and "certain" in s for s in run_verdict(load_run(run_dir)).sentences)


def test_one_replication_runs_the_central_values_and_prints_no_interval(tmp_path: Path) -> None:
    run_dir, output = _simulate(tmp_path, "--replications", "1")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    # triangular(2, 3, 6): the median is 6 - sqrt((6 - 2)(6 - 3) / 2); the choice's mode is its heavier value
    assert summary["central_values"] == {
        "workload.rate": {"value": pytest.approx(6 - 6 ** 0.5), "shown": "3.55051", "statistic": "median"},
        "api.cache_ttl": {"value": 600.0, "shown": "10m", "statistic": "mode"}}
    offered = summary["submissions"]["offered"]
    assert 60 * 3.0 <= offered <= 60 * 4.1, offered  # about 3.55/s for 60 s
    assert "replications" not in summary  # one run: no intervals anywhere
    assert "±" not in output and "central values" in output
    saved = tomllib.loads((run_dir / "scenario.toml").read_text(encoding="utf-8"))
    assert not saved.get("uncertain") and saved["api"]["cache_ttl"] in ("10m", 600, 600.0)
    assert any("central value" in s for s in run_verdict(load_run(run_dir)).sentences)
