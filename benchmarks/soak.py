"""Soak: the event API mock under steady registration load for a bounded time — throughput over time, and the
server's memory (RSS) at the start and the end, which should stay flat.

`stampede serve` runs on CPU 0 with a Dataverse budget it cannot exhaust (so the HTTP face and the store set the
pace, not the simulated throttling), the load generator (httpx, asyncio) on CPU 1. First a short closed-loop
calibration finds the registrations per second the mock sustains on this machine; the soak then offers a
fixed fraction of that as an open workload (constant arrivals, in-flight requests bounded). Every interval
prints the offered and accepted rate, latency percentiles, what the processors created, the pending backlog
and the server's RSS. Each registration is a new person, so the store grows as a real one would.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--every 10] [--fraction 0.8] [--concurrency 32]
                                        [--run-record]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
ORG = "00000000-0000-4000-8000-000000000001"
TOKEN = "soak-token"
EVENTS = ("launch-001", "launch-002", "launch-003")
# A Dataverse budget the load cannot exhaust; a 10 s window so the limiters' sliding logs (bounded by the
# window, not a leak) reach their steady size in the first interval rather than after five minutes.
SETTINGS = ("catalog.capacity=0", "dataverse.requests_limit=100000000", "dataverse.execution_limit=1000h",
            "dataverse.window=10s", "dataverse.concurrency_limit=100000", "dataverse.worker_slots=100000",
            "api.processors=256")


def rss_mb(pid: int) -> float:
    """Resident set size of a process, from /proc (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def pinned(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else []


@dataclass
class Window:
    """What the load generator saw in one interval."""

    started: float
    sent: int = 0
    statuses: Counter[int | str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    late: int = 0  # arrivals not sent on time because the in-flight bound was reached


class Load:
    def __init__(self, client: httpx.AsyncClient, base: str, concurrency: int) -> None:
        self.client = client
        self.base = base
        self.slots = asyncio.Semaphore(concurrency)
        self.sequence = 0
        self.window = Window(time.monotonic())

    async def register(self) -> None:
        self.sequence += 1
        n = self.sequence
        event = EVENTS[n % len(EVENTS)]
        body = {"attendees": [{"firstName": "Soak", "lastName": f"Tester {n}", "email": f"soak{n}@example.com",
                               "responses": [{"id": "jobtitle", "value": "Analyst"}]}]}
        window = self.window
        window.sent += 1
        started = time.perf_counter()
        try:
            answer = await self.client.post(f"{self.base}events/{event}/registrations?emApplicationtoken={TOKEN}",
                                            json=body)
            window.statuses[answer.status_code] += 1
        except httpx.HTTPError as exc:
            window.statuses[type(exc).__name__] += 1
        window.latencies_ms.append((time.perf_counter() - started) * 1000)

    async def closed(self, seconds: float, workers: int) -> float:
        """Closed loop for ``seconds``: registrations answered 202 per second."""
        deadline = time.monotonic() + seconds
        self.window = Window(time.monotonic())

        async def worker() -> None:
            while time.monotonic() < deadline:
                await self.register()

        await asyncio.gather(*(worker() for _ in range(workers)))
        return self.window.statuses[202] / (time.monotonic() - self.window.started)

    async def open(self, rate_per_s: float, seconds: float, every_s: float, report: Any) -> None:
        """Constant arrivals at ``rate_per_s`` for ``seconds``; ``report(window)`` every ``every_s``."""
        start = time.monotonic()
        interval = 1.0 / rate_per_s
        next_report = start + every_s
        pending: set[asyncio.Task[None]] = set()
        self.window = Window(start)
        k = 0
        while (now := time.monotonic()) < start + seconds:
            due = start + k * interval
            if due > now:
                await asyncio.sleep(min(due - now, max(next_report - now, 0)))
            elif self.slots.locked():
                self.window.late += 1  # the server is behind; keep the bound, count the arrival as late
                k += 1
            else:
                await self.slots.acquire()
                task = asyncio.ensure_future(self.register())
                task.add_done_callback(lambda _t: self.slots.release())
                pending.add(task)
                task.add_done_callback(pending.discard)
                k += 1
            if time.monotonic() >= next_report:
                window, self.window = self.window, Window(time.monotonic())
                await report(window)
                next_report += every_s
        if pending:
            await asyncio.wait(pending, timeout=30)
        if self.window.sent:
            await report(self.window)


async def soak(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="stampede-soak-"))
    overrides = [part for setting in SETTINGS for part in ("--set", setting)]
    if args.run_record:  # the server then keeps a row per submission for the run directory it writes at exit
        overrides += ["--out", str(work / "run")]
    with open(work / "serve.out", "w") as out, open(work / "serve.err", "w") as err:
        server = subprocess.Popen([*pinned(0), str(BIN / "stampede"), "serve", "--port", "0", "--db",
                                   str(work / "soak.db"), "--token", TOKEN, *overrides], stdout=out, stderr=err)
    if pinned(1):
        os.sched_setaffinity(0, {1})
    try:
        deadline = time.monotonic() + 30
        url = ""
        while not url and time.monotonic() < deadline:
            url = next((line.split()[1] for line in (work / "serve.out").read_text().splitlines()
                        if line.startswith("READY ")), "")
            if server.poll() is not None:
                raise SystemExit(f"stampede serve exited: {(work / 'serve.err').read_text()}")
            time.sleep(0.05)
        if not url:
            raise SystemExit("stampede serve did not become ready in 30 s")
        base = f"{url}/api/v1.0/orgs/{ORG}/eventmanagement/"
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            load = Load(client, base, args.concurrency)
            rss_ready = rss_mb(server.pid)
            created_before = (await client.get(f"{url}/_harness/stats")).json()["created"]
            calibration_started = time.monotonic()
            accepted_per_s = await load.closed(args.calibrate, args.concurrency)
            stats0 = (await client.get(f"{url}/_harness/stats")).json()
            created_per_s = (stats0["created"] - created_before) / (time.monotonic() - calibration_started)
            # Sustained means accepted and processed: a rate the processors cannot follow only grows a backlog.
            sustained = min(accepted_per_s, created_per_s)
            rate = max(1.0, sustained * args.fraction)
            rss_start = rss_mb(server.pid)
            print(f"server pid {server.pid}: RSS {rss_ready:.1f} MB when ready, {rss_start:.1f} MB after "
                  f"{args.calibrate:g} s of calibration")
            print(f"calibration: {accepted_per_s:.0f} registrations/s accepted, {created_per_s:.0f}/s created "
                  f"(closed loop, {args.concurrency} in flight); soaking at {args.fraction:.0%} of the lower = "
                  f"{rate:.0f}/s for {args.minutes:g} min\n")
            print(f"{'t_s':>6} {'offered/s':>10} {'202/s':>8} {'other':>6} {'late':>5} {'p50 ms':>7} {'p99 ms':>7} "
                  f"{'created/s':>10} {'pending':>8} {'RSS MB':>8}")
            rows: list[tuple[float, float, float]] = []
            started = time.monotonic()
            previous = {"created": stats0["created"], "at": time.monotonic()}

            async def report(window: Window) -> None:
                now = time.monotonic()
                span = max(now - window.started, 1e-9)
                stats = (await client.get(f"{url}/_harness/stats")).json()
                created_per_s = (stats["created"] - previous["created"]) / max(now - previous["at"], 1e-9)
                previous.update(created=stats["created"], at=now)
                latencies = sorted(window.latencies_ms) or [float("nan")]
                p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
                other = sum(n for status, n in window.statuses.items() if status != 202)
                rss = rss_mb(server.pid)
                accepted_per_s = window.statuses[202] / span
                rows.append((now - started, accepted_per_s, rss))
                print(f"{now - started:>6.0f} {window.sent / span:>10.0f} {accepted_per_s:>8.0f} {other:>6} "
                      f"{window.late:>5} {statistics.median(latencies):>7.1f} {p99:>7.1f} {created_per_s:>10.0f} "
                      f"{stats['pending']:>8} {rss:>8.1f}", flush=True)

            await load.open(rate, args.minutes * 60, args.every, report)
            drained = time.monotonic()
            while time.monotonic() - drained < 60:
                stats = (await client.get(f"{url}/_harness/stats")).json()
                if stats["pending"] == 0:
                    break
                await asyncio.sleep(0.5)
            rss_end = rss_mb(server.pid)
        full = [r for r in rows if r[0] >= args.every * 0.9]
        first, last = (full[0], full[-2]) if len(full) > 2 else (rows[0], rows[-1])
        submissions = stats["accepted"] - stats0["accepted"]
        print(f"\nsoaked {args.minutes:g} min: {submissions} registrations accepted, {stats['created']} created in "
              f"all, {stats['dead_lettered']} dead-lettered, {stats['pending']} pending "
              f"{time.monotonic() - drained:.1f} s after the load stopped")
        print(f"throughput: {first[1]:.0f}/s in the first interval, {last[1]:.0f}/s in the last full one "
              f"({last[1] / first[1]:.2f}×)")
        print(f"RSS: {rss_start:.1f} MB at the start, {rss_end:.1f} MB at the end (+{rss_end - rss_start:.1f} MB, "
              f"{(rss_end - rss_start) * 1024 * 1024 / max(submissions, 1):.0f} bytes per registration)")
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
                server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (bounded)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds per reported interval")
    parser.add_argument("--fraction", type=float, default=0.8, help="share of the calibrated rate to offer")
    parser.add_argument("--calibrate", type=float, default=10.0, help="seconds of closed-loop calibration")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most")
    parser.add_argument("--run-record", action="store_true",
                        help="serve with --out (a row per submission kept for the run directory) to compare")
    args = parser.parse_args()
    if not 0 < args.minutes <= 24 * 60 or not 0 < args.fraction <= 1.5:
        raise SystemExit("--minutes must be in (0, 1440] and --fraction in (0, 1.5]")
    asyncio.run(soak(args))


if __name__ == "__main__":
    main()
