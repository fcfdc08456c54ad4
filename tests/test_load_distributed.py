"""Distributed `stampede load`: a Locust master and two workers on loopback (the README's commands for
machines of their own), and Locust's --processes; the counts the workers ship add up at the master."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from loadtests import LOCUSTFILE
from loadtests.traffic import Schedule
from simulator.scenario import load_scenario

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # a Locust master and workers over sockets; achieved rate

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "scenarios" / "live-smoke.toml"
# 8 s of arrivals at time scale 30. No paid event (a held purchase waits up to payment.timeout, 30 s of wall
# time here, before it settles) and a Dataverse budget the traffic cannot exhaust, so the backlog settles in
# seconds: this module is about the counts adding up across processes; test_load_live covers paid events and 429s
SETTINGS = ["workload.half_life=2m", "catalog.paid_events=0", "dataverse.requests_limit=1000000"]
SHORT = ["--duration", "4m", *(word for key in SETTINGS for word in ("--set", key))]


def scheduled(overrides: list[str]) -> int:
    return sum(1 for _ in Schedule(load_scenario(SMOKE, overrides), 30))


def check_aggregated(summary: dict[str, Any], processes: int) -> None:
    load = summary["load"]
    subs = summary["submissions"]
    assert load["processes"] == load["processes_done"] == processes
    rows = load["by_process"]
    assert sorted(rows) == [str(i) for i in range(processes)]
    assert all(row["scheduled"] > 0 for row in rows.values())
    assert sum(row["scheduled"] for row in rows.values()) == load["scheduled"]
    assert load["scheduled"] == scheduled(["workload.duration=4m", *SETTINGS])
    assert load["sent"] + load["dropped"] == load["scheduled"] == subs["offered"]
    assert sum(row.get("accepted", 0) for row in rows.values()) == load["registrations"]["accepted"]
    assert load["registrations"]["accepted"] == load["accepted_ids"] == subs["accepted"]
    assert load["lost"] == 0
    assert load["achieved_rate_per_s"] == pytest.approx(load["target_rate_per_s"], rel=0.05)


def said_master_port(err: Path, master: subprocess.Popen[bytes], timeout_s: float = 90.0) -> int:
    """The port the master bound (it asked the system for one), from the line stampede load prints for the
    workers (bounded wait; the console may wrap it, so whitespace is folded first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = " ".join(err.read_text(errors="replace").split())
        found = re.search(r"--master-port (\d+)", text)
        if found:
            return int(found.group(1))
        assert master.poll() is None, f"stampede load exited {master.returncode}: {text[-3000:]}"
        assert time.monotonic() < deadline, f"the master did not say its port within {timeout_s} s: {text[-3000:]}"
        time.sleep(0.05)  # polling a file for one line, bounded by the deadline


def test_a_master_and_two_workers_on_loopback_add_up(tmp_path: Path) -> None:
    err = tmp_path / "load.err"
    with err.open("wb") as err_file:  # the child keeps its own descriptor
        master = subprocess.Popen(
            [sys.executable, "-m", "stampede", "load", str(SMOKE), *SHORT, "--out", str(tmp_path / "run"),
             "--no-report", "--expect-workers", "2"],  # no --master-port: the master binds port 0
            stdout=subprocess.DEVNULL, stderr=err_file, cwd=ROOT, start_new_session=True)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        port = said_master_port(err, master)  # it listens: the workers connect at once
        for _ in range(2):
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1",
                 "--master-port", str(port), "--loglevel", "WARNING"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, start_new_session=True))
        master.wait(timeout=150)
        assert master.returncode == 0, err.read_text(errors="replace")[-3000:]
    finally:
        for process in [master, *workers]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    check_aggregated(summary, processes=2)


def test_locust_processes_on_one_machine_add_up(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stampede", "load", str(SMOKE), *SHORT, "--out", str(tmp_path / "run"), "--no-report",
         "--processes", "2"],
        capture_output=True, text=True, timeout=150, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    check_aggregated(summary, processes=2)
