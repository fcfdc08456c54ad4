"""Many runs beyond one machine: the Dask engine's overhead, summary-only runs, the model's hot path.

Prints, in one run, three ratios, each against a floor measured in the same run:

(a) N email-blast replications on a ``distributed.LocalCluster`` of W single-threaded worker processes,
    against the local process pool of W processes (target >= 0.8: Dask's overhead is small next to a run);
    both must give identical summaries (wall time aside), or no ratio is printed;
(b) a summary-only run of email-blast against a full run (rows kept, the run directory's files rendered),
    best of K each (no target: issue 22 retired the old >= 1.5, rows being about 12 % of a run — see
    ARCHITECTURE.md, "Performance notes");
(c) ``benchmarks/sim.py``'s model run against the minimal SimPy pipeline doing the same work (target >= 0.75).

    .venv/bin/python benchmarks/cluster.py [--replications 200] [--workers 2] [--repeat 3]
        [--submissions 1000000] [--skip a,b,c]

CPU seconds are printed beside wall seconds for (b) and (c): on a shared machine the CPU ratio is steadier.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sim import model_against_minimal  # noqa: E402

from simulator.engine.replicate import build_tasks, run_tasks  # noqa: E402
from simulator.engine.virtual import run_virtual  # noqa: E402
from simulator.records import run_files  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EMAIL_BLAST = ROOT / "scenarios" / "email-blast.toml"


def _without_wall(summary: dict) -> dict:  # type: ignore[type-arg]
    return {k: v for k, v in summary.items() if k != "wall_s"}


def cluster_against_pool(replications: int, workers: int) -> None:
    import distributed

    scenario = load_scenario(EMAIL_BLAST, [])
    tasks = build_tasks([scenario], [[]], [], replications, seed=scenario.seed, sampling="random",
                        source=str(EMAIL_BLAST), keep_files_of=None)
    started = time.perf_counter()
    local = run_tasks(tasks, workers=workers)
    local_s = time.perf_counter() - started
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        from simulator.engine.cluster import DaskSubmitter

        submitter = DaskSubmitter(client)
        started = time.perf_counter()
        remote = run_tasks(tasks, executor=submitter, gather=submitter.gather)
        remote_s = time.perf_counter() - started
    same = [_without_wall(a.summary) for a in local] == [_without_wall(b.summary) for b in remote]
    print(f"(a) {replications} email-blast replications, {workers} workers")
    print(f"    local pool             {local_s:>10.1f} s   ({replications / local_s:.2f} runs/s)")
    print(f"    LocalCluster           {remote_s:>10.1f} s   ({replications / remote_s:.2f} runs/s)")
    if not same:
        print("    summaries DIFFER between the two: no ratio")
        return
    print(f"    ratio cluster / pool   {local_s / remote_s:>10.2f}   (target >= 0.8; summaries identical)")


def summary_only_against_full(repeat: int) -> None:
    scenario = load_scenario(EMAIL_BLAST, [])
    full_wall, full_cpu, light_wall, light_cpu = [], [], [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run = run_virtual(scenario)
        files = run_files(run.recorder, run.summary, "")
        full_wall.append(time.perf_counter() - wall)
        full_cpu.append(time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        light = run_virtual(scenario, summary_only=True)
        light_wall.append(time.perf_counter() - wall)
        light_cpu.append(time.process_time() - cpu)
        assert _without_wall(light.summary) == _without_wall(run.summary), "summary-only differs from full"
    rows = sum(1 for _ in files["submissions.csv"].splitlines()) - 1
    print(f"(b) email-blast, best of {repeat}: full run ({rows:,} rows + run files) against summary-only")
    print(f"    full                   {min(full_wall):>10.2f} s wall  {min(full_cpu):>8.2f} s CPU")
    print(f"    summary-only           {min(light_wall):>10.2f} s wall  {min(light_cpu):>8.2f} s CPU")
    print(f"    ratio full / summary   {min(full_wall) / min(light_wall):>10.2f} wall  "
          f"{min(full_cpu) / min(light_cpu):>8.2f} CPU   (no target; summaries identical)")


def model_against_floor(submissions: int, repeat: int) -> None:
    found = model_against_minimal(submissions, repeat)
    print(f"(c) {submissions:,} submissions: the model against the minimal SimPy pipeline, same process, "
          f"alternating, best of {repeat}")
    print(f"    model                  {found['model_per_wall_s']:>10,.0f} /wall-s  "
          f"{found['model_per_cpu_s']:>8,.0f} /CPU-s")
    print(f"    minimal pipeline       {found['minimal_per_wall_s']:>10,.0f} /wall-s  "
          f"{found['minimal_per_cpu_s']:>8,.0f} /CPU-s")
    print(f"    ratio model / minimal  {found['ratio_wall']:>10.2f} wall    {found['ratio_cpu']:>8.2f} CPU   "
          "(target >= 0.75)")
    print(f"    minimal, all 3 limits  {found['limits_per_cpu_s']:>10,.0f} /CPU-s   (+ execution and concurrency "
          "limits per key, as the model's)")
    print(f"    ratio model / that     {found['ratio_limits_cpu']:>19.2f} CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--submissions", type=int, default=1_000_000)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a, b, c")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    if "a" not in skip:
        cluster_against_pool(args.replications, args.workers)
    if "b" not in skip:
        summary_only_against_full(args.repeat)
    if "c" not in skip:
        model_against_floor(args.submissions, args.repeat)


if __name__ == "__main__":
    main()
