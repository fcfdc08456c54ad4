"""Replications in parallel: N replications of email-blast (summary only), in one process and then in P.

Prints the wall time of each, replications per wall-second, and the ratio of the parallel run's rate to the
single-process rate measured in the same run (the floor). The two runs must give identical results (the
replications' summaries, wall time aside): the benchmark refuses to print a ratio otherwise. Target on a
2-core machine: ≥ 1.8× with 2 processes.

    .venv/bin/python benchmarks/replications.py [--replications 200] [--processes 2]
        [--scenario scenarios/email-blast.toml] [--set key=value ...]

``--simulate scenarios/email-blast-uncertain.toml`` instead times ``stampede simulate`` of that scenario as a user
runs it (a subprocess: start-up, its replications, the run directory, the report) and prints its wall ÷ one
replication's mean wall, both from the same run: summary.json's ``wall_s`` is the sum of its replications' walls.
Issue 22's target: ≤ 20 replication-walls for email-blast-uncertain's 30 replications (15 is the two-core floor).

A replication hands back its summary and two short series (created per bin, time-to-created quantiles), never
per-submission rows, so the parent's memory stays flat in N; the script prints the bytes each result pickles to.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator.engine.replicate import build_tasks, run_tasks
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _without_wall(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_s"}


def simulate_walls(scenario: str) -> None:
    """``stampede simulate scenario``'s wall in replication-walls (the mean replication's wall, same run)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "stampede", "simulate", scenario, "--out", str(out), "--quiet"],
                       cwd=ROOT, check=True, capture_output=True)
        wall_s = time.perf_counter() - started
        summary = json.loads((out / "summary.json").read_text())
    n = summary["replications"]["n"]
    replication_s = summary["wall_s"] / n  # the sum of the replications' walls, each timed in its worker
    print(f"stampede simulate {Path(scenario).name}: {n} replications, {wall_s:.1f} s wall; one replication "
          f"{replication_s:.1f} s (mean, same run); ratio {wall_s / replication_s:.1f} replication-walls "
          "(target <= 20; 15 = n / 2 workers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "email-blast.toml"))
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--simulate", metavar="SCENARIO", help="time `stampede simulate SCENARIO` instead")
    args = parser.parse_args()
    if args.simulate:
        simulate_walls(args.simulate)
        return

    scenario = load_scenario(args.scenario, args.overrides)
    tasks = build_tasks([scenario], [args.overrides], [], args.replications, seed=scenario.seed, sampling="lhs",
                        source=args.scenario, keep_files_of=None)
    print(f"{args.replications} replications of {scenario.name} (summary only)")

    started = time.perf_counter()
    single = run_tasks(tasks, workers=1)
    single_s = time.perf_counter() - started
    single_rate = args.replications / single_s
    print(f"  1 process:   {single_s:8.1f} s wall   {single_rate:6.2f} replications/s   (the floor)")

    started = time.perf_counter()
    parallel = run_tasks(tasks, workers=args.processes)
    parallel_s = time.perf_counter() - started
    parallel_rate = args.replications / parallel_s
    same = [_without_wall(a.summary) for a in single] == [_without_wall(b.summary) for b in parallel]
    if not same:
        raise SystemExit("the parallel replications differ from the single-process ones: no ratio to report")
    print(f"  {args.processes} processes: {parallel_s:8.1f} s wall   {parallel_rate:6.2f} replications/s")
    print(f"  ratio {parallel_rate / single_rate:.2f}x with {args.processes} processes (target >= 1.8x with 2); "
          f"results identical: {same}")
    print(f"  one result pickles to {len(pickle.dumps(parallel[0])):,} bytes; the task to "
          f"{len(pickle.dumps(tasks[0])):,} bytes")


if __name__ == "__main__":
    main()
