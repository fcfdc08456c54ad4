"""Piped output (a CI log) honours COLUMNS and is 80 columns wide when it is unset: every line `simulate`,
`compare` and `plan` print fits, and figures carry their units."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_replications_cli import TINY  # the same tiny scenario the replications CLI tests run

pytestmark = pytest.mark.slow  # runs the CLI in subprocesses

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], tmp_path: Path, columns: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    result = subprocess.run([sys.executable, "-m", "stampede", *args], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def test_every_line_fits_80_columns_when_piped(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    outputs = {
        "simulate": run(["simulate", str(scenario), "--out", "s", "--no-report"], tmp_path),
        "compare": run(["compare", str(scenario), "--vary", "retry.policy=none,exponential,full-jitter",
                        "--vary", "retry.honor_retry_after=true,false", "--vary", "api.processors=1,4",
                        "--out", "c", "--no-report", "--workers", "1"], tmp_path),
        "plan": run(["plan", str(scenario), "--slo", "time_to_created_s.p95<=2m", "--search",
                     "api.processors=1..8"], tmp_path),
    }
    for command, text in outputs.items():
        lines = text.splitlines()
        assert len(lines) > 3, (command, text)
        wide = [line for line in lines if len(line.rstrip()) > 80]
        assert not wide, (command, wide)
    assert "time_to_created_s.p95<=2m" in outputs["plan"] and " min " in outputs["plan"]  # durations, not seconds


def test_columns_widens_piped_output(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY)
    text = run(["simulate", str(scenario), "--out", "s", "--no-report"], tmp_path, columns="132")
    assert max(len(line.rstrip()) for line in text.splitlines()) > 80
