"""`stampede load` refuses bad input before it starts anything, naming the option and a good example."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
