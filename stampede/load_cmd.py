"""`stampede load`: drive the live mock with Locust on the scenario's open workload; compare with a simulation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from loadtests.runner import LoadError, LoadSettings, run_load
from simulator.scenario import ScenarioError, load_scenario, parse_duration_s
from simulator.sweep import SweepError
from stampede import console, gates, interrupt


def load(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file, e.g. scenarios/live-smoke.toml.")],
    time_scale: Annotated[float | None, typer.Option(
        help="Simulated seconds per wall second (default: the scenario's load.time_scale).")] = None,
    duration: Annotated[str | None, typer.Option(
        help='Simulated time of arrivals, e.g. "5m" (default: workload.duration); wall time = this ÷ time scale.'
    )] = None,
    processes: Annotated[int, typer.Option(help="Locust processes on this machine (-1: one per core).")] = 1,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/<name>-<UTC time>/).")] = None,
    fail_on: Annotated[list[str] | None, gates.FailOn] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a scenario key (repeatable).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the scenario's).")] = None,
    settle_timeout: Annotated[float, typer.Option(
        help="Wall seconds to wait after the load for every accepted submission to settle.")] = 120.0,
    expect_workers: Annotated[int, typer.Option(
        help="Run only the Locust master and wait for this many workers (started on other machines).")] = 0,
    bind: Annotated[str, typer.Option(help="Address the server and the Locust master listen on (non-loopback "
                                           "only with --expect-workers).")] = "127.0.0.1",
    advertise: Annotated[str | None, typer.Option(
        help="Host name workers use to reach this machine (default: its host name).")] = None,
    master_port: Annotated[int, typer.Option(help="Locust master port (0: one the system chooses, printed).")] = 0,
    report: Annotated[bool, typer.Option(help="Write report.html and figures into the run directory.")] = True,
    force: Annotated[bool, typer.Option(help="Overwrite the run in an existing --out directory.")] = False,
) -> None:
    """Serve the scenario live, load it with Locust, wait for it to settle, and write a live run directory."""
    overrides = list(set_ or [])
    try:
        checks = gates.parse_gates(fail_on)
        if duration is not None:
            parse_duration_s(duration)
            overrides.append(f'workload.duration="{duration}"')
        if time_scale is not None:
            overrides.append(f"load.time_scale={time_scale!r}")
        resolved = load_scenario(scenario, overrides, seed)
    except ValueError as exc:  # ScenarioError, SweepError and a bad --duration alike
        if isinstance(exc, SweepError):
            console.fail(str(exc))
        console.fail(str(exc) if isinstance(exc, ScenarioError)
                     else f'--duration {duration!r}: expected a duration like "5m", "90s" or "1h"')
    if processes == -1:
        import os

        processes = os.cpu_count() or 1
    if processes < 1:
        console.fail(f"--processes {processes}: expected 1 or more (or -1 for one per core)")
    if bind not in ("127.0.0.1", "localhost", "::1") and expect_workers <= 0:
        console.fail(f"--bind {bind}: listening beyond loopback is only for workers on other machines; add "
                     "--expect-workers N")
    console.check_out(out, force)
    run_dir = console.run_directory(out, resolved.name)
    settings = LoadSettings(resolved, run_dir, resolved.load.time_scale, processes=processes,
                            expect_workers=expect_workers, bind_host=bind, advertise_host=advertise,
                            master_port=master_port, settle_timeout_s=settle_timeout)
    try:
        with console.load_progress(f"load {resolved.name}") as on_progress:
            run = run_load(settings, say=lambda text: console.err.print(f"[dim]{text}[/]", highlight=False),
                           on_progress=on_progress)
    except LoadError as exc:
        console.fail(str(exc))
    except KeyboardInterrupt:  # Locust and the server were stopped on the way out; the server wrote its files
        if not (run_dir / "summary.json").is_file():
            interrupt.stop(f"the load had not started serving; no run written (logs in {run_dir}/)")
        interrupt.mark(run_dir)
        interrupt.stop(f"the live run so far (no simulated comparison) in {run_dir}/ marked interrupted")
    (run_dir / "summary.json").write_text(json.dumps(run.summary, indent=2) + "\n", encoding="utf-8")
    report_path = console.write_report(run_dir) if report else None
    console.print_summary(run.summary, run_dir, report_path)
    console.print_load(run.summary)
    gates.enforce(checks, [(resolved.name, run.summary)])


def register(app: typer.Typer) -> None:
    app.command("load")(load)
