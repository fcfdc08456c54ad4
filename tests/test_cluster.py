"""--cluster: runs as Dask tasks give the very output of the local pool; lost workers lose nothing; errors
are one line. The scheduler and workers bind 127.0.0.1 on port 0 and are stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stampede.cli import _register_commands, app


def distributed() -> Any:
    """The Dask extra, imported by the tests that run a cluster (skipped without it); the inner loop's tests here
    (errors, Ctrl-C against a stand-in client) neither need it nor pay its import (~0.8 s per xdist worker)."""
    return pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
DASK = str(Path(sys.executable).with_name("dask"))
STAMPEDE = str(Path(sys.executable).with_name("stampede"))
SMALL = """
name = "small"
seed = 11
horizon = "1h"
bin = "10s"
[catalog]
events = 2
capacity = 0
session_capacity = 0
[workload]
shape = "spike"
rate = 12
half_life = "1m"
duration = "4m"
[dataverse]
requests_limit = 400
window = "1m"
"""
runner = CliRunner()
if not app.registered_commands:  # the console script registers them in main()
    _register_commands()


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def wait_for(condition: Any, timeout_s: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy (bounded): processes start and tasks move on their own clocks."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def summaries(out: Path) -> dict[str, str]:
    """Every summary.json under ``out``, wall_s aside, by its variant directory."""
    found = {}
    for path in sorted(out.glob("*/summary.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        summary.pop("wall_s")
        found[path.parent.name] = json.dumps(summary, sort_keys=True)
    return found


def compare_args(scenario: Path, out: Path, *extra: str) -> list[str]:
    return ["compare", str(scenario), "--vary", "api.processors=2,8", "--replications", "3", "--out", str(out),
            "--no-report", *extra]


@pytest.fixture
def local_cluster() -> Iterator[Any]:
    with distributed().LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, scheduler_port=0) as cluster:
        yield cluster


@pytest.mark.slow
def test_a_local_cluster_gives_the_summaries_of_the_local_pool(small: Path, tmp_path: Path,
                                                               local_cluster: Any) -> None:
    address = local_cluster.scheduler_address
    local = runner.invoke(app, compare_args(small, tmp_path / "local", "--workers", "1"))
    remote = runner.invoke(app, compare_args(small, tmp_path / "remote", "--cluster", address))
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert len(summaries(tmp_path / "local")) == 2
    assert summaries(tmp_path / "remote") == summaries(tmp_path / "local")
    for name in ("comparison.csv",):
        assert (tmp_path / "remote" / name).read_text() == (tmp_path / "local" / name).read_text()

    plan = ["plan", str(small), "--slo", "time_to_created_s.p95<=60", "--search", "api.processors=1..8",
            "--replications", "4", "--json"]
    local_plan = runner.invoke(app, [*plan, "--workers", "1"])
    remote_plan = runner.invoke(app, [*plan, "--cluster", address])
    assert local_plan.exit_code == remote_plan.exit_code
    assert json.loads(remote_plan.stdout) == json.loads(local_plan.stdout)


class DaskProcesses:
    """A real `dask scheduler` and `dask worker` subprocesses on loopback, each stopped by its PID."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        scheduler_file = tmp_path / "scheduler.json"
        self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)])
        wait_for(scheduler_file.exists, 60, "the scheduler file")
        self.address = wait_for(lambda: json.loads(scheduler_file.read_text() or "{}").get("address"), 10,
                                "the scheduler's address")
        self.client = distributed().Client(self.address, timeout=30, set_as_default=False)

    def _start(self, name: str, args: list[str]) -> None:
        log = (self.tmp_path / f"{name}.log").open("wb")
        self.processes[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def start_worker(self, name: str) -> None:
        # --no-nanny: the worker is the process started here, so killing its PID loses the worker
        self._start(name, [DASK, "worker", self.address, "--name", name, "--nthreads", "1", "--no-nanny",
                           "--no-dashboard", "--host", "127.0.0.1"])

    def workers_by_name(self) -> dict[str, str]:
        return {info["name"]: address for address, info in self.client.scheduler_info()["workers"].items()}

    def stop(self) -> None:
        self.client.close()
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[DaskProcesses]:
    processes = DaskProcesses(tmp_path)
    try:
        for name in ("w1", "w2"):
            processes.start_worker(name)
        wait_for(lambda: len(processes.workers_by_name()) == 2, 90, "two workers")
        yield processes
    finally:
        processes.stop()


def run_stampede(args: list[str], timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STAMPEDE, *args], capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)


@pytest.mark.slow
def test_compare_on_a_real_scheduler_and_two_workers(small: Path, tmp_path: Path,
                                                     dask_processes: DaskProcesses) -> None:
    done = run_stampede(compare_args(small, tmp_path / "remote", "--cluster", dask_processes.address))
    assert done.returncode == 0, done.stderr
    local = runner.invoke(app, compare_args(small, tmp_path / "local", "--workers", "1"))
    assert local.exit_code == 0, local.output
    assert summaries(tmp_path / "remote") == summaries(tmp_path / "local")


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_no_run(small: Path, tmp_path: Path, dask_processes: DaskProcesses) -> None:
    rates = ",".join(str(r) for r in range(8, 16))  # 8 variants × 2 replications = 16 runs
    args = ["compare", str(small), "--vary", f"workload.rate={rates}", "--replications", "2", "--no-report",
            "--cluster", dask_processes.address]
    sweep = subprocess.Popen([STAMPEDE, *args, "--out", str(tmp_path / "remote")], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        victim = dask_processes.workers_by_name()["w1"]
        # Mid-sweep: the victim holds a run, and work is still queued.
        wait_for(lambda: dask_processes.client.processing().get(victim), 120, "a run on worker w1")
        os.kill(dask_processes.processes["w1"].pid, signal.SIGKILL)
        stdout, stderr = sweep.communicate(timeout=600)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
    assert sweep.returncode == 0, stderr
    assert dask_processes.processes["w1"].poll() is not None  # it really died
    remote = summaries(tmp_path / "remote")
    assert len(remote) == 8
    for text in remote.values():
        assert json.loads(text)["replications"]["n"] == 2  # each run counted once: none missing, none twice
    rows = (tmp_path / "remote" / "comparison.csv").read_text().splitlines()[1:]
    assert len(rows) == len(set(rows))
    local = runner.invoke(app, [*args[:-2], "--workers", "1", "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    assert remote == summaries(tmp_path / "local")


@pytest.mark.slow
def test_an_unreachable_scheduler_fails_in_one_line_naming_it(small: Path, tmp_path: Path) -> None:
    from simulator.engine.cluster import CONNECT_TIMEOUT_S

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # held bound, never listening: connections are refused, nobody can take it
        address = f"tcp://127.0.0.1:{closed.getsockname()[1]}"
        done = run_stampede(compare_args(small, tmp_path / "out", "--cluster", address),
                            timeout_s=CONNECT_TIMEOUT_S + 60)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and address in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_address_is_one_line(small: Path, tmp_path: Path) -> None:
    done = runner.invoke(app, compare_args(small, tmp_path / "out", "--cluster", "10.0.0.5:8786"))
    assert done.exit_code != 0
    assert "tcp://" in done.output and "Traceback" not in done.output
    assert not (tmp_path / "out").exists()


def test_without_the_extra_cluster_says_how_to_install_it(small: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    done = runner.invoke(app, compare_args(small, tmp_path / "out", "--cluster", "tcp://127.0.0.1:8786"))
    assert done.exit_code != 0
    assert "pip install 'stampede[cluster]'" in done.output
    assert len(done.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


class FakeFuture:
    def __init__(self, done: bool) -> None:
        self._done = done

    def done(self) -> bool:
        return self._done


class FakeClient:
    """Stands in for a distributed.Client: records what was cancelled and whether it was closed."""

    def __init__(self) -> None:
        self.cancelled: list[FakeFuture] = []
        self.closed = False
        self.submitted = 0

    def submit(self, fn: Any, *args: Any, pure: bool = True) -> FakeFuture:
        self.submitted += 1
        return FakeFuture(done=self.submitted == 1)  # the first has finished, the others have not

    def cancel(self, futures: list[FakeFuture]) -> None:
        self.cancelled.extend(futures)

    def close(self) -> None:
        self.closed = True


def test_ctrl_c_cancels_every_unfinished_task_and_closes_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from simulator.engine import cluster

    client = FakeClient()
    monkeypatch.setattr(cluster, "connect", lambda address: client)
    with pytest.raises(KeyboardInterrupt), cluster.executor_for("tcp://127.0.0.1:8786") as (executor, _):
        assert executor is not None
        futures = [executor.submit(print, i) for i in range(3)]
        raise KeyboardInterrupt
    assert client.cancelled == futures[1:] and client.closed
