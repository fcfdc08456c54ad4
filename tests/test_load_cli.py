"""`stampede load` refuses bad input before it starts anything, naming the option and a good example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs stampede load (server, Locust) in a subprocess

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "scenarios" / "live-smoke.toml"


@pytest.mark.parametrize(("args", "message"), [
    (["--fail-on", "load.lost"], "--fail-on 'load.lost': expected PATH OP NUMBER"),
    (["--duration", "5 minutes"], '--duration \'5 minutes\': expected a duration like "5m"'),
    (["--set", "workload.rate=fast"], "workload.rate"),
    (["--processes", "0"], "--processes 0"),
    (["--bind", "0.0.0.0"], "--expect-workers"),
], ids=["fail-on", "duration", "set", "processes", "bind"])
def test_bad_options_fail_fast_and_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "stampede", "load", str(SMOKE), "--out", str(out), *args],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr
    assert not out.exists()


def test_a_token_that_starts_with_a_dash_reaches_locust_intact(tmp_path: Path) -> None:
    """secrets.token_urlsafe may start with "-"; as a separate argument argparse would take it for an option."""
    from loadtests.runner import LoadSettings, _locust_command
    from simulator.scenario import load_scenario

    settings = LoadSettings(load_scenario(ROOT / "scenarios" / "live-smoke.toml"), tmp_path, 30.0)
    command = _locust_command(settings, "http://127.0.0.1:1", tmp_path / "s.toml", "-dash-token", tmp_path / "t")
    assert "--stampede-token=-dash-token" in command
