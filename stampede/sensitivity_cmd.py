"""`stampede sensitivity`: which [uncertain] input decides a metric (Morris or Sobol, via SALib)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer

from simulator.engine.cluster import ClusterError, executor_for
from simulator.engine.replicate import run_tasks
from simulator.engine.sensitivity_runs import point_tasks
from simulator.engine.virtual import summary_skeleton
from simulator.replications import ReplicationResult
from simulator.scenario import ScenarioError, load_scenario, scenario_to_toml
from simulator.sensitivity import (
    SensitivityError,
    analyze,
    check_entries,
    check_metrics,
    design,
    ranking,
    sensitivity_csv,
)
from simulator.stats import metric_value
from simulator.uncertain import parse_uncertain
from stampede import console, replication_options


def sensitivity(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file with an [uncertain] section.")],
    metric: Annotated[list[str], typer.Option(help="summary.json path to study, e.g. time_to_created_s.p95 "
                                                   "(repeatable).")],
    method: Annotated[str, typer.Option(help="morris (elementary effects: mu_star, sigma) or sobol (s1, st).")]
    = "morris",
    trajectories: Annotated[int, typer.Option(help="Morris trajectories (D + 1 runs each), or Sobol's base "
                                                   "sample N (rounded up to a power of two; N × (D + 2) runs).")]
    = 10,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a scenario key (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed: of every run, and of the design.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/<name>-<UTC time>/).")] = None,
    workers: replication_options.Workers = None,
    cluster: replication_options.Cluster = None,
    report: Annotated[bool, typer.Option(help="Write report.html with a bar chart per metric.")] = True,
) -> None:
    """Measure how much each [uncertain] input moves each metric, and rank them."""
    overrides = list(set_ or [])
    source = f"{scenario}" + (" (with --set overrides)" if overrides else "")
    try:
        resolved = load_scenario(scenario, overrides, seed)
        entries = parse_uncertain(resolved, source)
        check_entries(entries, source)
        check_metrics(metric, summary_skeleton(resolved))
        if workers is not None and workers < 1:
            raise SensitivityError(f"--workers {workers}: expected a whole number >= 1, e.g. --workers 2")
        points = design(entries, method, trajectories, resolved.seed)
        tasks = point_tasks(resolved, overrides, entries, points, source)
    except (ScenarioError, SensitivityError) as exc:
        console.fail(str(exc))
    try:
        with executor_for(cluster) as (executor, gather), \
                console.count_progress(f"sensitivity of {resolved.name}: {len(tasks)} runs", len(tasks)) as advance:
            results = run_tasks(tasks, workers=workers, executor=executor, gather=gather,
                                on_done=lambda result: advance())
    except ClusterError as exc:
        console.fail(str(exc))
    outputs = {path: [metric_value(r.summary, path) for r in results] for path in metric}
    rows = analyze(points, outputs, resolved.seed)
    run_dir = console.run_directory(out, f"{resolved.name}-sensitivity")
    console.write_files(run_dir, {
        "scenario.toml": scenario_to_toml(resolved),
        "sensitivity.csv": sensitivity_csv(rows, method),
        "points.csv": _points_csv([e.key for e in entries], metric, results, outputs),
    })
    sentences = ranking(rows)
    for sentence in sentences:
        console.out.print(sentence, highlight=False)
    if report:
        from reports.sensitivity import write_sensitivity_report

        console.out.print(f"report: {write_sensitivity_report(run_dir, rows, sentences)}", highlight=False)
    console.out.print(f"run directory: {run_dir}", highlight=False)


def _points_csv(keys: list[str], metrics: list[str], results: list[ReplicationResult],
                outputs: dict[str, list[float]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("point", *keys, *metrics))
    for i, result in enumerate(results):
        writer.writerow((i, *(result.drawn[k] for k in keys), *(f"{outputs[m][i]:.6g}" for m in metrics)))
    return text.getvalue()


def register(app: typer.Typer) -> None:
    app.command("sensitivity")(sensitivity)
