"""The runner behind ``stampede load``: serve the scenario, drive it with Locust, settle, compare with a simulation.

    1. ``stampede serve SCENARIO --port 0 --out RUN_DIR`` in a subprocess; wait (bounded) for its READY line
    2. Locust headless on ``loadtests/locustfile.py`` (one process; or a master on port 0 that says the port it
       bound, read back here, then ``--processes N`` workers started here or N workers started elsewhere); its
       CSV and HTML go into RUN_DIR; bounded by the arrival window + margins
    3. poll ``/_harness/stats`` (bounded) until every accepted submission is created or dead-lettered
    4. SIGTERM the server (by PID, bounded wait, then SIGKILL): it writes the live run directory
    5. simulate the same scenario over the same window; add the ``load`` and ``simulated`` blocks

Children run in their own sessions and are stopped by their PIDs (their process groups, for Locust's forked
workers) whatever happens, Ctrl-C included. Nothing here imports Locust: it runs as a separate program (importing
it would monkey-patch this process with gevent: threads, subprocesses, signals and sockets all change).

Errors::

    LoadError       base: the server or Locust could not be started, or a step failed (names the log to read)
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from loadtests import LOCUSTFILE, MASTER_PORT_LINE, outcome
from loadtests.traffic import Schedule
from simulator.engine.virtual import run_virtual
from simulator.errors import StampedeError
from simulator.scenario import Scenario, scenario_to_toml

__all__ = ["LoadError", "LoadSettings", "LoadRun", "run_load", "is_loopback"]

_READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0
_LOCUST_MARGIN_S = 60.0  # beyond the arrival window and the drain, for start-up and shut-down
_POLL_S = 0.25
_PROGRESS_S = 1.0  # how often progress is read from the server while Locust runs


class LoadError(StampedeError, RuntimeError):
    """A step of the load run failed; the message says which and where its log is."""


@dataclass
class LoadSettings:
    scenario: Scenario
    run_dir: Path
    time_scale: float
    processes: int = 1  # Locust processes on this machine (> 1: a master and N forked workers)
    expect_workers: int = 0  # > 0: run only a Locust master and wait for this many workers started elsewhere
    bind_host: str = "127.0.0.1"  # where the server and the Locust master listen
    advertise_host: str | None = None  # how workers elsewhere reach this machine (default: its host name)
    master_port: int = 0  # Locust master port (0: one the system chooses, read back; 5557 is Locust's default)
    settle_timeout_s: float = 120.0
    late_after_s: float = 0.1
    drop_after_s: float = 5.0
    drain_s: float = 15.0
    workers_timeout_s: float = 120.0  # how long a master waits for its workers to connect

    @property
    def window_s(self) -> float:
        return self.scenario.workload.duration / self.time_scale


@dataclass
class LoadRun:
    run_dir: Path
    summary: dict[str, Any]  # the live summary.json with "load" and "simulated" added
    server_url: str
    wall_s: float


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class LoadProgress:
    """How far the traffic has got: registrations the mock has answered of those the schedule plans, and how
    many it has created so far (read from ``/_harness/stats`` while Locust runs and while the run settles)."""

    planned: int
    received: int
    created: int


def run_load(settings: LoadSettings, say: Callable[[str], None] = lambda _: None,
             on_progress: Callable[[LoadProgress], None] | None = None) -> LoadRun:
    """Run the whole load test; the run directory holds the server's files, Locust's CSV/HTML and logs. The
    returned summary is the live summary.json completed with ``load`` and ``simulated`` (the caller writes it).
    ``on_progress`` is called about once a second while the traffic runs and the run settles."""
    started = time.perf_counter()
    run_dir = settings.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(18)  # may start with "-": always passed as --option=value
    admin_token = None if is_loopback(settings.bind_host) else secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="stampede-load-") as scratch:
        scenario_file = Path(scratch) / "scenario.toml"
        scenario_file.write_text(scenario_to_toml(settings.scenario), encoding="utf-8")
        tally_file = Path(scratch) / "tally.json"
        with _server(settings, scenario_file, Path(scratch) / "live.db", token, admin_token) as server:
            say(f"event API mock at {server.url} (time scale {settings.time_scale:g}; log: {run_dir / 'serve.log'})")
            report = _progress_reporter(settings, server.url, admin_token, on_progress)
            locust_exit_code = _run_locust(settings, server.url_for_workers, scenario_file, token, tally_file, say,
                                           report)
            say("settling: waiting for every accepted submission to be created or dead-lettered")
            settled, settle_s = _settle(server.url, admin_token, settings.settle_timeout_s, report)
            say(f"{'settled' if settled else 'not settled'} after {settle_s:.1f} s; stopping the server")
            server.stop()
        if not tally_file.is_file():
            raise LoadError(f"Locust wrote no totals (exit code {locust_exit_code}); see {run_dir / 'locust.log'}")
        totals = json.loads(tally_file.read_text(encoding="utf-8"))
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise LoadError(f"the server wrote no live run directory; see {run_dir / 'serve.log'}")
    live = json.loads(summary_path.read_text(encoding="utf-8"))
    outcomes = _outcomes(run_dir / "submissions.csv")
    say("simulating the same scenario over the same window")
    horizon_s = min(settings.scenario.horizon, float(live["simulated_s"]))
    simulated = run_virtual(settings.scenario.model_copy(update={"horizon": horizon_s})).summary
    load = outcome.load_block(totals, outcomes, settled=settled, settle_wall_s=settle_s,
                              locust_exit_code=locust_exit_code)
    load["vs_simulated"] = outcome.versus(live, simulated)
    live["load"] = load
    live["simulated"] = outcome.simulated_block(simulated, horizon_s)
    return LoadRun(run_dir, live, server.url, time.perf_counter() - started)


# --- the server -------------------------------------------------------------------------------------------------


class _Server:
    def __init__(self, process: subprocess.Popen[str], url: str, url_for_workers: str) -> None:
        self.process = process
        self.url = url
        self.url_for_workers = url_for_workers

    def stop(self) -> None:
        """SIGTERM (graceful: the server writes the run directory), a bounded wait, then SIGKILL."""
        _stop(self.process, signal.SIGTERM, _STOP_TIMEOUT_S)


@contextlib.contextmanager
def _server(settings: LoadSettings, scenario_file: Path, db: Path, token: str, admin_token: str | None
            ) -> Iterator[_Server]:
    command = [sys.executable, "-m", "stampede", "serve", str(scenario_file), "--host", settings.bind_host,
               "--port", "0", "--db", str(db), f"--token={token}", "--time-scale", repr(settings.time_scale),
               "--out", str(settings.run_dir),
               # Locust's users do not pay: the live model simulates the buyers of paid events as a simulated
               # run does (payment.delay, payment.abandoned), so live and simulated stay comparable
               "--set", "payment.live_buyers=true"]
    if admin_token:
        command += [f"--admin-token={admin_token}"]
    log = (settings.run_dir / "serve.log").open("w", encoding="utf-8")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    try:
        url = _wait_ready(process, settings.run_dir / "serve.log")
        port = url.rsplit(":", 1)[1]
        local = f"http://127.0.0.1:{port}" if not is_loopback(settings.bind_host) else url
        advertised = settings.advertise_host or (settings.bind_host if settings.bind_host not in ("0.0.0.0", "::")
                                                 else socket.gethostname())
        yield _Server(process, local, url if is_loopback(settings.bind_host) else f"http://{advertised}:{port}")
    finally:
        _stop(process, signal.SIGTERM, _STOP_TIMEOUT_S)
        log.close()


def _wait_ready(process: subprocess.Popen[str], log: Path) -> str:
    """The URL of the server's ``READY http://host:port`` line (bounded wait); stdout keeps being drained."""
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None

    def pump(stream: IO[str]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, args=(process.stdout,), name="stampede-serve-stdout", daemon=True).start()
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        if line.startswith("READY "):
            return line.split(None, 1)[1].strip()
    raise LoadError(f"stampede serve did not become ready within {_READY_TIMEOUT_S:.0f} s (exit code "
                    f"{process.poll()}); see {log}")


# --- Locust -----------------------------------------------------------------------------------------------------


def _locust_command(settings: LoadSettings, host_url: str, scenario_file: Path, token: str, tally_file: Path
                    ) -> list[str]:
    run_dir = settings.run_dir
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host_url,
               "--csv", str(run_dir / "locust"), "--html", str(run_dir / "locust.html"), "--only-summary",
               "--loglevel", "INFO", "--stop-timeout", "2",
               "--stampede-scenario", str(scenario_file), "--stampede-time-scale", repr(settings.time_scale),
               f"--stampede-token={token}", "--stampede-tally", str(tally_file),
               "--stampede-late-after", repr(settings.late_after_s),
               "--stampede-drop-after", repr(settings.drop_after_s), "--stampede-drain", repr(settings.drain_s)]
    # a master binds --master-bind-port (0: the system chooses) and says the port it bound (MASTER_PORT_LINE).
    # For --processes the workers are started here once it has: Locust's own --processes forks its workers before
    # the master binds, so they would need a port known in advance, i.e. probed free and then raced for
    workers = settings.expect_workers if settings.expect_workers > 0 else settings.processes
    if workers > 1 or settings.expect_workers > 0:
        command += ["--master", "--expect-workers", str(workers),
                    "--master-bind-host", settings.bind_host if settings.expect_workers > 0 else "127.0.0.1",
                    "--master-bind-port", str(settings.master_port),
                    "--expect-workers-max-wait", str(int(settings.workers_timeout_s))]
    return command


def _worker_command(master_port: int) -> list[str]:
    """A Locust worker on this machine for a master on loopback (the master hands it its plan and options)."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1",
            "--master-port", str(master_port), "--loglevel", "INFO"]


def _bound_master_port(log: Path, process: subprocess.Popen[Any], timeout_s: float) -> int:
    """The port the Locust master bound, read back from its log (bounded wait)."""
    deadline = time.monotonic() + timeout_s
    while True:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(MASTER_PORT_LINE):
                return int(line[len(MASTER_PORT_LINE):].split()[0])
        if process.poll() is not None:
            raise LoadError(f"Locust exited (code {process.returncode}) before its master listened; see {log}")
        if time.monotonic() > deadline:
            raise LoadError(f"the Locust master did not say its port within {timeout_s:.0f} s; see {log}")
        time.sleep(0.05)  # polling the log for one line, bounded by the deadline


def _progress_reporter(settings: LoadSettings, url: str, admin_token: str | None,
                       on_progress: Callable[[LoadProgress], None] | None) -> Callable[[], None] | None:
    """A callable that reads the server's counts and hands them to ``on_progress`` (None without one)."""
    if on_progress is None:
        return None
    planned = sum(1 for _ in Schedule(settings.scenario, settings.time_scale))

    def report() -> None:
        try:
            stats = _stats(url, admin_token)
        except OSError:
            return  # a slow answer under load: the next tick reports
        on_progress(LoadProgress(planned, int(stats["offered"]), int(stats["created"])))

    return report


def _run_locust(settings: LoadSettings, host_url: str, scenario_file: Path, token: str, tally_file: Path,
                say: Callable[[str], None], report: Callable[[], None] | None = None) -> int:
    command = _locust_command(settings, host_url, scenario_file, token, tally_file)
    timeout_s = settings.window_s + settings.drain_s + _LOCUST_MARGIN_S
    master = "--master" in command
    if master:
        timeout_s += settings.workers_timeout_s
    say(f"Locust: {settings.window_s:.1f} s of arrivals"
        + (f" from {settings.processes} processes" if settings.processes > 1 else "")
        + f" (log: {settings.run_dir / 'locust.log'})")
    log_path = settings.run_dir / "locust.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    workers: list[subprocess.Popen[bytes]] = []
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, env=env)
        deadline_s = time.monotonic() + timeout_s
        try:
            if master:
                port = _bound_master_port(log_path, process, _READY_TIMEOUT_S)
                if settings.expect_workers > 0:
                    say(f"Locust master on {settings.bind_host}:{port}, waiting for {settings.expect_workers} "
                        f"worker(s): locust -f {LOCUSTFILE} --worker --master-host <this host> --master-port {port}")
                else:
                    workers = [subprocess.Popen(_worker_command(port), stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
                               for _ in range(settings.processes)]
            while True:
                try:
                    return process.wait(timeout=max(0.0, min(_PROGRESS_S, deadline_s - time.monotonic())))
                except subprocess.TimeoutExpired:
                    if time.monotonic() >= deadline_s:
                        raise LoadError(f"Locust did not finish within {timeout_s:.0f} s; see "
                                        f"{settings.run_dir / 'locust.log'}") from None
                    if report is not None:
                        report()
        finally:
            _stop(process, signal.SIGTERM, 10.0, group=True)
            for worker in workers:  # the master told them to quit as it did; this is bounded and by PID
                _stop(worker, signal.SIGTERM, 10.0, group=True)


# --- settling and stopping --------------------------------------------------------------------------------------


def _stats(url: str, admin_token: str | None) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/_harness/stats")
    if admin_token:
        request.add_header("Authorization", f"Bearer {admin_token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def _settle(url: str, admin_token: str | None, timeout_s: float, report: Callable[[], None] | None = None
            ) -> tuple[bool, float]:
    """Poll the server until nothing accepted is pending (bounded); (settled, wall seconds waited)."""
    started = time.monotonic()
    reported_s = started
    while True:
        if report is not None and time.monotonic() - reported_s >= _PROGRESS_S:
            report()
            reported_s = time.monotonic()
        try:
            stats = _stats(url, admin_token)
        except OSError as exc:
            raise LoadError(f"the server stopped answering {url}/_harness/stats ({exc})") from None
        if stats["pending"] == 0 and stats["created"] + stats["dead_lettered"] >= stats["accepted"]:
            return True, time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            return False, time.monotonic() - started
        time.sleep(_POLL_S)


def _stop(process: subprocess.Popen[Any], sig: signal.Signals, timeout_s: float, group: bool = False) -> None:
    """Stop ``process`` (and with ``group`` its process group: Locust's forked workers) by its PID."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(process.pid, sig)  # the child leads its own session, so its group id is its PID
        else:
            process.send_signal(sig)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        process.wait(timeout=5)


def _outcomes(path: Path) -> dict[str, str]:
    """Submission id → outcome from the live run's submissions.csv."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["id"]: row["outcome"] for row in csv.DictReader(handle)}
