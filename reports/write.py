"""``write_report``: the one place in the reports package that writes files.

One run directory → ``report.html`` and one PNG per figure inside it. Several → a comparison report
(``report.html`` + PNGs) in ``out_dir``, by default ``<first run's parent>/comparison-<run names>``.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from reports.comparison import comparison_charts, comparison_table, variant_labels, varied_settings
from reports.errors import ReportError
from reports.figures import run_charts
from reports.html import Picture, comparison_html, run_html
from reports.plotting import Chart
from reports.replicated import load_replicated, replication_charts
from reports.rundata import RunData, load_run
from reports.stars import difference_sentences
from reports.verdict import Verdict, comparison_verdict, run_verdict
from simulator.decision import DECIDING_PATH, Candidate, Decision, decide

__all__ = ["REPORT_FILE", "default_comparison_dir", "render", "run_pictures", "write_report"]

REPORT_FILE = "report.html"
_MAX_NAME = 80


def render(chart: Chart, dpi: int = 100) -> Picture:
    """The chart's figure as PNG bytes (in memory)."""
    buffer = io.BytesIO()
    chart.figure.savefig(buffer, format="png", dpi=dpi)
    return Picture(chart.slug, chart.title, chart.caption, buffer.getvalue())


def default_comparison_dir(runs: Sequence[RunData]) -> Path:
    names = [run.name for run in runs]
    joined = "-vs-".join(names)
    if len(joined) > _MAX_NAME:
        digest = hashlib.sha1("\n".join(str(run.path.resolve()) for run in runs).encode()).hexdigest()[:8]
        joined = f"{names[0][:60]}-and-{len(names) - 1}-more-{digest}"
    return runs[0].path.parent / f"comparison-{joined}"


def write_report(run_dirs: Sequence[str | Path], out_dir: str | Path | None = None) -> Path:
    """Read the run directories and write the report; returns the path of ``report.html``.

    One run: the report goes into ``out_dir`` if given, else into the run directory itself.
    Several runs: a comparison (one line per variant, table with the best of each column marked) goes into
    ``out_dir``, by default next to the first run as ``comparison-<names>``.
    Raises :class:`reports.ReportError` (NotARunDirectory, RunDataError) naming the file at fault.
    """
    if not run_dirs:
        raise ReportError("no run directory given; pass at least one, e.g. runs/email-blast-20250101T090000")
    runs = [load_run(path) for path in run_dirs]
    if len(runs) == 1:
        (run,) = runs
        target = Path(out_dir) if out_dir is not None else run.path
        pictures = run_pictures(run)
        page = run_html(run, run_verdict(run), pictures)
    else:
        target = Path(out_dir) if out_dir is not None else default_comparison_dir(runs)
        varied = varied_settings(runs)
        labels = variant_labels(runs, varied)
        decision = comparison_decision(runs, labels)
        pictures = [render(chart) for chart in comparison_charts(runs, labels, varied, decision)]
        links = [_link(target, run) for run in runs]
        page = comparison_html(
            runs,
            comparison_table(runs, labels),
            _with_differences(comparison_verdict(runs, labels, varied), runs, labels),
            pictures,
            links,
            decision,
        )
    target.mkdir(parents=True, exist_ok=True)
    for picture in pictures:
        (target / f"{picture.slug}.png").write_bytes(picture.png)
    report = target / REPORT_FILE
    report.write_text(page, encoding="utf-8")
    return report


def run_pictures(run: RunData) -> list[Picture]:
    """One run's figures as its report shows them (a replicated run's sample path labelled so, then its bands)."""
    return [render(chart) for chart in sample_path(run, run_charts(run)) + replication_charts(run)]


def sample_path(run: RunData, charts: list[Chart]) -> list[Chart]:
    """A replicated run's single-run figures draw replication 1 (its timeseries.csv and submissions.csv), while
    the headline holds means: each says so in its title and caption, so no figure passes for the table above it."""
    block = run.summary_value("replications")
    if not isinstance(block, dict):
        return charts
    seeds = block.get("seeds") or ["?"]
    note = (f"One sample path: the curves are replication 1 (seed {seeds[0]}) of {block.get('n')}; the figures "
            "written on them are the headline's, means over all replications with their intervals. ")
    return [replace(chart, title=f"{chart.title} (replication 1: one sample path)", caption=note + chart.caption)
            for chart in charts]


def comparison_decision(runs: Sequence[RunData], labels: Sequence[str]) -> Decision:
    """The decision ``stampede compare`` prints, from the run directories (simulator/decision.py)."""
    candidates = []
    for run, label in zip(runs, labels, strict=True):
        data = load_replicated(run)
        replicated = None
        if data is not None and len(data.rows) > 1:
            seeds = tuple(row["seed"] for row in data.rows)
            values = tuple(float(row.get(DECIDING_PATH) or "nan") for row in data.rows)
            replicated = (seeds, values)
        confidence = data.confidence if data is not None else 0.95
        candidates.append(Candidate(label, run.summary, replicated))
    return decide(candidates, confidence)


def _with_differences(verdict: Verdict, runs: Sequence[RunData], labels: Sequence[str]) -> Verdict:
    """The verdict plus, for replicated variants, their paired differences from the first (reports/stars.py)."""
    extra = difference_sentences(runs, labels)
    return Verdict([*verdict.sentences, *extra], verdict.ranking) if extra else verdict


def _link(target: Path, run: RunData) -> str | None:
    own = run.path / REPORT_FILE
    if not own.is_file():
        return None
    return Path(os.path.relpath(own.resolve(), target.resolve())).as_posix()
