"""`stampede plan`: the smallest setting of one key that meets the SLO, with the analytic bound beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from simulator.arrivals import mean_rate_per_s
from simulator.engine.batch import resolve_variants, run_variants
from simulator.plan import capacity
from simulator.scenario import ScenarioError
from simulator.sweep import Search, SweepError, parse_search, parse_slo
from stampede import console


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
) -> None:
    """Find the smallest value of the searched key for which every SLO holds (bisection over LOW..HIGH)."""
    try:
        slos = [parse_slo(text) for text in slo]
        span = parse_search(search, tolerance)
        base = list(set_ or [])
        resolve_variants(scenario, [base + [span.override(span.low)]], seed)
    except (SweepError, ScenarioError) as exc:
        console.fail(str(exc))

    tried: dict[float, dict[str, Any]] = {}

    def meets(value: float) -> bool:
        if value not in tried:
            overrides = base + [span.override(value)]
            try:
                [resolved] = resolve_variants(scenario, [overrides], seed)
                [run] = run_variants([resolved], [overrides], workers=1)
                metrics = {s.path: s.metric(run.summary) for s in slos}
            except (SweepError, ScenarioError) as exc:
                console.fail(str(exc))
            tried[value] = {
                "value": value,
                "metric": metrics[slos[0].path],
                "metrics": metrics,
                "met": all(s.holds(run.summary) for s in slos),
                "ceiling_created_per_s": capacity(resolved)["ceiling_created_per_s"],
                "demand_per_s": round(mean_rate_per_s(resolved.workload), 3),
            }
            if not as_json:
                row = tried[value]
                console.err.print(f"  {span.key}={span.show(value)}: {row['metrics']} → "
                                  f"{'met' if row['met'] else 'not met'}", highlight=False)
        return bool(tried[value]["met"])

    label = f"searching {span.key} in {span.show(span.low)}..{span.show(span.high)}"
    with console.count_progress(label, span.max_probes) as advance:

        def probe_once(value: float) -> bool:
            new = value not in tried
            met = meets(value)
            if new:
                advance()
            return met

        found = span.smallest(probe_once)
    analytic = _analytic_minimum(scenario, base, span, seed)
    result: dict[str, Any] = {
        "key": span.key,
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
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        console.print_plan(result)
    raise typer.Exit(0 if found is not None else 1)


def _analytic_minimum(scenario: Path, base: list[str], span: Search, seed: int | None) -> float | None:
    """Smallest value whose analytic ceiling (created/s) covers the mean demand — no simulation needed; for
    a float or duration range, bisected to the same tolerance."""

    def covers(value: float) -> bool:
        [variant] = resolve_variants(scenario, [base + [span.override(value)]], seed)
        return bool(capacity(variant)["ceiling_created_per_s"] >= mean_rate_per_s(variant.workload))

    if span.kind != "integer":
        return span.smallest(covers)
    return next((value for value in range(int(span.low), int(span.high) + 1) if covers(value)), None)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
