"""`stampede compare`'s console output: one row per variant, labelled by its varied values only, the columns
that are equal in every variant said once above the table, and (with replications) each variant's paired
difference from the baseline. Sized for an 80-column terminal."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from simulator.comparison import ComparisonRow
from simulator.decision import Decision
from simulator.stats import metric_value
from stampede import console

__all__ = ["COLUMNS", "print_comparison"]


def _count(value: float) -> str:
    """Compact above 99,999, so nine columns fit 80: "50,562", "123k", "1.23M"."""
    if math.isnan(value):
        return "—"
    if abs(value) < 100_000:
        return f"{value:,.0f}"
    if abs(value) < 1_000_000:
        return f"{value / 1000:.0f}k"
    return f"{value / 1_000_000:.3g}M"


def _duration(value: float) -> str:
    """Compact, so nine columns fit 80: "0.8s", "55.3m", "2.40h"."""
    if math.isnan(value):
        return "—"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.2f}h"


def _ratio(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


@dataclass(frozen=True)
class Column:
    heading: str
    words: str  # how the sentence above the table names it
    path: str
    text: Callable[[float], str]


COLUMNS = (
    Column("created", "created", "submissions.created", _count),
    Column("dead", "dead-lettered", "submissions.dead_lettered", _count),
    Column("rej", "rejected at validation", "submissions.rejected", _count),
    Column("pend", "pending at the end", "submissions.pending", _count),
    Column("last", "last created (after the first arrival)", "last_created_s", _duration),
    Column("p95", "p95 time to created", "time_to_created_s.p95", _duration),
    Column("429s", "Dataverse 429s", "dataverse.throttled", _count),
    Column("att", "attempts per created", "attempts_per_created", _ratio),
)
WIDTH = 80  # the table fits an 80-column terminal
DIFF_PATHS = ("submissions.created", "time_to_created_s.p95", "last_created_s")


def _binding(summary: dict[str, Any]) -> str:
    return str(summary.get("dataverse", {}).get("binding_limit", "—"))


def print_comparison(rows: Sequence[tuple[str, dict[str, Any]]], differences: Sequence[ComparisonRow] = (),
                     baseline: int = 0, replications: int = 1, confidence: float = 0.95,
                     target: Console | None = None, decision: Decision | None = None) -> None:
    """The decision's sentences first, then the variants table in the decision's order (lossy variants marked
    †); with ``differences`` (replications > 1), the paired differences from the baseline on the figures that
    decide most comparisons."""
    target = target or console.out
    if decision is not None:
        for sentence in decision.sentences:
            target.print(sentence, highlight=False, markup=False)
        target.print()
        marks = [" †" if i in decision.lossy else "" for i in decision.order]
        rows = [rows[i] for i in decision.order]
        baseline = decision.order.index(baseline)
    else:
        marks = [""] * len(rows)
    texts = {c.heading: [c.text(metric_value(s, c.path)) for _, s in rows] for c in COLUMNS}
    texts["binding"] = [_binding(s) for _, s in rows]
    words = {c.heading: c.words for c in COLUMNS} | {"binding": "binding limit"}
    shown = [h for h in texts if len(rows) == 1 or len(set(texts[h])) > 1]
    same = [f"{words[h]} {texts[h][0]}" for h in texts if h not in shown]  # said once, above the table
    title = f"{len(rows)} variants" + (f", {replications} replications each (means)" if replications > 1 else "")
    target.print(title, highlight=False)
    if same:
        target.print("same in every variant: " + " · ".join(same), highlight=False, soft_wrap=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=0)
    widths = {h: max(len(h), *(len(t) for t in texts[h])) for h in shown}
    longest_word = max((len(word) for label, _ in rows for word in (label + " †").split()), default=7)
    room = WIDTH - sum(w + 1 for w in widths.values()) - 2
    # the label wraps at " · " when 80 columns are tight, and folds inside a word only when it must
    table.add_column("variant", min_width=max(8, min(longest_word + 1, room)), overflow="fold")
    for heading in shown:
        table.add_column(heading, justify="left" if heading == "binding" else "right", no_wrap=True,
                         min_width=widths[heading])
    for index, (label, _) in enumerate(rows):
        marker = " (base)" if differences and index == baseline else ""
        table.add_row(label + marks[index] + marker, *(texts[h][index] for h in shown))
    target.print(table)
    legend = [f"{h} = {words[h]}" for h in shown if h != "binding" and h != words[h]]
    if decision is not None and decision.lossy:
        legend.append("† lost registrations: out of the ranking")
    target.print(" · ".join(legend), highlight=False, style="dim")
    if differences:
        _print_differences(rows, marks, differences, baseline, replications, confidence, target)


def _diff_text(row: ComparisonRow, path: str) -> str:
    if math.isnan(row.diff):
        return "not reached"
    if row.indistinguishable:
        return "indistinguishable"
    half = (row.diff_ci_high - row.diff_ci_low) / 2
    if path in ("time_to_created_s.p95", "last_created_s"):
        sign = "+" if row.diff >= 0 else "−"
        return f"{sign}{_duration(abs(row.diff))}±{_duration(half)}"
    return f"{row.diff:+,.0f}±{half:,.0f}"


def _print_differences(rows: Sequence[tuple[str, dict[str, Any]]], marks: Sequence[str],
                       differences: Sequence[ComparisonRow], baseline: int, replications: int, confidence: float,
                       target: Console) -> None:
    by = {(r.variant, r.metric): r for r in differences}
    base_label = rows[baseline][0]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=0,
                  title=f"difference from {base_label} (paired, {confidence:.0%} interval, n={replications})",
                  title_justify="left")
    table.add_column("variant", overflow="fold")
    headings = {"submissions.created": "created", "time_to_created_s.p95": "p95 to created",
                "last_created_s": "last created"}
    for path in DIFF_PATHS:
        table.add_column(headings[path], justify="right", no_wrap=True)
    for index, (label, _) in enumerate(rows):
        if index == baseline:
            continue
        cells = [(_diff_text(by[(label, p)], p) if (label, p) in by else "—") for p in DIFF_PATHS]
        table.add_row(label + marks[index], *cells)
    target.print(table)
