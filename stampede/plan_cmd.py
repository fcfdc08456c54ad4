"""`stampede plan`: the smallest setting of one key that meets the SLO, with the analytic bound beside it — or,
with ``--largest``, the largest (a lever such as the journey's entry limit), said in the customer's terms."""

from __future__ import annotations

import csv
import io
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from simulator.arrivals import mean_rate_per_s
from simulator.engine.batch import resolve_variants
from simulator.engine.cluster import ClusterError, executor_for, run_summary
from simulator.engine.probe import met_text, probe, probe_tasks
from simulator.engine.replicate import local_pool
from simulator.engine.virtual import summary_skeleton
from simulator.levers import lever_answer
from simulator.plan import capacity
from simulator.records import STOPPED_AT_S, STOPPED_BECAUSE
from simulator.replications import ReplicationResult, ReplicationsError, check_options, replication_count
from simulator.scenario import Scenario, ScenarioError, load_scenario
from simulator.sweep import Search, SweepError, check_paths, judge, parse_search, parse_slo
from simulator.uncertain import (
    at_central_values,
    central_values,
    certain_by_set,
    check_not_uncertain,
    parse_uncertain,
)
from stampede import console, gates, replication_options
from stampede.simulate_cmd import write_run

Probability = Annotated[float, typer.Option(help="With replications: a probe meets the SLO when at least this "
                                                 "share of its replications meet it.")]


def plan(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    slo: Annotated[list[str], typer.Option(help='SLO over summary.json, e.g. "time_to_created_s.p95<=900" '
                                                 '(repeatable: all must hold).')],
    search: Annotated[str, typer.Option(help="key=LOW..HIGH: whole numbers (dataverse.app_users=1..16), floats "
                                             "(retry.base=0.5..8) or durations (retry.cap=1m..10m).")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override for every probe (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    tolerance: Annotated[str | None, typer.Option(help="For a float or duration --search: stop bisecting once "
                                                       "the bracket is this narrow, e.g. 10s (default: 1% of the "
                                                       "range).")] = None,
    largest: Annotated[bool, typer.Option("--largest", help="Find the largest value for which every SLO holds, "
                                                            "assuming more of it never helps (a lever: "
                                                            "journey.entry_limit, journey.send_rate_per_h).")
                       ] = False,
    step: Annotated[int | None, typer.Option(help="For a whole-number --search: probe only LOW, LOW+STEP, … "
                                                  "(e.g. 10000 for an entry limit).")] = None,
    replications: replication_options.Replications = None,
    workers: replication_options.Workers = None,
    sampling: replication_options.Sampling = "lhs",
    confidence: replication_options.Confidence = 0.95,
    precision: replication_options.Precision = None,
    probability: Probability = 0.95,
    cluster: replication_options.Cluster = None,
    out: Annotated[Path | None, typer.Option(help="Plan directory: plan.json, probes.csv, chosen/ (the chosen "
                                                  "value's run) and report.html (default "
                                                  "runs/plan-<name>-<UTC time>/).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite the plan in an existing --out directory.")] = False,
    fail_on: Annotated[list[str] | None, typer.Option(
        help='Exit 1 when this holds over the chosen run\'s summary.json, or the answer: "value" (the value found) '
             'or "met_share" (the share of its replications that met every SLO), e.g. "value>4" (repeatable; '
             'the --slo language). Nothing meeting the SLO exits 1 anyway.')] = None,
) -> None:
    """Find the smallest (or, with --largest, the largest) value of the searched key for which every SLO holds
    (bisection over LOW..HIGH)."""
    try:
        slos = [parse_slo(text) for text in slo]
        span = parse_search(search, tolerance, step)
        base = list(set_ or [])
        load_scenario(scenario, base, seed, warn=console.warn)  # --set alone: its errors name --set
        [first] = resolve_variants(scenario, [base + [span.override(span.low)]], seed,
                                   [f"--search {span.override(span.low)}"])
        check_options(replications, confidence, precision, workers, sampling)
        if not 0 < probability <= 1:
            raise ReplicationsError(f"--probability {probability:g}: expected a share in (0, 1], e.g. 0.95")
        source = f"{scenario}" + (" (with --set overrides)" if set_ else "")
        skeleton = summary_skeleton(first)
        check_paths(slos, skeleton)
        checks = gates.parse_gates(fail_on)
        gates.check_paths(checks, {**skeleton, **_answer_figures(None, {})})
        first, certain = certain_by_set(first, base)  # a --set key [uncertain] no longer draws
        entries = parse_uncertain(first, source)
        check_not_uncertain([span.key], entries, "--search")
        n = replication_count(replications, bool(entries), precision)
    except (SweepError, ScenarioError, ReplicationsError) as exc:
        console.fail(str(exc))
    central = central_values(entries) if n == 1 else {}
    entries = [] if central else entries  # one replication: every probe at the central values, no draw
    console.check_out(out, force, nested=True)
    console.warn_certain(certain)
    console.warn_central(central)
    replicated = n > 1 or bool(entries)

    def prepared(resolved: Scenario) -> Scenario:
        """A probe's scenario as it runs: the keys --set made certain not drawn, or the central values."""
        resolved = certain_by_set(resolved, base)[0]
        return at_central_values(resolved, central, source) if central else resolved

    tried: dict[float, dict[str, Any]] = {}
    probe_rows: list[dict[str, Any]] = []  # probes.csv: one per probe and replication

    def record(value: float, replication: int, seed: int, summary: dict[str, Any]) -> None:
        probe_rows.append({"value": value, "replication": replication, "seed": seed,
                           "met": judge(slos, summary).met, **{s.path: s.metric(summary) for s in slos},
                           STOPPED_AT_S: summary.get(STOPPED_AT_S), STOPPED_BECAUSE: summary.get(STOPPED_BECAUSE)})

    counted_at: dict[float, list[ReplicationResult]] = {}  # each probe's counted replications, for chosen/

    def recorder(value: float) -> Any:
        def done(result: ReplicationResult) -> None:
            counted_at.setdefault(value, []).append(result)
            record(value, result.replication + 1, result.seed, result.summary)

        return done

    def meets(value: float) -> bool:
        if value not in tried:
            overrides = base + [span.override(value)]
            try:
                [resolved] = resolve_variants(scenario, [overrides], seed, [f"--search {span.override(value)}"])
                resolved = prepared(resolved)
                if replicated:
                    outcome = probe(resolved, overrides, entries, n, slos, probability=probability,
                                    confidence=confidence, sampling=sampling, source=source, precision=precision,
                                    workers=workers, executor=executor, gather=gather,
                                    on_done=recorder(value))
                else:
                    summary = run_summary(resolved, overrides, executor, gather, stop_failing=slos)
                    record(value, 1, resolved.seed, summary)
                    metrics = {s.path: s.metric(summary) for s in slos}
                    judged = judge(slos, summary)
                    outcome = {"metric": metrics[slos[0].path], "metrics": metrics, "met": judged.met,
                               "why": judged.why, "cut_short": int(STOPPED_AT_S in summary)}
            except (SweepError, ScenarioError) as exc:
                console.fail(str(exc))
            tried[value] = {
                "value": value,
                "metric": outcome["metric"],
                "metrics": outcome["metrics"],
                "met": outcome["met"],
                "ceiling_created_per_s": capacity(resolved)["ceiling_created_per_s"],
                "demand_per_s": round(mean_rate_per_s(resolved), 3),
                **{k: v for k, v in outcome.items() if k not in ("metric", "metrics", "met")},
            }
            if not as_json:
                row = tried[value]
                verdict = met_text(row) if replicated else ('met' if row['met'] else 'not met')
                if row["why"]:
                    verdict += f" ({row['why']})"
                figures = console.slo_metrics_text(row["metrics"], row["cut_short"])
                console.err.print(f"  {span.key}={span.show(value)}: {figures} → {verdict}", highlight=False,
                                  markup=False)
        return bool(tried[value]["met"])

    analytic = None if largest else _analytic_minimum(scenario, base, span, seed)
    label = f"searching {span.key} in {span.show(span.low)}..{span.show(span.high)}"
    # bisection's probes are counted in advance; a gallop from the analytic minimum's are not (a count, no total)
    galloping = not largest and analytic is not None and span.kind == "integer"
    try:
        with (executor_for(cluster) as (remote, gather),
              local_pool(workers) if replicated and remote is None else nullcontext() as pool,
              console.count_progress(label, None if galloping else span.max_probes) as advance):
            executor = remote if remote is not None else pool  # one pool for every probe, full from the start

            def probe_once(value: float) -> bool:
                new = value not in tried
                met = meets(value)
                if new:
                    advance()
                return met

            found = span.largest(probe_once) if largest else span.smallest(probe_once, analytic)
    except ClusterError as exc:
        console.fail(str(exc))
    result: dict[str, Any] = {
        "key": span.key,
        "direction": "largest" if largest else "smallest",
        "value": found,
        "met": found is not None,
        "slo": [str(s) for s in slos],
        "analytic_value": analytic,
        "tried": [tried[v] for v in sorted(tried)],
    }
    if span.kind != "integer":
        result.update(kind=span.kind, tolerance=span.tolerance, tolerance_text=span.show(span.tolerance),
                      value_text=span.show(found),
                      analytic_text=span.show(analytic))
        for row in result["tried"]:
            row["value_text"] = span.show(row["value"])
    if replicated:
        result["probability"] = probability
        result["confidence"] = confidence
        result["replications"] = n
        result["borderline"] = bool(found is not None and tried[found]["borderline"])
    result.update({"certain_by_set": certain} if certain else {}, **({"central_values": central} if central else {}))
    if found is not None:
        [at_found] = resolve_variants(scenario, [base + [span.override(found)]], seed)
        at_found = prepared(at_found)
        result["answer"] = lever_answer(at_found, span.key, found, [(s.path, s.op, s.threshold) for s in slos],
                                        tried[found].get("met_share"))
    plan_dir = _write_plan_dir(console.run_directory(out, f"plan-{first.name}"), result, probe_rows,
                               [s.path for s in slos])
    chosen_summary: dict[str, Any] = {}
    if found is not None:  # the replications its probe counted (README: chosen/)
        overrides = base + [span.override(found)]
        counted = probe_tasks(at_found, overrides, entries, n, sampling=sampling, source=source,
                              count=tried[found].get("replications", 1), keep_files_of=0) if replicated else None
        # Their summaries are back already: run again only replication 1 (for its files) and any cut short.
        kept = [r for r in counted_at.get(found, []) if r.replication > 0 and STOPPED_AT_S not in r.summary]
        again = [t for t in counted if t.replication not in {r.replication for r in kept}] if counted else None
        chosen, chosen_summary, _ = write_run(
            at_found, overrides, entries, len(counted) if counted else n, out=plan_dir / "chosen", source=source,
            quiet=True, sampling=sampling, confidence=confidence, precision=precision, workers=workers,
            cluster=cluster, certain=certain, central=central, tasks=again, done=kept)
        console.write_report(chosen)
    from reports.plan import write_plan_report  # matplotlib only once the search is done
    report_path = write_plan_report(plan_dir)
    console.err.print(f"plan written: {report_path}", highlight=False, markup=False)
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        console.print_plan(result, slos[0].path)
        if found is not None:
            console.out.print(result["answer"], highlight=False)
        if replicated and found is not None:
            console.out.print(f"{span.key}={found}: {met_text(tried[found])} (a probe meets the SLO when at least "
                              f"{probability:.0%} of its replications do)", highlight=False)
    if found is None:
        raise typer.Exit(1)
    gates.enforce(checks, [(f"{span.key}={span.show(found)}", {**chosen_summary,
                                                                 **_answer_figures(found, tried[found])})])


def _answer_figures(found: float | None, row: dict[str, Any]) -> dict[str, Any]:
    """What plan's --fail-on reads beside the chosen run's summary.json: the value found, and the share of its
    probe's replications that met every SLO (1 or 0 for a probe of one run)."""
    return {"value": found, "met_share": row.get("met_share", float(bool(row.get("met"))))}


def _write_plan_dir(plan_dir: Path, result: dict[str, Any], rows: list[dict[str, Any]], paths: list[str]) -> Path:
    """plan.json (exactly the --json output) and probes.csv (one row per probe and replication)."""
    (plan_dir / "plan.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["value", "replication", "seed", "met", *dict.fromkeys(paths), STOPPED_AT_S,
                                     STOPPED_BECAUSE], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (plan_dir / "probes.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return plan_dir


def _analytic_minimum(scenario: Path, base: list[str], span: Search, seed: int | None) -> float | None:
    """Smallest value whose analytic ceiling (created/s) covers the mean demand — no simulation needed; for
    a float or duration range, bisected to the same tolerance."""

    def covers(value: float) -> bool:
        [variant] = resolve_variants(scenario, [base + [span.override(value)]], seed)
        return bool(capacity(variant)["ceiling_created_per_s"] >= mean_rate_per_s(variant))

    if span.kind != "integer":
        return span.smallest(covers)
    return next((value for value in range(int(span.low), int(span.high) + 1) if covers(value)), None)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
