"""`stampede compare`: a grid of variants of one scenario → one run directory each + a comparison report."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from simulator.comparison import comparison_csv, comparison_rows, variant_labels
from simulator.decision import DECIDING_PATH, Candidate, decide
from simulator.engine.batch import resolve_variants
from simulator.engine.cluster import ClusterError, executor_for
from simulator.engine.replicate import Interrupted, replicate
from simulator.replications import (
    ReplicationResult,
    ReplicationsError,
    as_written,
    check_options,
    metric_columns,
    precision_note,
    replicated_files,
    replicated_summary,
    replication_count,
    single_run_files,
)
from simulator.scenario import Scenario, ScenarioError, load_scenario, scenario_to_toml
from simulator.sweep import SweepError, grid, parse_vary
from simulator.uncertain import at_central_values, central_values, certain_by_set, check_not_uncertain, parse_uncertain
from stampede import compare_table, console, gates, interrupt, replication_options


def variant_name(overrides: list[str]) -> str:
    """``["retry.policy=full-jitter", "api.cache_ttl=1m"]`` → ``"policy-full-jitter_cache_ttl-1m"``."""
    parts = [f"{k.rsplit('.', 1)[-1]}-{v}" for k, _, v in (o.partition("=") for o in overrides)]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)) or "base"


def compare(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    vary: Annotated[list[str], typer.Option(help="key=v1,v2[,...]; repeat for a grid, e.g. "
                                                  "--vary retry.policy=none,full-jitter")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override for every variant (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed for every variant.")] = None,
    out: Annotated[Path | None, typer.Option(help="Directory for the variants and the comparison report "
                                                  "(default runs/compare-<name>-<UTC time>/).")] = None,
    workers: replication_options.Workers = None,
    report: Annotated[bool, typer.Option(help="Write the comparison report.")] = True,
    replications: replication_options.Replications = None,
    sampling: replication_options.Sampling = "lhs",
    confidence: replication_options.Confidence = 0.95,
    precision: replication_options.Precision = None,
    baseline: Annotated[int, typer.Option(help="The variant the others are compared with, counting from 1 in "
                                               "the table's order.")] = 1,
    cluster: replication_options.Cluster = None,
    force: Annotated[bool, typer.Option(help="Overwrite the runs in an existing --out directory.")] = False,
    fail_on: Annotated[list[str] | None, gates.FailOn] = None,
) -> None:
    """Run every combination of the --vary values and compare them side by side."""
    try:
        check_options(replications, confidence, precision, workers, sampling)
        varies = [parse_vary(v) for v in vary]
        combos = grid(varies)
        overrides = [list(set_ or []) + combo for combo in combos]
        load_scenario(scenario, list(set_ or []), seed, warn=console.warn)  # --set alone: its errors name --set
        scenarios = resolve_variants(scenario, overrides, seed, [f"--vary {' '.join(c)}" for c in combos],
                                     warn=console.warn)
        source = f"{scenario}" + (" (with --set overrides)" if set_ else "")
        certain = certain_by_set(scenarios[0], list(set_ or []))[1]  # a --set key [uncertain] no longer draws
        scenarios = [certain_by_set(variant, list(set_ or []))[0] for variant in scenarios]
        entries = parse_uncertain(scenarios[0], source)
        check_not_uncertain([v.key for v in varies], entries, "--vary")
        if not 1 <= baseline <= len(scenarios):
            raise ReplicationsError(f"--baseline {baseline}: expected a variant number from 1 to {len(scenarios)}, "
                                    "e.g. --baseline 1")
        checks = gates.parse_gates(fail_on)
    except (SweepError, ScenarioError, ReplicationsError) as exc:
        console.fail(str(exc))
    console.check_out(out, force, nested=True)
    console.warn_certain(certain)
    n = replication_count(replications, bool(entries), precision)
    central = central_values(entries) if n == 1 else {}
    if central:  # one replication: every variant at the distributions' central values, not one random draw
        try:
            scenarios = [at_central_values(variant, central, source) for variant in scenarios]
        except ScenarioError as exc:
            console.fail(str(exc))
        entries = []
    console.warn_central(central)
    name = scenarios[0].name
    if out is None:
        out = Path("runs") / f"compare-{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    total = len(scenarios) * n
    label = f"comparing {len(scenarios)} variants of {name}" + (f" × {n} replications" if n > 1 else "")
    stopped: Interrupted | None = None
    try:
        with executor_for(cluster) as (executor, gather), console.count_progress(label, total) as advance:
            results = replicate(scenarios, overrides, entries, n, sampling=sampling, source=source,
                                confidence=confidence, precision=precision, workers=workers,
                                executor=executor, gather=gather, on_done=lambda result: advance())
    except (ScenarioError, ClusterError) as exc:
        console.fail(str(exc))
    except Interrupted as interrupted:
        stopped = interrupted
    labels = variant_labels(varies)

    noted = {**({"certain_by_set": certain} if certain else {}), **({"central_values": central} if central else {})}

    def write_variant(variant: list[str], runs: list[ReplicationResult], resolved: Scenario,
                      interrupted: bool = False) -> tuple[dict[str, Any], Path]:
        run_dir = console.run_directory(out / variant_name(variant[len(set_ or []):]), name)
        if n == 1 and not entries:
            [only] = runs
            summary = {**only.summary, **noted, **({"interrupted": True} if interrupted else {})}
            files = single_run_files(replace(only, summary=summary), scenario_to_toml(resolved))
        else:
            summary = replicated_summary(runs, seed=resolved.seed, confidence=confidence, sampling=sampling,
                                         uncertain={e.key: e.describe() for e in entries}, precision=precision,
                                         requested=n)
            summary.update(noted)
            if interrupted:
                summary["interrupted"] = True
                summary["replications"]["requested"] = n
            files = replicated_files(runs, summary, scenario_to_toml(resolved), [e.key for e in entries])
        console.write_files(run_dir, files)
        return summary, run_dir

    if stopped is not None:
        finished: list[list[ReplicationResult]] = [[] for _ in scenarios]
        for result in sorted(stopped.finished, key=lambda r: r.replication):
            finished[result.variant].append(result)
        for variant, runs, resolved in zip(overrides, finished, scenarios, strict=True):
            if runs:
                write_variant(variant, runs, resolved, interrupted=True)
        counted = f"{len(stopped.finished)} of {stopped.total} runs done"
        where = f"partial results in {out}/ marked interrupted" if stopped.finished else "nothing written"
        interrupt.stop(f"{counted}; {where} (no comparison)")
    summaries, run_dirs = [], []
    for variant, runs, resolved in zip(overrides, results, scenarios, strict=True):
        summary, run_dir = write_variant(variant, runs, resolved)
        summaries.append(summary)
        run_dirs.append(run_dir)
    rows = comparison_rows(labels, results, baseline - 1, confidence)
    (out / "comparison.csv").write_text(comparison_csv(rows), encoding="utf-8")
    done = len(results[0])
    decision = decide([Candidate(label, summary, _replicated(runs) if done > 1 else None)
                       for label, summary, runs in zip(labels, summaries, results, strict=True)], confidence)
    compare_table.print_comparison(list(zip(labels, summaries, strict=True)), rows if done > 1 else (),
                                   baseline - 1, done, confidence, decision=decision)
    if precision is not None:
        console.out.print(precision_note(results, precision, n, confidence), highlight=False)
    if report:
        path = console.write_report(run_dirs, out)
        if path is not None:
            console.out.print(f"comparison report: {path}")
    console.out.print(f"variants: {out}")
    gates.enforce(checks, list(zip(labels, summaries, strict=True)))


def _replicated(runs: list[ReplicationResult]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """(seeds, the deciding figure per replication) for the decision's paired test."""
    values = metric_columns(runs, [DECIDING_PATH])[DECIDING_PATH]
    return tuple(r.seed for r in runs), tuple(as_written(v) for v in values)  # the digits the report reads


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
