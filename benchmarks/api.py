"""Speed of the event API mock against its floor, measured in the same run with the same load generator.

The floor is bare Starlette on uvicorn serving the mock's own bytes on the mock's routes (benchmarks/
bare_app.py); the mock is `stampede serve` with the live model and SQLite. Both run pinned to CPU 0, wrk to
CPU 1 (when taskset exists). Prints requests/s and p99 for the event page, the sessions list and the
registration POST, with each ratio to the floor (target ≥ 0.5; the POST's p99 at most 5× the floor's), and the
server's CPU milliseconds per request (all threads, from /proc): that figure hardly depends on what else the
machine runs, so on a shared machine its ratio is the steadier measure of the mock's cost.

    .venv/bin/python benchmarks/api.py [--duration 10] [--connections 32] [--rounds 1]
(needs wrk: apt-get install wrk)

With ``--rounds N`` the mock and the floor are measured alternately N times per endpoint and the medians are
printed (the ratio is the median of the per-round ratios): on a shared, noisy machine one pair of runs can be
far off either way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ORG = "00000000-0000-4000-8000-000000000001"
TOKEN = "bench-token"
EVENT = "launch-001"
BASE = f"/api/v1.0/orgs/{ORG}/eventmanagement/"
BODY = json.dumps({"attendees": [{"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                                  "responses": [{"id": "jobtitle", "value": "Analyst"}]}]})


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


def announced_url(process: subprocess.Popen[bytes], log: Path, pattern: str, timeout_s: float = 60) -> str:
    """The URL a server started on port 0 prints once it listens (``pattern``'s first group), bounded wait:
    the port is the kernel's choice, read back, never probed before the server binds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise SystemExit(f"{process.args[-1]!r} exited {process.returncode} before it listened (see {log})")
        time.sleep(0.05)
    raise SystemExit(f"no server listening after {timeout_s:.0f} s (see {log})")


def wait_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"no answer from {url}")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) the process has used so far; 0 where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, duration_s: int, connections: int, script: Path | None = None,
        pid: int | None = None) -> tuple[float, float, float]:
    """(requests/s, p99 ms, server CPU ms per request) from one wrk run against the server ``pid``."""
    cpu_before = cpu_s(pid) if pid else 0.0
    command = [*pinned(1), "wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", url]
    if script is not None:
        command[len(pinned(1)) + 1:len(pinned(1)) + 1] = ["-s", str(script)]
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 30, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    p99_ms = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        print(f"  note: {non_2xx.group(1)} non-2xx answers from {url}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    cpu_ms = (cpu_s(pid) - cpu_before) * 1000 / max(1, requests) if pid else 0.0
    return rps, p99_ms, cpu_ms


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1, help="alternate mock and floor this many times")
    parser.add_argument("--only", default="", help="measure only the endpoints whose name contains this, e.g. POST")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="stampede-bench-"))
    post_lua = work / "post.lua"
    post_lua.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                        f"wrk.body = {json.dumps(BODY)}\n")

    with open(work / "serve.out", "wb") as out:
        mock = subprocess.Popen([*pinned(0), str(BIN / "stampede"), "serve", "--host", "127.0.0.1", "--port", "0",
                                 "--db", str(work / "bench.db"), "--token", TOKEN, "--set", "catalog.capacity=0"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        mock_url = announced_url(mock, work / "serve.out", r"(?m)^READY (\S+)")
        query = f"?emApplicationtoken={TOKEN}"
        wait_http(f"{mock_url}{BASE}events/{EVENT}{query}")
        (work / "event.json").write_bytes(urllib.request.urlopen(f"{mock_url}{BASE}events/{EVENT}{query}").read())
        (work / "sessions.json").write_bytes(
            urllib.request.urlopen(f"{mock_url}{BASE}events/{EVENT}/sessions{query}").read())
        targets = {"mock": mock_url}
        pids = {"mock": mock.pid}
        env = {**os.environ, "BARE_BASE": BASE, "BARE_EVENT": EVENT, "BARE_EVENT_PAGE": str(work / "event.json"),
               "BARE_SESSIONS": str(work / "sessions.json"), "PYTHONPATH": str(HERE)}
        with open(work / "bare.err", "wb") as err:  # uvicorn logs where it listens at level info, on stderr
            bare = subprocess.Popen([*pinned(0), str(BIN / "uvicorn"), "bare_app:app", "--host", "127.0.0.1",
                                     "--port", "0", "--log-level", "info", "--no-access-log"], env=env, cwd=HERE,
                                    stdout=subprocess.DEVNULL, stderr=err)
        try:
            targets["floor"] = announced_url(bare, work / "bare.err", r"Uvicorn running on (http://\S+)")
            pids["floor"] = bare.pid
            wait_http(f"{targets['floor']}{BASE}events/{EVENT}{query}")
            endpoints = {"event page": (f"{BASE}events/{EVENT}{query}", None),
                         "sessions list": (f"{BASE}events/{EVENT}/sessions{query}", None),
                         "registration POST": (f"{BASE}events/{EVENT}/registrations{query}", post_lua)}
            endpoints = {name: value for name, value in endpoints.items() if args.only in name}
            results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            for name, (path, script) in endpoints.items():
                for url in targets.values():
                    wrk(url + path, 2, 8, script)  # warm-up
                for _ in range(max(1, args.rounds)):
                    for target, url in targets.items():
                        results.setdefault((name, target), []).append(
                            wrk(url + path, args.duration, args.connections, script, pids[target]))
        finally:
            stop(bare)
    finally:
        stop(mock)
    print(f"\n{'endpoint':<20}{'mock rps':>10}{'p99 ms':>9}{'floor rps':>11}{'p99 ms':>9}{'ratio':>8}  target"
          f"{'':>10}CPU ms/request mock / floor (ratio: floor/mock)")
    for name in endpoints:
        mock, floor = results[(name, "mock")], results[(name, "floor")]
        ratio = statistics.median(m[0] / f[0] for m, f in zip(mock, floor, strict=True))
        mock_rps, mock_p99, mock_cpu = (statistics.median(m[i] for m in mock) for i in (0, 1, 2))
        floor_rps, floor_p99, floor_cpu = (statistics.median(f[i] for f in floor) for i in (0, 1, 2))
        cpu_ratio = floor_cpu / mock_cpu if mock_cpu else 0.0
        print(f"{name:<20}{mock_rps:>10.0f}{mock_p99:>9.1f}{floor_rps:>11.0f}{floor_p99:>9.1f}"
              f"{ratio:>8.2f}  >= 0.5   {mock_cpu:.3f} / {floor_cpu:.3f} ({cpu_ratio:.2f})"
              + (f"  p99 {mock_p99 / floor_p99:.1f}x the floor's (target <= 5x)" if "POST" in name else ""))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
