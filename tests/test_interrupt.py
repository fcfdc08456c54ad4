"""Ctrl-C is a normal path: a terminal's Ctrl-C (SIGINT to the whole process group) stops `compare`,
`simulate` and `load` at once, without a traceback from any worker, leaves what finished marked interrupted,
says so in one line and exits 130; a second Ctrl-C exits at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each runs a command in a subprocess (and a process pool, or a server and Locust)

ROOT = Path(__file__).resolve().parents[1]
SHORT = ["--set", "workload.duration=4m"]


def interrupt_after(args: list[str], mark: str, timeout_s: float = 120.0) -> tuple[int, str]:
    """Run ``stampede ARGS`` in its own process group, wait for a stderr line holding ``mark``, send SIGINT to
    the group as a terminal does, and return (exit code, everything printed on stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "stampede", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
    assert process.stderr is not None
    seen = []
    try:
        for line in process.stderr:  # bounded by the test's timeout through communicate() below
            seen.append(line)
            if mark in line:
                break
        assert seen and mark in seen[-1], "".join(seen)
        os.killpg(process.pid, signal.SIGINT)
        _, rest = process.communicate(timeout=timeout_s)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, "".join(seen) + rest


def assert_one_clean_line(stderr: str) -> str:
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr and "Aborted" not in stderr, stderr
    [line] = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    return line


def test_compare_on_a_process_pool_stops_at_once_and_marks_what_finished(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    code, stderr = interrupt_after(["compare", "scenarios/email-blast.toml", "--vary", "retry.policy=none,exponential",
                                    "--replications", "20", "--workers", "2", "--out", str(out), *SHORT],
                                   mark=" done")
    assert code == 130, stderr
    line = assert_one_clean_line(stderr)
    summaries = [json.loads(p.read_text()) for p in out.glob("*/summary.json")]
    finished = sum(s["replications"]["n"] for s in summaries)
    assert f"{finished} of 40 runs done" in line and f"partial results in {out}/ marked interrupted" in line
    assert 1 <= finished < 40 and all(s["interrupted"] is True for s in summaries)
    rows = sum(len((p.parent / "replications.csv").read_text().splitlines()) - 1 for p in out.glob("*/summary.json"))
    assert rows == finished  # an independent count: one row per finished replication
    again = subprocess.run([sys.executable, "-m", "stampede", "compare", "scenarios/email-blast.toml", "--vary",
                            "retry.policy=none", "--out", str(out)], capture_output=True, text=True, timeout=60,
                           cwd=ROOT)
    assert again.returncode == 2 and "interrupted run; use --force" in " ".join(again.stderr.split())


def test_simulate_replications_leave_a_report_that_says_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    code, stderr = interrupt_after(["simulate", "scenarios/email-blast-uncertain.toml", "--replications", "20",
                                    "--workers", "1", "--out", str(out), "--no-report", *SHORT], mark=" done")
    assert code == 130, stderr
    line = assert_one_clean_line(stderr)
    summary = json.loads((out / "summary.json").read_text())
    n = summary["replications"]["n"]
    assert summary["interrupted"] is True and summary["replications"]["requested"] == 20 and 1 <= n < 20
    assert f"{n} of 20 replications done" in line
    assert len((out / "replications.csv").read_text().splitlines()) == n + 1
    report = subprocess.run([sys.executable, "-m", "stampede", "report", str(out)], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert report.returncode == 0, report.stderr
    html = (out / "report.html").read_text()
    headline = html[html.index('id="headline"'):html.index("</section>", html.index('id="headline"'))]
    assert f"Interrupted run: Ctrl-C stopped it after {n} of 20 replications" in headline


def test_load_leaves_the_live_run_marked_interrupted(tmp_path: Path) -> None:
    out = tmp_path / "live"
    code, stderr = interrupt_after(["load", "scenarios/live-smoke.toml", "--out", str(out), "--no-report"],
                                   mark="planned arrivals sent")
    assert code == 130, stderr
    line = assert_one_clean_line(stderr)
    assert f"{out}/ marked interrupted" in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and "load" not in summary  # no comparison with a simulation


def test_a_second_ctrl_c_exits_at_once_whatever_the_first_is_doing() -> None:
    script = ("import os, signal, threading\n"
              "from stampede import interrupt\n"
              "interrupt.install()\n"
              "try:\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "    threading.Event().wait(30)\n"
              "except KeyboardInterrupt:\n"
              "    print('first', flush=True)\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "    threading.Event().wait(30)  # a clean-up that would hang\n"
              "    print('not reached', flush=True)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20, cwd=ROOT)
    assert result.returncode == 130 and result.stdout == "first\n", result
