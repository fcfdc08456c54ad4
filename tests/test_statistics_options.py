"""Statistics options that say what they do (issue 20 §4): --precision needs replications, identical --vary
values are refused, and --probability 1 asks every replication to meet the SLO."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from simulator.engine.probe import probe
from simulator.replications import ReplicationsError, replication_count
from simulator.scenario import parse_scenario
from simulator.sweep import SweepError, parse_slo, parse_vary
from stampede.cli import _register_commands, app

runner = CliRunner()
if not app.registered_commands:  # the console script registers them in main()
    _register_commands()

TINY = {"name": "tiny", "horizon": "2m", "seed": 4,
        "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
        "workload": {"shape": "constant", "rate": 1, "duration": "30s", "browse_per_submission": 0,
                     "mix": {"event": 1.0, "session": 0.0, "waitlist": 0.0}}}


@pytest.mark.parametrize(("requested", "uncertain"), [(None, False), (1, False), (1, True)])
def test_precision_without_two_replications_is_refused_in_one_line(requested: int | None, uncertain: bool) -> None:
    with pytest.raises(ReplicationsError, match=r"--precision 0.02: needs --replications 2 or more.*e\.g\. "):
        replication_count(requested, uncertain, 0.02)
    assert replication_count(None, True, 0.02) == 30 and replication_count(5, False, 0.02) == 5


@pytest.mark.parametrize("command", ["simulate", "compare", "plan"])
def test_every_command_refuses_precision_with_one_replication(command: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n[workload]\nrate = 1\nduration = "10s"\n', encoding="utf-8")
    extra = {"simulate": [], "compare": ["--vary", "api.processors=1,2"],
             "plan": ["--slo", "submissions.created>=0", "--search", "api.processors=1..2"]}[command]
    result = runner.invoke(app, [command, str(path), *extra, "--precision", "0.02", "--out", str(tmp_path / "o")]
                           if command != "plan" else [command, str(path), *extra, "--precision", "0.02"])
    assert result.exit_code == 2, result.output
    assert "error: --precision 0.02: needs --replications 2 or more" in result.output
    assert not (tmp_path / "o").exists()


def test_identical_vary_values_are_refused_in_one_line() -> None:
    with pytest.raises(SweepError, match=r"--vary 'retry.policy=none,none': none is listed twice.*e\.g\. "):
        parse_vary("retry.policy=none,none")
    assert parse_vary("retry.policy=none,full-jitter").values == ("none", "full-jitter")


def test_probability_one_asks_every_replication_and_is_never_borderline() -> None:
    """P = 1: a share's Wilson interval never straddles 1, so the old rule stopped at the first look and said
    "meets" from 10 replications. Now a probe that meets in all runs every replication it may; one that fails
    in any stops at that failure (it cannot meet any more), and neither is borderline."""
    scenario = parse_scenario(TINY)
    always = probe(scenario, [], [], 25, [parse_slo("submissions.offered>=0")], probability=1.0, confidence=0.95,
                   sampling="lhs", source="tiny", workers=1)
    assert always["met"] and always["replications"] == 25 and not always["borderline"]
    never = probe(scenario, [], [], 25, [parse_slo("submissions.offered<0")], probability=1.0, confidence=0.95,
                  sampling="lhs", source="tiny", workers=1)
    assert not never["met"] and never["replications"] == 1 and not never["borderline"]  # the first failure decides
