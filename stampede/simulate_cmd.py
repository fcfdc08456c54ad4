"""`stampede simulate`: one scenario in virtual time → a run directory, a report and a summary table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from simulator.engine.cluster import ClusterError, executor_for
from simulator.engine.replicate import Interrupted, ReplicationTask, replicate, run_tasks
from simulator.engine.virtual import run_virtual
from simulator.records import run_files
from simulator.replications import (
    ReplicationResult,
    ReplicationsError,
    check_options,
    precision_note,
    replicated_files,
    replicated_summary,
    replication_count,
    single_run_files,
)
from simulator.scenario import Scenario, ScenarioError, load_scenario, scenario_to_toml
from simulator.sweep import SweepError
from simulator.uncertain import Uncertain, at_central_values, central_values, certain_by_set, parse_uncertain
from stampede import console, gates, interrupt, replication_options, replication_table

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario key, e.g. --set dataverse.app_users=4 (repeatable)."),
]


def simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file, e.g. scenarios/email-blast.toml.")],
    set_: SetOption = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/<name>-<UTC time>/).")] = None,
    report: Annotated[bool, typer.Option(help="Write report.html and figures into the run directory.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar or table; print the run directory only.")] = False,
    replications: replication_options.Replications = None,
    workers: replication_options.Workers = None,
    sampling: replication_options.Sampling = "lhs",
    confidence: replication_options.Confidence = 0.95,
    precision: replication_options.Precision = None,
    cluster: replication_options.Cluster = None,
    force: Annotated[bool, typer.Option(help="Overwrite the run in an existing --out directory.")] = False,
    fail_on: Annotated[list[str] | None, gates.FailOn] = None,
) -> None:
    """Run a scenario in virtual time and write its run directory."""
    overrides = list(set_ or [])
    source = f"{scenario}" + (" (with --set overrides)" if overrides else "")
    try:
        check_options(replications, confidence, precision, workers, sampling)
        resolved, certain = certain_by_set(load_scenario(scenario, overrides, seed, warn=console.warn), overrides)
        entries = parse_uncertain(resolved, source)
        checks = gates.parse_gates(fail_on)
        n = replication_count(replications, bool(entries), precision)
        central = central_values(entries) if n == 1 else {}
        if central:  # one replication: the distributions' central values, not one random draw
            resolved = at_central_values(resolved, central, source)
            entries = []
    except (ScenarioError, ReplicationsError, SweepError) as exc:
        console.fail(str(exc))
    console.check_out(out, force)
    console.warn_certain(certain)
    console.warn_central(central)
    run_dir, summary, results = write_run(resolved, overrides, entries, n, out=out, source=source, quiet=quiet,
                                          sampling=sampling, confidence=confidence, precision=precision,
                                          workers=workers, cluster=cluster, certain=certain, central=central)
    report_path = console.write_report(run_dir) if report else None
    if quiet:
        print(run_dir)
    else:
        console.print_summary(summary, run_dir, report_path)
        if "replications" in summary:
            note = precision_note([results or []], precision, n, confidence) if precision is not None else None
            replication_table.print_replications(summary, note)
    gates.enforce(checks, [(summary["name"], summary)])


def write_run(resolved: Scenario, overrides: list[str], entries: list[Uncertain], n: int, *, out: Path | None,
              source: str, quiet: bool = False, sampling: str = "lhs", confidence: float = 0.95,
              precision: float | None = None, workers: int | None = None, cluster: str | None = None,
              certain: dict[str, Any] | None = None, central: dict[str, Any] | None = None,
              tasks: Sequence[ReplicationTask] | None = None, done: Sequence[ReplicationResult] = (),
              ) -> tuple[Path, dict[str, Any], list[ReplicationResult] | None]:
    """Run ``resolved`` (once, or ``n`` replications over ``entries``) and write its run directory (no report):
    ``(run_dir, summary, replication results or None)``. Also `plan`'s chosen value's run, which passes its
    probe's replications as ``tasks`` still to run and ``done``, those whose results it has (``n`` in all)."""
    certain, central = certain or {}, central or {}
    if n == 1 and not entries and cluster is None:
        try:
            with console.progress(f"simulating {resolved.name}", enabled=not quiet) as advance:
                run = run_virtual(resolved, advance, overrides=overrides)
        except KeyboardInterrupt:
            interrupt.stop("the run had not finished; nothing written")
        run_dir = console.run_directory(out, resolved.name)
        summary = _settings_noted(run.summary, certain, central)
        console.write_files(run_dir, run_files(run.recorder, summary, scenario_to_toml(resolved)))
        return run_dir, summary, None
    try:
        with executor_for(cluster) as (executor, gather), \
                console.count_progress(f"simulating {n} replications of {resolved.name}", n) as advance:
            if tasks is None:
                [results] = replicate([resolved], [overrides], entries, n, sampling=sampling, source=source,
                                      confidence=confidence, precision=precision, workers=workers,
                                      executor=executor, gather=gather, on_done=lambda result: advance())
            else:
                results = run_tasks(tasks, workers=workers, executor=executor, gather=gather,
                                    on_done=lambda result: advance())
                results = sorted([*results, *done], key=lambda result: result.replication)
                for _ in done:
                    advance()
    except (ScenarioError, ClusterError) as exc:
        console.fail(str(exc))
    except Interrupted as stopped:
        _write_interrupted(stopped, out, resolved, entries, confidence, sampling, precision, n)
    run_dir = console.run_directory(out, resolved.name)
    if n == 1 and not entries:  # one run on the cluster: the files an unreplicated run writes
        summary = _settings_noted(results[0].summary, certain, central)
        console.write_files(run_dir, single_run_files(results[0], scenario_to_toml(resolved)))
        return run_dir, summary, results
    summary = replicated_summary(results, seed=resolved.seed, confidence=confidence, sampling=sampling,
                                 uncertain={e.key: e.describe() for e in entries}, precision=precision,
                                 requested=n)
    summary = _settings_noted(summary, certain, central)
    console.write_files(run_dir, replicated_files(results, summary, scenario_to_toml(resolved),
                                                  [e.key for e in entries]))
    return run_dir, summary, results


def _settings_noted(summary: dict[str, Any], certain: dict[str, Any], central: dict[str, Any]) -> dict[str, Any]:
    """summary.json says which [uncertain] keys a --set made certain, and the central values one replication
    ran."""
    return {**summary, **({"certain_by_set": certain} if certain else {}),
            **({"central_values": central} if central else {})}


def _write_interrupted(stopped: Interrupted, out: Path | None, resolved: Scenario, entries: list[Uncertain],
                       confidence: float, sampling: str, precision: float | None, n: int) -> None:
    """Ctrl-C during replications: the finished ones as a run directory marked interrupted, then exit 130."""
    finished = sorted(stopped.finished, key=lambda result: result.replication)
    done = f"{len(finished)} of {stopped.total} replications done"
    if not finished:
        interrupt.stop(f"{done}; nothing written")
    run_dir = console.run_directory(out, resolved.name)
    summary = replicated_summary(finished, seed=resolved.seed, confidence=confidence, sampling=sampling,
                                 uncertain={e.key: e.describe() for e in entries}, precision=precision, requested=n)
    summary["interrupted"] = True
    summary["replications"]["requested"] = n
    console.write_files(run_dir, replicated_files(finished, summary, scenario_to_toml(resolved),
                                                  [e.key for e in entries]))
    interrupt.stop(f"{done}; partial results in {run_dir}/ marked interrupted")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
