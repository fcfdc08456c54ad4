"""A planner's question end to end: `stampede plan` wall ÷ one replication's wall, measured in the same run.

Runs each shipped planner question (`stampede plan ... --json` in a subprocess, as a user would), then times
replications of the answer's setting in this process (one at a time: the floor), and prints the ratio plan
wall ÷ one replication's mean wall, the same for CPU seconds (the plan's processes and their workers against
one replication's), the replications each probe counted, how many were cut short once an SLO could no longer
hold (probes.csv's ``stopped_at_s``) and the answer. Issue 22's target: ≤ 30 replication-walls for the
email-blast-uncertain question. On a shared machine the absolute times are noisy; the ratios and the replication
counts are what to compare.

    .venv/bin/python benchmarks/plan.py [--floor 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator.engine.replicate import build_tasks, run_replication
from simulator.scenario import load_scenario
from simulator.uncertain import parse_uncertain

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = {  # name: (scenario, plan arguments)
    "email-blast-uncertain": ("scenarios/email-blast-uncertain.toml",
                              ["--slo", "time_to_created_s.p95<=900", "--search", "dataverse.app_users=1..16"]),
}


def _search_key(arguments: list[str]) -> str:
    return arguments[arguments.index("--search") + 1].partition("=")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floor", type=int, default=3, help="replications timed for the floor (default 3)")
    args = parser.parse_args()
    for name, (path, arguments) in QUESTIONS.items():
        out = Path(tempfile.mkdtemp(prefix="plan-bench-")) / "plan"
        command = [sys.executable, "-m", "stampede", "plan", str(ROOT / path), *arguments, "--json", "--out", str(out)]
        cpu_before = _children_cpu_s()
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        plan_s = time.perf_counter() - started
        plan_cpu_s = _children_cpu_s() - cpu_before  # the plan and its pool's workers (waited for by it)
        if done.returncode not in (0, 1):
            sys.exit(f"{name}: plan failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        result = json.loads(done.stdout[done.stdout.index("{"):])
        value = result["value"] if result["value"] is not None else result["tried"][-1]["value"]
        override = f"{_search_key(arguments)}={int(value)}"
        scenario = load_scenario(ROOT / path, [override])
        entries = parse_uncertain(scenario, path)
        tasks = build_tasks([scenario], [[override]], entries, max(args.floor, 1), seed=scenario.seed,
                            sampling="lhs", source=path, keep_files_of=None)
        started, cpu_started = time.perf_counter(), time.process_time()
        for task in tasks:
            run_replication(task)
        replication_s = (time.perf_counter() - started) / len(tasks)
        replication_cpu_s = (time.process_time() - cpu_started) / len(tasks)
        probes = result["tried"]
        counted = sum(int(row.get("replications", 1)) for row in probes)
        print(f"{name}: answer {result['key']}={result['value']} (analytic {result.get('analytic_value')})")
        print(f"  plan wall {plan_s:7.1f} s   one replication {replication_s:6.2f} s (mean of {len(tasks)}, "
              f"at {override})   ratio {plan_s / replication_s:6.1f} replication-walls")
        print(f"  plan CPU {plan_cpu_s:7.1f} s   one replication {replication_cpu_s:6.2f} s CPU   ratio "
              f"{plan_cpu_s / replication_cpu_s:6.1f} replication-CPUs")
        print(f"  {len(probes)} probes, {counted} replications: "
              + ", ".join(f"{row['value']:g} ({row.get('replications', 1)})" for row in probes))
        rows = list(csv.DictReader((out / "probes.csv").open(encoding="utf-8")))
        cut = [float(row["stopped_at_s"]) for row in rows if row.get("stopped_at_s")]
        if cut:
            print(f"  {len(cut)} of {len(rows)} replications cut short once an SLO could no longer hold, at "
                  f"{min(cut):,.0f}–{max(cut):,.0f} s of virtual time")


def _children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


if __name__ == "__main__":
    main()
