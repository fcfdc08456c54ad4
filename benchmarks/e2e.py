"""End-to-end registrations per second of the live model: distinct people, each accepted and then created in
the SQLite store, against a floor measured in the same run — the store alone writing the same rows in the same
transactions in a bare loop.

The live model (``LiveEventModel``: the engine on its thread, the realtime driver, group commit, the store) runs
in this process at a time scale of 60 with a Dataverse budget it cannot exhaust, so the simulated latencies and
limits do not set the pace; ``--in-flight`` registrations are awaited at once through ``register`` (the HTTP
face is measured by ``benchmarks/api.py`` and ``benchmarks/soak.py``). Every store call of the run is recorded
with the transaction it ran in; the floor replays exactly those calls (``accept_many``, ``mark_created``, …,
grouped by ``Store.batch`` as the run grouped them) into a fresh store, with nothing else running.

    .venv/bin/python benchmarks/e2e.py [--people 4000] [--in-flight 64] [--time-scale 60]

Prints both rates and their ratio (end to end ÷ floor; 1.0 would mean the model costs nothing beyond its writes),
and the CPU microseconds per person of each (the process's, and the model thread's own clock): on a shared,
noisy machine CPU time moves much less than wall time. Pin it to one core for steadier figures
(``taskset -c 1 …``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from simulator.scenario import parse_scenario
from simulator.server.contract import RegistrationRequest
from simulator.server.live import LiveEventModel
from simulator.server.store import Store

UNLIMITED = {"requests_limit": 100_000_000, "execution_limit": "1000h", "window": "10s",
             "concurrency_limit": 100_000, "worker_slots": 100_000}
RECORDED = ("accept_many", "create_many", "record_attempt", "mark_created", "mark_dead_lettered")


class Recording:
    """Every write the live model made, grouped by the transaction (``Store.batch``) it ran in."""

    def __init__(self, store: Store) -> None:
        self.turns: list[list[tuple[str, tuple[Any, ...], dict[str, Any]]]] = []
        self._open: list[tuple[str, tuple[Any, ...], dict[str, Any]]] | None = None
        for name in RECORDED:
            if hasattr(store, name):  # an older store may lack one (create_many): measured as it is
                setattr(store, name, self._wrap(name, getattr(store, name)))
        real_batch = getattr(store, "batch", None)
        if real_batch is None:  # a store without group commit (an older version): every write on its own
            return

        @contextlib.contextmanager
        def batch() -> Iterator[None]:
            outer = self._open is None
            if outer:
                self._open = []
            try:
                with real_batch():
                    yield
            finally:
                if outer:
                    self.turns.append(self._open or [])
                    self._open = None

        store.batch = batch  # type: ignore[method-assign]

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            call = (name, tuple(list(a) if isinstance(a, list) else a for a in args), dict(kwargs))
            if self._open is not None:
                self._open.append(call)
            else:
                self.turns.append([call])  # a write outside a batch: its own transaction
            return method(*args, **kwargs)

        return recorded

    def replay(self, store: Store) -> float:
        """Run the same calls, in the same transactions, on ``store``; the wall seconds it took."""
        started = time.perf_counter()
        for turn in self.turns:
            if len(turn) == 1:
                name, args, kwargs = turn[0]
                getattr(store, name)(*args, **kwargs)
                continue
            with store.batch() if hasattr(store, "batch") else contextlib.nullcontext():
                for name, args, kwargs in turn:
                    getattr(store, name)(*args, **kwargs)
        return time.perf_counter() - started


def people(n: int) -> list[RegistrationRequest]:
    return [RegistrationRequest.model_validate({"attendees": [
        {"firstName": "Bench", "lastName": f"Person {i}", "email": f"bench{i}@e2e.example",
         "responses": [{"id": "jobtitle", "value": "Engineer"}]}]}) for i in range(n)]


async def drive(live: LiveEventModel, requests: list[RegistrationRequest], in_flight: int,
                timeout_s: float) -> tuple[float, float]:
    """(seconds until every registration was accepted, seconds until every one was created)."""
    events = live.catalog.events
    slots = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with slots:
            outcome = await live.register(events[i % len(events)], requests[i])
            assert type(outcome).__name__ == "Accepted", outcome

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(len(requests))))
    accepted_s = time.perf_counter() - started
    deadline = started + timeout_s
    while live.tally.totals.created < len(requests):
        if time.perf_counter() > deadline:
            raise SystemExit(f"only {live.tally.totals.created} of {len(requests)} created in {timeout_s:g} s")
        await asyncio.sleep(0.005)  # polling a counter, bounded by the deadline
    return accepted_s, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--time-scale", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for every creation")
    args = parser.parse_args()
    scenario = parse_scenario({"name": "e2e", "catalog": {"capacity": 0}, "dataverse": UNLIMITED,
                               "api": {"processors": 256}})
    requests = people(args.people)
    with tempfile.TemporaryDirectory(prefix="stampede-e2e-") as tmp:
        with Store(Path(tmp) / "live.db") as store:
            recording = Recording(store)
            live = LiveEventModel(scenario, store, time_scale=args.time_scale, run_record=False)
            live.start()
            thread = live.driver._thread  # the model thread: its own CPU clock says what it spent
            assert thread is not None and thread.ident is not None
            model_clock = time.pthread_getcpuclockid(thread.ident)
            process_cpu_s = time.process_time()
            try:
                accepted_s, created_s = asyncio.run(drive(live, requests, args.in_flight, args.timeout))
                model_cpu_s = time.clock_gettime(model_clock)
                process_cpu_s = time.process_time() - process_cpu_s
            finally:
                live.stop()
            stored = store.counts()
        assert stored["submissions"]["created"] == args.people == stored["contacts"], stored
        with Store(Path(tmp) / "floor.db") as floor_store:
            floor_cpu_s = time.process_time()
            floor_s = recording.replay(floor_store)
            floor_cpu_s = time.process_time() - floor_cpu_s
            assert floor_store.counts()["contacts"] == args.people
    turns = len(recording.turns)
    e2e_per_s, floor_per_s = args.people / created_s, args.people / floor_s
    print(f"{args.people} distinct people, {args.in_flight} in flight, time scale {args.time_scale:g}")
    print(f"  accepted        {args.people / accepted_s:8.0f} /s")
    print(f"  end to end      {e2e_per_s:8.0f} /s   (accepted, then created in the store)")
    print(f"  floor           {floor_per_s:8.0f} /s   (the store alone: the same calls in the same {turns} "
          f"transactions, {args.people / turns:.1f} people a transaction)")
    print(f"  ratio           {e2e_per_s / floor_per_s:8.2f}   end to end / floor")
    per = 1e6 / args.people
    print(f"  CPU per person  {process_cpu_s * per:8.0f} µs end to end (the model thread {model_cpu_s * per:.0f} µs), "
          f"{floor_cpu_s * per:.0f} µs floor: ratio {floor_cpu_s / process_cpu_s:.2f} (steadier on a shared machine)")


if __name__ == "__main__":
    main()
