"""--fail-on, a CI gate on simulate and compare: the --slo language, exit 1 when it holds; over variants,
any: (default) or all:."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator.sweep import SweepError
from stampede.gates import parse_gates, tripped

FAST = {"name": "x", "submissions": {"dead_lettered": 0}, "time_to_created_s": {"p95": 600.0}}
SLOW = {"name": "x", "submissions": {"dead_lettered": 3}, "time_to_created_s": {"p95": 1500.0}}


def test_one_run_trips_on_a_duration_threshold() -> None:
    gates = parse_gates(["time_to_created_s.p95>20m"])
    assert tripped(gates, [("x", FAST)]) == []
    assert tripped(gates, [("x", SLOW)]) == ["time_to_created_s.p95>20m: 25.0 min"]  # the figure it saw


def test_a_null_figure_trips_the_gate() -> None:
    """p95 not reached (more than 5 % never created) is no evidence that it is under 20 min."""
    unreached = {**FAST, "time_to_created_s": {"p95": None}}
    assert tripped(parse_gates(["time_to_created_s.p95>20m"]), [("x", unreached)]) == [
        "time_to_created_s.p95>20m: not reached"]
    assert tripped(parse_gates(["all:time_to_created_s.p95>20m"]), [("a", unreached), ("b", FAST)]) == []


def test_any_and_all_over_variants() -> None:
    variants = [("fast", FAST), ("slow", SLOW)]
    assert tripped(parse_gates(["submissions.dead_lettered>0"]), variants) == [
        "any:submissions.dead_lettered>0 (slow)"]
    assert tripped(parse_gates(["all:submissions.dead_lettered>0"]), variants) == []
    assert tripped(parse_gates(["all:time_to_created_s.p95>5m"]), variants) == [
        "all:time_to_created_s.p95>5m (fast, slow)"]


def test_a_malformed_gate_names_fail_on() -> None:
    with pytest.raises(SweepError, match="--fail-on 'p95 big'"):
        parse_gates(["p95 big"])


@pytest.mark.slow  # runs the CLI
def test_simulate_exits_1_when_a_gate_holds(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "steady.toml"
    args = [sys.executable, "-m", "stampede", "simulate", str(scenario), "--no-report", "--set",
            "workload.duration=1m"]
    held = subprocess.run([*args, "--out", str(tmp_path / "a"), "--fail-on", "submissions.created>=0"],
                          capture_output=True, text=True, timeout=300)
    assert held.returncode == 1 and "--fail-on: submissions.created>=0" in held.stderr, held.stderr
    passed = subprocess.run([*args, "--out", str(tmp_path / "b"), "--fail-on", "submissions.created<0"],
                            capture_output=True, text=True, timeout=300)
    assert passed.returncode == 0, passed.stderr
