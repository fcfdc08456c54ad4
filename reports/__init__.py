"""Reports: figures (matplotlib), the HTML report and comparisons, read from run directories.

Public surface::

    write_report(run_dirs, out_dir=None) -> Path        the only function that writes files; returns report.html
    load_run(path) -> RunData                            a run directory as numpy arrays and dicts
    run_charts(run) -> list[Chart]                       the single-run figures with titles and captions (pure)
    comparison_charts(runs, labels, varied) -> list[Chart]   one line per variant on each figure (pure)
    cumulative_figure / throughput_figure / throttling_figure / cache_figure / latency_figure (run) -> Figure   (pure)
    cache_settings_figure(runs, labels, varied) -> Figure    hit ratio, 429 share, created, p95 vs cache TTL
    run_verdict(run) / comparison_verdict(runs, labels, varied) -> Verdict   the verdict in words
    varied_settings(runs), variant_labels(runs), comparison_table(runs, labels), rank(runs)

The data behind each figure is in ``reports.series`` (what the tests check); headline figures, their formats
and which direction is better are in ``reports.headline``.

Errors: ReportError ├── NotARunDirectory └── RunDataError (see reports.errors).

The package reads run directories only (it may also use ``simulator.records`` / ``simulator.metrics``, and
nothing else from the project). Figures are ``matplotlib.figure.Figure`` objects on the Agg canvas; pyplot
is never imported.
"""

from reports.comparison import (
    cache_settings_figure,
    comparison_charts,
    comparison_table,
    variant_labels,
    varied_settings,
)
from reports.errors import NotARunDirectory, ReportError, RunDataError
from reports.figures import (
    cache_figure,
    cumulative_figure,
    latency_figure,
    run_charts,
    throttling_figure,
    throughput_figure,
)
from reports.plotting import Chart
from reports.rundata import RunData, Submissions, Timeseries, is_run_dir, load_run
from reports.verdict import Verdict, comparison_verdict, rank, run_verdict
from reports.write import REPORT_FILE, default_comparison_dir, write_report

__all__ = [
    "REPORT_FILE",
    "Chart",
    "NotARunDirectory",
    "ReportError",
    "RunData",
    "RunDataError",
    "Submissions",
    "Timeseries",
    "Verdict",
    "cache_figure",
    "cache_settings_figure",
    "comparison_charts",
    "comparison_table",
    "comparison_verdict",
    "cumulative_figure",
    "default_comparison_dir",
    "is_run_dir",
    "latency_figure",
    "load_run",
    "rank",
    "run_charts",
    "run_verdict",
    "throttling_figure",
    "throughput_figure",
    "variant_labels",
    "varied_settings",
    "write_report",
]
