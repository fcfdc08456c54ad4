"""`stampede compare`: a grid of variants of one scenario → one run directory each + a comparison report."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from simulator.engine.batch import resolve_variants, run_variants
from simulator.records import run_files
from simulator.scenario import ScenarioError, scenario_to_toml
from simulator.sweep import SweepError, grid, parse_vary
from stampede import console


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
    workers: Annotated[int | None, typer.Option(help="Parallel processes (default: one per core).")] = None,
    report: Annotated[bool, typer.Option(help="Write the comparison report.")] = True,
    force: Annotated[bool, typer.Option(help="Overwrite the runs in an existing --out directory.")] = False,
) -> None:
    """Run every combination of the --vary values and compare them side by side."""
    try:
        overrides = [list(set_ or []) + combo for combo in grid([parse_vary(v) for v in vary])]
        scenarios = resolve_variants(scenario, overrides, seed)
    except (SweepError, ScenarioError) as exc:
        console.fail(str(exc))
    console.check_out(out, force, nested=True)
    name = scenarios[0].name
    if out is None:
        out = Path("runs") / f"compare-{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    with console.count_progress(f"comparing {len(scenarios)} variants of {name}", len(scenarios)) as advance:
        runs = run_variants(scenarios, overrides, workers, on_done=lambda index, run: advance())
    run_dirs = []
    for variant, run, resolved in zip(overrides, runs, scenarios, strict=True):
        run_dir = console.run_directory(out / variant_name(variant[len(set_ or []):]), name)
        console.write_files(run_dir, run_files(run.recorder, run.summary, scenario_to_toml(resolved)))
        run_dirs.append(run_dir)
    console.print_comparison([(variant_name(v[len(set_ or []):]), r.summary)
                              for v, r in zip(overrides, runs, strict=True)])
    if report:
        path = console.write_report(run_dirs, out)
        if path is not None:
            console.out.print(f"comparison report: {path}")
    console.out.print(f"variants: {out}")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
