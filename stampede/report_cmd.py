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
) -> None:
    """Write report.html (figures, headline table, verdict) for one run, or a comparison of several."""
    # Imported here so `stampede --help` does not pay for matplotlib.
    from reports import ReportError, write_report

    try:
        path = write_report(run_dirs, out)
    except ReportError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"report written: {path}")
