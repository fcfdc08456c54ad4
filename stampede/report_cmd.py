"""`stampede report RUN_DIR [RUN_DIR ...] [--out DIR]`: one run → its report; several → a comparison."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    run_dirs: list[Path] = typer.Argument(  # noqa: B008 (typer declares parameters this way)
        ...,
        metavar="RUN_DIR",
        help="Run directories (each holds scenario.toml, summary.json, timeseries.csv, submissions.csv).",
        show_default=False,
    ),
    out: Path | None = typer.Option(  # noqa: B008
        None,
        "--out",
        help="Where to write report.html and the PNGs. Default: the run directory itself for one run; "
        "<first run's parent>/comparison-<names> for several.",
    ),
    force: bool = typer.Option(False, "--force", help="Write into an --out directory that holds another run."),
) -> None:
    """Write report.html (figures, headline table, verdict) for one run, or a comparison of several; for a
    `stampede sensitivity` run directory, its bar charts and ranking again; for a `stampede plan` directory
    (plan.json), its question, answer, probes and the chosen value's figures again."""
    # Imported here so `stampede --help` does not pay for matplotlib.
    from reports import ReportError, write_report
    from reports.plan import is_plan_dir, write_plan_report
    from stampede.outdir import OutDirError, check_out_dir

    try:
        if out is not None:
            # Re-writing a run's own report is fine; writing over another run's files needs --force.
            own = out.resolve() in {path.resolve() for path in run_dirs}
            check_out_dir(out, force=force or own, markers=("summary.json",))
        plans = [path for path in run_dirs if is_plan_dir(path)]
        if plans and (len(run_dirs) > 1 or out is not None):
            raise ReportError(f"{plans[0]} is a plan directory (plan.json): its report is written inside it; "
                              f"report it on its own, without --out, e.g. stampede report {plans[0]}")
        sensitivity = [path for path in run_dirs if _is_sensitivity_dir(path)]
        if sensitivity and len(run_dirs) > 1:
            raise ReportError(f"{sensitivity[0]} is a sensitivity run (sensitivity.csv, no summary.json): "
                              f"report it on its own, e.g. stampede report {sensitivity[0]}")
        if plans:
            path = write_plan_report(plans[0])
        else:
            path = _sensitivity_report(sensitivity[0], out) if sensitivity else write_report(run_dirs, out)
    except (ReportError, OutDirError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    except OSError as error:  # the directory went away or filled up while writing
        typer.echo(f"error: --out {out}: cannot write the report ({error.strerror})", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"report written: {path}")


def _is_sensitivity_dir(path: Path) -> bool:
    return (path / "sensitivity.csv").is_file() and not (path / "summary.json").exists()


def _sensitivity_report(run_dir: Path, out: Path | None) -> Path:
    """The sensitivity run's report from its sensitivity.csv (charts and ranking made as `sensitivity` did)."""
    from reports import ReportError
    from reports.sensitivity import write_sensitivity_report
    from simulator.sensitivity import SensitivityError, ranking, read_sensitivity_csv

    source = run_dir / "sensitivity.csv"
    try:
        rows = read_sensitivity_csv(source.read_text(encoding="utf-8"), str(source))
    except SensitivityError as error:
        raise ReportError(str(error)) from None
    return write_sensitivity_report(run_dir, rows, ranking(rows), out)
