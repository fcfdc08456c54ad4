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
"dataverse.latency.write.median" = { dist = "uniform", low = "40ms", high = "120ms" }
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
    assert list(summary["replications"]["uncertain"]) == ["api.cache_ttl", "dataverse.latency.write.median"]
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
        "api.cache_ttl": {"value": 600.0, "shown": "10m", "statistic": "mode"},
        "dataverse.latency.write.median": {"value": pytest.approx(0.08), "shown": "80ms", "statistic": "median"}}
    offered = summary["submissions"]["offered"]
    assert 60 * 3.0 <= offered <= 60 * 4.1, offered  # about 3.55/s for 60 s
    assert "replications" not in summary  # one run: no intervals anywhere
    assert "±" not in output and "central values" in output
    saved = tomllib.loads((run_dir / "scenario.toml").read_text(encoding="utf-8"))
    assert not saved.get("uncertain") and saved["api"]["cache_ttl"] in ("10m", 600, 600.0)
    assert any("central value" in s for s in run_verdict(load_run(run_dir)).sentences)


def test_a_default_that_turned_demand_away_is_named_in_the_verdict_and_on_the_console(tmp_path: Path) -> None:
    """Session capacity left at its default (500) with 4/s of session registrations for 10 min: the session
    fills, and the verdict and console name catalog.session_capacity as the default; event capacity, set to
    800, is named as set. Counts are checked against submissions.csv's rows, not the counter."""
    path = tmp_path / "cut.toml"
    path.write_text(SCENARIO.split("[uncertain]")[0]
                    .replace("session_capacity = 0\n", "")
                    .replace("capacity = 0", "capacity = 800\nwaitlist = false\nsessions_per_event = 1")
                    .replace("rate = 1\n", "rate = 4\n").replace('"60s"', '"10m"').replace('"2m"', '"15m"')
                    .replace("event = 1.0\nsession = 0.0", "event = 0.2\nsession = 0.8"), encoding="utf-8")
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(path), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    with (out / "submissions.csv").open(encoding="utf-8") as rows:
        outcomes = [row for row in csv.DictReader(rows)]
    session_full = sum(row.get("reason") == "session is full" for row in outcomes)
    event_full = sum(row.get("reason") == "event is full" for row in outcomes)
    assert session_full > 0 and event_full > 0
    sentences = run_verdict(load_run(out)).sentences
    assert (f"{session_full:,} of {len(outcomes):,} submissions turned away: session is full "
            "(catalog.session_capacity = 500, the default).") in sentences, sentences
    assert (f"{event_full:,} of {len(outcomes):,} submissions turned away: event is full "
            "(catalog.capacity = 800, as set).") in sentences, sentences
    assert (f"{session_full:,} of {len(outcomes):,} submissions turned away: session is full "
            "(catalog.session_capacity = 500, the default)") in result.output


def test_compare_with_set_on_an_uncertain_key_keeps_it_certain_in_every_variant(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", str(path), "--vary", "api.processors=1,2", "--set", "workload.rate=1",
                                 "--replications", "2", "--workers", "1", "--no-report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    variants = sorted(p.parent for p in out.glob("*/summary.json"))
    assert len(variants) == 2
    for run_dir in variants:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        assert summary["certain_by_set"] == {"workload.rate": {"value": 1.0, "shown": "1"}}
        assert all(n < 90 for n in _offered(run_dir)), _offered(run_dir)  # drawn 2..6/s would offer 120 or more


def test_compare_with_one_replication_runs_every_variant_at_the_central_values(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"  # high 7, not 6: console warnings are said once per process, and this one differs
    path.write_text(SCENARIO.replace("high = 6", "high = 7"), encoding="utf-8")
    out = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", str(path), "--vary", "api.processors=1,2", "--replications", "1",
                                 "--workers", "1", "--no-report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "central values" in result.output and "±" not in result.output
    summaries = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("*/summary.json"))]
    assert len(summaries) == 2
    for summary in summaries:
        assert "replications" not in summary
        assert summary["central_values"]["api.cache_ttl"] == {"value": 600.0, "shown": "10m", "statistic": "mode"}
        assert 60 * 3.0 <= summary["submissions"]["offered"] <= 60 * 4.6  # the median rate, 7 - sqrt(10) = 3.84/s


@pytest.mark.slow  # a plan with its chosen run and page (about 5 s)
def test_plan_with_set_on_an_uncertain_key_and_one_replication_says_both_and_gates(tmp_path: Path) -> None:
    """plan --set on an [uncertain] key and --replications 1: every probe one run at the central values of the
    rest, the set key certain; plan.json, the chosen run, the console and the page say both, and --fail-on gates
    the answer (``value``) as one line."""
    path = tmp_path / "s.toml"  # high 8: console warnings are said once per process, and this one differs
    path.write_text(SCENARIO.replace("high = 6", "high = 8"), encoding="utf-8")
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", str(path), "--slo", "time_to_created_s.p95<=10m", "--search",
                                 "api.processors=1..2", "--set", "workload.rate=2", "--replications", "1",
                                 "--out", str(out), "--fail-on", "value>=1", "--fail-on",
                                 "submissions.dead_lettered>0"])
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["met"] and plan["value"] == 1
    assert result.exit_code == 1, result.output  # the answer met the SLO; the gate on it held
    assert "--fail-on: value>=1: 1\n" in result.stderr and "dead_lettered" not in result.stderr
    assert plan["certain_by_set"] == {"workload.rate": {"value": 2.0, "shown": "2"}}
    assert plan["central_values"]["api.cache_ttl"] == {"value": 600.0, "shown": "10m", "statistic": "mode"}
    assert "workload.rate" not in plan["central_values"]
    with (out / "probes.csv").open(encoding="utf-8") as rows:  # one run per probe: no replications drawn
        assert [row["replication"] for row in csv.DictReader(rows)] == ["1"] * len(plan["tried"])
    assert "probability" not in plan and all("met_share" not in row for row in plan["tried"])
    chosen = json.loads((out / "chosen" / "summary.json").read_text(encoding="utf-8"))
    assert "replications" not in chosen
    assert chosen["certain_by_set"] == plan["certain_by_set"] and chosen["central_values"] == plan["central_values"]
    assert chosen["submissions"]["offered"] < 170  # 2/s for 60 s, not the drawn or central 3.5..8/s
    assert "central values" in result.stderr and "certain" in result.stderr
    assert "±" not in result.output and "CI" not in result.stdout
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "certain" in page and "central value" in page and "10m" in page


@pytest.mark.slow
def test_plan_refuses_a_malformed_gate_before_any_probe(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    for gate, said in [("value big", "--fail-on 'value big': expected PATH OP NUMBER"),
                       ("submissions.nope>0", "--fail-on submissions.nope>0: summary.json has no")]:
        result = runner.invoke(app, ["plan", str(path), "--slo", "time_to_created_s.p95<=10m", "--search",
                                     "api.processors=1..2", "--out", str(tmp_path / "p"), "--fail-on", gate])
        assert result.exit_code == 2 and said in result.stderr, result.stderr
        assert ("e.g." if " " in gate else "known: ") in result.stderr  # a good example, or the keys there are
        assert not (tmp_path / "p").exists()


def test_capacity_turn_aways_are_not_counted_as_validation_rejections(tmp_path: Path) -> None:
    """Event capacity 100, no waitlist, against about 240 offers: the full event turns the rest away. The console
    and the report's headline count them on a line of their own naming catalog.capacity, apart from "rejected at
    validation" (counted from submissions.csv's rows: the rejected rows with any other reason)."""
    from reports.replicated import headline_rows

    path = tmp_path / "full.toml"
    path.write_text(SCENARIO.split("[uncertain]")[0].replace("capacity = 0", "capacity = 100\nwaitlist = false", 1)
                    .replace("rate = 1\n", "rate = 4\n"), encoding="utf-8")
    out = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(path), "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    with (out / "submissions.csv").open(encoding="utf-8") as rows:
        rejected = [row["reason"] for row in csv.DictReader(rows) if row["outcome"] == "rejected"]
    full = rejected.count("event is full")
    assert full > 0, rejected
    at_validation = len(rejected) - full
    rows = dict(headline_rows(load_run(out)))
    assert rows["Rejected at validation"] == f"{at_validation:,}", rows
    assert rows["Turned away: event is full (catalog.capacity = 100, as set)"] == f"{full:,}", rows
    words = " ".join(result.output.replace("│", " ").split())  # the table's cells wrap within 80 columns
    assert f"{at_validation:,} rejected at validation · {full:,} turned away" in words, result.output
    assert not any("rejected at validation" in s and "event is full" in s
                   for s in run_verdict(load_run(out)).sentences)
