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
    """Write report.html (figures, headline table, verdict) for one run, or a comparison of several."""
    # Imported here so `stampede --help` does not pay for matplotlib.
    from reports import ReportError, write_report
    from stampede.outdir import OutDirError, check_out_dir

    try:
        if out is not None:
            # Re-writing a run's own report is fine; writing over another run's files needs --force.
            own = out.resolve() in {path.resolve() for path in run_dirs}
            check_out_dir(out, force=force or own, markers=("summary.json",))
        path = write_report(run_dirs, out)
    except (ReportError, OutDirError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    except OSError as error:  # the directory went away or filled up while writing
        typer.echo(f"error: --out {out}: cannot write the report ({error.strerror})", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"report written: {path}")
