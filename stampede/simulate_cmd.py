"""`stampede simulate`: one scenario in virtual time → a run directory, a report and a summary table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from simulator.engine.virtual import run_virtual
from simulator.records import run_files
from simulator.scenario import ScenarioError, load_scenario, scenario_to_toml
from stampede import console

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
    force: Annotated[bool, typer.Option(help="Overwrite the run in an existing --out directory.")] = False,
) -> None:
    """Run a scenario in virtual time and write its run directory."""
    overrides = list(set_ or [])
    try:
        resolved = load_scenario(scenario, overrides, seed)
    except ScenarioError as exc:
        console.fail(str(exc))
    console.check_out(out, force)
    with console.progress(f"simulating {resolved.name}", enabled=not quiet) as advance:
        run = run_virtual(resolved, advance, overrides=overrides)
    run_dir = console.run_directory(out, resolved.name)
    console.write_files(run_dir, run_files(run.recorder, run.summary, scenario_to_toml(resolved)))
    report_path = console.write_report(run_dir) if report else None
    if quiet:
        print(run_dir)
    else:
        console.print_summary(run.summary, run_dir, report_path)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
