"""A planner's question end to end: `stampede plan` wall ÷ one replication's wall, measured in the same run.

Runs each shipped planner question (`stampede plan ... --json` in a subprocess, as a user would), then times
replications of the answer's setting in this process (one at a time: the floor), and prints the ratio plan
wall ÷ one replication's mean wall, the replications each probe counted, and the answer. Issue 22's target:
≤ 30 replication-walls for the email-blast-uncertain question. On a shared machine the absolute times are
noisy; the ratio and the replication counts are what to compare.

    .venv/bin/python benchmarks/plan.py [--floor 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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
        command = [sys.executable, "-m", "stampede", "plan", str(ROOT / path), *arguments, "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        plan_s = time.perf_counter() - started
        if done.returncode not in (0, 1):
            sys.exit(f"{name}: plan failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        result = json.loads(done.stdout[done.stdout.index("{"):])
        value = result["value"] if result["value"] is not None else result["tried"][-1]["value"]
        override = f"{_search_key(arguments)}={int(value)}"
        scenario = load_scenario(ROOT / path, [override])
        entries = parse_uncertain(scenario, path)
        tasks = build_tasks([scenario], [[override]], entries, max(args.floor, 1), seed=scenario.seed,
                            sampling="lhs", source=path, keep_files_of=None)
        started = time.perf_counter()
        for task in tasks:
            run_replication(task)
        replication_s = (time.perf_counter() - started) / len(tasks)
        probes = result["tried"]
        counted = sum(int(row.get("replications", 1)) for row in probes)
        print(f"{name}: answer {result['key']}={result['value']} (analytic {result.get('analytic_value')})")
        print(f"  plan wall {plan_s:7.1f} s   one replication {replication_s:6.2f} s (mean of {len(tasks)}, "
              f"at {override})   ratio {plan_s / replication_s:6.1f} replication-walls")
        print(f"  {len(probes)} probes, {counted} replications: "
              + ", ".join(f"{row['value']:g} ({row.get('replications', 1)})" for row in probes))


if __name__ == "__main__":
    main()
