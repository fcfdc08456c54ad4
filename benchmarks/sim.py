"""Speed of the virtual-time model: a million submissions, against bare SimPy measured in the same run.

Prints simulated submissions per wall-second, model SimPy events per wall-second, and the ratio of the latter
to a bare SimPy timeout loop (the floor: SimPy doing nothing but scheduling). Absolute times drift on shared
machines; the ratio is the figure to compare across runs.

    .venv/bin/python benchmarks/sim.py [--submissions 1000000] [--repeat-floor 3]
"""

from __future__ import annotations

import argparse
import time

import simpy

from simulator.engine.virtual import run_virtual
from simulator.scenario import parse_scenario


def bare_simpy_events_per_s(events: int = 1_000_000, processes: int = 4) -> float:
    """SimPy's floor: ``events`` timeouts of 1 from ``processes`` processes, events per wall-second."""
    env = simpy.Environment()

    def ticker(count: int):  # type: ignore[no-untyped-def]
        for _ in range(count):
            yield env.timeout(1)

    for _ in range(processes):
        env.process(ticker(events // processes))
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


def million_scenario(submissions: int):  # type: ignore[no-untyped-def]
    """Constant 50/s until ``submissions`` have arrived, on 12 keys (ceiling ≈ 68/s), so it drains in time."""
    rate_per_s = 50
    return parse_scenario({
        "name": "bench-million",
        "horizon": "12h",
        "bin": "60s",
        "catalog": {"events": 20, "capacity": 0, "session_capacity": 0},
        "workload": {"shape": "constant", "rate": rate_per_s, "duration": f"{submissions / rate_per_s * 1.1:.0f}s",
                     "total": submissions, "browse_per_submission": 4},
        "api": {"instances": 4, "processors": 64},
        "dataverse": {"app_users": 6, "web_servers": 2, "affinity": False},
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--repeat-floor", type=int, default=3)
    args = parser.parse_args()

    floors = [bare_simpy_events_per_s() for _ in range(args.repeat_floor)]
    floor = max(floors)
    run = run_virtual(million_scenario(args.submissions))
    floor_after = bare_simpy_events_per_s()
    floor = max(floor, floor_after)
    subs = run.summary["submissions"]
    events_per_s = run.events / run.wall_s
    print(f"submissions offered      {subs['offered']:>12,}  "
          f"(created {subs['created']:,}, pending {subs['pending']:,})")
    print(f"simulated                {run.simulated_s / 3600:>12.2f} h")
    print(f"wall                     {run.wall_s:>12.1f} s   (target < 60 s)")
    print(f"submissions / wall-s     {subs['offered'] / run.wall_s:>12,.0f}")
    print(f"model SimPy events       {run.events:>12,}  ({run.events / max(subs['offered'], 1):.1f} per submission)")
    print(f"model events / wall-s    {events_per_s:>12,.0f}")
    print(f"bare SimPy timeouts / s  {floor:>12,.0f}  (best of {args.repeat_floor + 1}, same run)")
    print(f"ratio model / bare       {events_per_s / floor:>12.2f}   (target >= 0.35)")


if __name__ == "__main__":
    main()
