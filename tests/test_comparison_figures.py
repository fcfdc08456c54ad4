"""A comparison's figures and table stay readable with many variants: at most a handful of lines (best,
baseline, worst — the rest in the table), the cache panel places strategies apart, and a time column shows
enough digits to see a difference the decision names."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from fixtures_runs import make_run

from reports.comparison import cache_settings_figure, comparison_table, shown_variants
from reports.rundata import load_run
from simulator.decision import Decision


def test_thirty_variants_draw_the_best_the_baseline_and_the_worst_only() -> None:
    labels = [f"v{i}" for i in range(30)]
    order = [5, 3, *[i for i in range(30) if i not in (5, 3, 0, 29)], 0, 29]
    decision = Decision(order, lossy={0, 29}, sentences=[])
    indices, names, note = shown_variants(labels, decision)
    assert indices == [5, 28, 0, 29]  # best, slowest that lost nothing, baseline, lost most — decision order
    assert names == ["v5 (best)", "v28 (slowest that lost nothing)", "v0 † (baseline)", "v29 † (lost most)"]
    assert note.startswith("Showing 4 of 30 variants")
    few = shown_variants(labels[:6], Decision([1, 0, 2, 3, 4, 5], {5}, []))
    assert few == ([0, 1, 2, 3, 4, 5], ["v0", "v1", "v2", "v3", "v4", "v5 †"], "")


def test_the_cache_panel_places_each_strategy_at_its_own_place(tmp_path: Path) -> None:
    """Varying api.cache alone used to put every strategy at TTL 10 min, on top of each other."""
    strategies = ["none", "ttl", "shared"]
    runs = [load_run(make_run(tmp_path, name, cache=name)) for name in strategies]
    figure = cache_settings_figure(runs, strategies, {"api.cache": strategies})
    try:
        first = figure.axes[0]
        assert [t.get_text() for t in first.get_xticklabels()] == strategies
        [line] = first.get_lines()
        assert list(np.asarray(line.get_xdata())) == [0.0, 1.0, 2.0]
    finally:
        plt.close(figure)


def test_a_time_column_shows_the_digits_that_tell_its_values_apart(tmp_path: Path) -> None:
    """p95 70.55 min against 70.57 min both round to "1 h 11 min"; the column then shows seconds."""
    a, b = (make_run(tmp_path, name, dead_share=0.0) for name in ("a", "b"))
    runs = [load_run(a), load_run(b)]
    for run, p95_s in zip(runs, (4_233.0, 4_234.5), strict=True):
        run.summary["time_to_created_s"]["p95"] = p95_s
    table = comparison_table(runs, ["a", "b"])
    column = [m.key for m in table.metrics].index("p95")
    assert [table.text(0, column), table.text(1, column)] == ["1 h 10 min 33 s", "1 h 10 min 34 s"]
