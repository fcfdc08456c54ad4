"""Every accepted registration counts: one that is dead-lettered or still pending at the horizon counts as never
created, so a percentile that falls among those is not reached, and an SLO on it is not met (issue 20 §1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reports.rundata import load_run
from reports.verdict import run_verdict
from simulator.engine.virtual import run_virtual
from simulator.plan import capacity, registration_summary
from simulator.records import Recorder, summarize
from simulator.scenario import load_scenario
from simulator.sweep import judge, parse_slo
from stampede.cli import _register_commands, app

ROOT = Path(__file__).resolve().parent.parent
OUTAGE = ROOT / "scenarios" / "outage.toml"
# The reproduction: an outage from 0 s lasting 8 h, so nothing is ever created.
ALL_LOST = ["workload.rate=5", "workload.duration=10m", "horizon=1h",
            'faults=[{at="0s",duration="8h",kind="outage"}]']


def recorder_with(created_after_s: list[float], dead_lettered: int, pending: int) -> Recorder:
    """A recorder whose accepted registrations are created after the given times, dead-lettered or left open."""
    recorder = Recorder(10.0)
    for wait_s in created_after_s:
        number = recorder.offered("event", 0.0)
        recorder.accepted(number, 0.0)
        recorder.created(number, wait_s, 1)
    for _ in range(dead_lettered):
        number = recorder.offered("event", 0.0)
        recorder.accepted(number, 0.0)
        recorder.dead_lettered(number, 100.0, 3, "deadline")
    for _ in range(pending):
        number = recorder.offered("event", 0.0)
        recorder.accepted(number, 0.0)
    return recorder


def summary_of(recorder: Recorder) -> dict:
    return summarize(recorder, name="t", mode="simulated", seed=1, simulated_s=200.0, wall_s=0.0, capacity={})


def test_percentiles_are_over_every_accepted_registration() -> None:
    # 88 created after 1..88 s, 7 dead-lettered, 5 pending: 12 % never created.
    waits = [float(i) for i in range(1, 89)]
    summary = summary_of(recorder_with(waits, dead_lettered=7, pending=5))
    ttc = summary["time_to_created_s"]
    everything = np.array(waits + [np.inf] * 12)
    assert ttc["p50"] == pytest.approx(float(np.percentile(everything, 50)))
    assert ttc["p95"] is None and ttc["p99"] is None and ttc["max"] is None
    assert ttc["not_reached"] is True
    assert ttc["mean"] is None  # a mean over every accepted registration: some never came
    assert ttc["of_created"]["p95"] == pytest.approx(float(np.percentile(waits, 95)), abs=1e-3)
    assert ttc["of_created"]["max"] == 88.0
    assert ttc["of_created"]["mean"] == pytest.approx(float(np.mean(waits)))
    assert summary["submissions"]["created_share"] == pytest.approx(0.88)
    assert summary["submissions"]["dead_lettered_share"] == pytest.approx(0.07)


def test_nothing_lost_changes_nothing() -> None:
    waits = [float(i) for i in range(1, 101)]
    ttc = summary_of(recorder_with(waits, dead_lettered=0, pending=0))["time_to_created_s"]
    assert ttc["not_reached"] is False
    assert {k: ttc[k] for k in ("p50", "p95", "p99", "max")} == {
        k: ttc["of_created"][k] for k in ("p50", "p95", "p99", "max")}
    assert ttc["p95"] == pytest.approx(float(np.percentile(waits, 95)), abs=1e-3)
    assert ttc["mean"] == ttc["of_created"]["mean"] == pytest.approx(50.5)


def test_the_outage_reproduction_reaches_no_percentile() -> None:
    run = run_virtual(load_scenario(OUTAGE, ALL_LOST))
    subs = run.summary["submissions"]
    assert subs["offered"] > 1000 and subs["created"] == 0
    ttc = run.summary["time_to_created_s"]
    assert ttc["p95"] is None and ttc["not_reached"] is True
    verdict = judge([parse_slo("time_to_created_s.p95<=900")], run.summary)
    assert not verdict.met
    assert "not reached" in verdict.reasons[0] or "no registration" in verdict.reasons[0]


def test_an_slo_on_a_null_or_missing_metric_is_not_met_and_says_why() -> None:
    summary = {"last_created_s": None, "time_to_created_s": {"p95": None, "not_reached": True},
               "submissions": {"accepted": 10, "created": 0, "dead_lettered": 10, "pending": 0}}
    verdict = judge([parse_slo("last_created_s<=3600")], summary)
    assert not verdict.met and "last_created_s" in verdict.reasons[0] and "null" in verdict.reasons[0]
    missing = judge([parse_slo("throughput.mean_created_per_s>=1")], summary)
    assert not missing.met and "no 'throughput.mean_created_per_s'" in missing.reasons[0]


def test_a_probe_that_lost_registrations_is_not_met_unless_the_slo_counts_them() -> None:
    summary = {"last_created_s": 100.0, "time_to_created_s": {"p95": 10.0, "not_reached": False},
               "submissions": {"accepted": 100, "created": 98, "dead_lettered": 2, "pending": 0,
                               "created_share": 0.98}}
    blind = judge([parse_slo("last_created_s<=3600")], summary)
    assert not blind.met and "2 of 100 accepted registrations were lost" in blind.reasons[0]
    assert judge([parse_slo("time_to_created_s.p95<=900")], summary).met  # p95 over all accepted allows 5 %
    assert judge([parse_slo("last_created_s<=3600"), parse_slo("submissions.created_share>=0.98")], summary).met


runner = CliRunner()
if not app.registered_commands:  # the console script registers them in main()
    _register_commands()


@pytest.mark.parametrize("slo", ["time_to_created_s.p95<=900", "last_created_s<=3600"])
def test_plan_never_meets_when_nothing_is_created(slo: str) -> None:
    args = ["plan", str(OUTAGE), "--slo", slo, "--search", "api.processors=1..4", "--json"]
    for override in ALL_LOST:
        args += ["--set", override]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    answer = json.loads(result.stdout)
    assert answer["value"] is None and answer["met"] is False
    assert all(not row["met"] and row["why"] for row in answer["tried"])


def test_any_user_facing_error_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command catches StampedeError, wherever below it is raised (here: deep in a run)."""
    import stampede.simulate_cmd
    from simulator.errors import StampedeError

    def refuse(*args: object, **kwargs: object) -> None:
        raise StampedeError("x.toml: [uncertain] \"dataverse.app_users\" — low == high, e.g. low = 1, high = 4")

    monkeypatch.setattr(stampede.simulate_cmd, "run_virtual", refuse)
    result = runner.invoke(app, ["simulate", str(OUTAGE), "--no-report", "--quiet"])
    assert result.exit_code == 2
    assert "error: x.toml: [uncertain]" in result.output and "Traceback" not in result.output
    assert not isinstance(result.exception, StampedeError)


# --- settings that take effect (issue 20 §7) -------------------------------------------------------------------

SHIPPED = sorted((ROOT / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_no_shipped_scenario_pins_a_count_that_registration_derives(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.dataverse.plan.contact_match is None and scenario.dataverse.plan.consent is None
    assert "overridden" not in registration_summary(scenario)


def test_matching_none_removes_the_match_read_from_the_shipped_email_blast() -> None:
    """The issue's reproduction: --set registration.matching=none still cost 3.5 calls per registration."""
    email_blast = ROOT / "scenarios" / "email-blast.toml"
    default = capacity(load_scenario(email_blast))["calls_per_registration"]
    unmatched = load_scenario(email_blast, ["registration.matching=none"])
    assert capacity(unmatched)["calls_per_registration"] == pytest.approx(default - 1)
    assert "overridden" not in registration_summary(unmatched)
    pinned = load_scenario(email_blast, ["registration.matching=none", "dataverse.plan.contact_match=1"])
    assert capacity(pinned)["calls_per_registration"] == pytest.approx(default)
    assert registration_summary(pinned)["overridden"] == {
        "contact_match": "contact_match = 1 set explicitly: matching = none does not remove the match read"}


def test_an_override_is_named_in_summary_json_the_console_and_the_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["simulate", str(OUTAGE), "--out", str(run_dir), "--no-report",
                                 "--set", "workload.duration=1m",
                                 "--set", "horizon=10m", "--set", "registration.matching=none",
                                 "--set", "dataverse.plan.contact_match=1", "--set", "faults=[]"])
    assert result.exit_code == 0, result.output
    sentence = "contact_match = 1 set explicitly: matching = none does not remove the match read"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["registration"]["overridden"] == {"contact_match": sentence}
    cells = [line.split("│")[2].strip() for line in result.output.splitlines() if line.count("│") == 3]
    assert sentence in " ".join(cells)  # the table's right-hand column, wrapped to fit 80 columns
    assert any(s.startswith(sentence) for s in run_verdict(load_run(run_dir)).sentences)


def test_plan_refuses_an_slo_path_no_summary_has_before_any_probe_and_knows_the_engines_blocks() -> None:
    args = ["plan", str(OUTAGE), "--search", "api.processors=1..2", "--json", "--set", "workload.duration=1m",
            "--set", "horizon=5m", "--set", "faults=[]"]
    refused = runner.invoke(app, [*args, "--slo", "time_to_created_s.p42<=900"])
    assert refused.exit_code == 2 and "summary.json has no 'time_to_created_s.p42'" in refused.output
    assert "tried" not in refused.output  # refused before any probe ran
    known = runner.invoke(app, [*args, "--slo", "time_to_confirmed_s.p95<=900", "--slo",
                                "dataverse.pool_share<=1"])
    assert known.exit_code in (0, 1), known.output
    assert json.loads(known.stdout)["tried"]


def test_a_replicated_figure_one_replication_did_not_reach_is_null_with_a_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    from simulator.replications import ReplicationResult, replicated_summary
    from stampede import console, replication_table

    lost = summary_of(recorder_with([1.0, 2.0, 3.0], dead_lettered=2, pending=0))
    kept = summary_of(recorder_with([1.0, 2.0, 3.0, 4.0, 5.0], dead_lettered=0, pending=0))
    results = [ReplicationResult(0, i, i, {}, s, (), ()) for i, s in enumerate([kept, lost, kept])]
    summary = replicated_summary(results, seed=1, confidence=0.95, sampling="lhs", uncertain={})
    assert summary["time_to_created_s"]["p95"] is None and summary["time_to_created_s"]["not_reached"] is True
    assert summary["time_to_created_s"]["p50"] == pytest.approx(np.mean([3.0, 3.0, 3.0]))
    assert summary["replications"]["not_reached"]["time_to_created_s.p95"] == 1
    assert "time_to_created_s.p95" not in summary["replications"]["metrics"]
    assert summary["submissions"]["dead_lettered"] == pytest.approx(2 / 3)
    assert summary["dead_letter_reasons"] == {"deadline": pytest.approx(0.7)}  # 2/3, to a tenth
    screen = io.StringIO()
    monkeypatch.setattr(console, "out", Console(file=screen, width=120))
    replication_table.print_replications(summary)
    assert "not reached in 1 of 3" in screen.getvalue()
