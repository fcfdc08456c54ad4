"""Comparing variants, pure: short labels from the varied values, and every variant × headline metric with
its interval and its paired difference from a baseline (``comparison.csv``, names fixed by DESIGN.md).

Replication *i* of every variant runs on the same seed and the same drawn inputs, so the difference
``variant_i − baseline_i`` removes the noise they share; its paired-t interval says whether the variants
differ at all ("indistinguishable" when it contains 0). With one replication there is no interval: the
interval columns equal the mean, and the difference is the plain difference.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from simulator.replications import ReplicationResult, metric_columns
from simulator.stats import HEADLINE_METRICS, interval, paired_difference
from simulator.sweep import Vary, grid

__all__ = ["COMPARISON_COLUMNS", "ComparisonRow", "comparison_rows", "comparison_csv", "variant_labels",
           "short_value"]

COMPARISON_COLUMNS = ("variant", "metric", "mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high")
# Boolean settings read better as a word and on/off than as key=true ("RA on" for honor_retry_after=true).
_BOOLEAN_NAMES = {"honor_retry_after": "RA", "extend_retry_after": "extend RA", "affinity": "affinity",
                  "adaptive": "adaptive", "waitlist": "waitlist"}
_NUMBER = re.compile(r"^[+-]?\d[\d_.]*(ms|s|m|h|d)?$")


def short_value(key: str, value: str) -> str:
    """One varied value as a label part: words as they are ("full-jitter"), booleans as "RA on",
    numbers and durations with the key's last part ("app_users=4", "cache_ttl=1m")."""
    tail = key.rsplit(".", 1)[-1]
    lowered = value.lower()
    if lowered in ("true", "false"):
        return f"{_BOOLEAN_NAMES.get(tail, tail.replace('_', ' '))} {'on' if lowered == 'true' else 'off'}"
    if _NUMBER.match(value):
        return f"{tail}={value}"
    return value


def variant_labels(varies: Sequence[Vary]) -> list[str]:
    """A label per variant of the grid (``sweep.grid`` order) from its varied values only, e.g.
    ``none · RA on``; a key given one value is the same in every variant, so it is left out."""
    varying = {vary.key for vary in varies if len(set(vary.values)) > 1}
    labels = []
    for combo in grid(list(varies)):
        parts = [short_value(key, value) for key, _, value in (o.partition("=") for o in combo) if key in varying]
        labels.append(" · ".join(parts) or "base")
    if len(set(labels)) < len(labels):  # a value listed twice: number the variants
        labels = [f"{label} #{i + 1}" for i, label in enumerate(labels)]
    return labels


@dataclass(frozen=True)
class ComparisonRow:
    variant: str
    metric: str
    mean: float
    ci_low: float
    ci_high: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    n: int

    @property
    def indistinguishable(self) -> bool:
        """The paired interval on the difference contains 0 (with one replication: the values are equal)."""
        return self.diff_ci_low <= 0.0 <= self.diff_ci_high

    @property
    def is_baseline_like(self) -> bool:
        return self.diff == 0.0 and self.diff_ci_low == 0.0 and self.diff_ci_high == 0.0


def comparison_rows(labels: Sequence[str], results: Sequence[Sequence[ReplicationResult]], baseline: int = 0,
                    confidence: float = 0.95, paths: Sequence[str] = HEADLINE_METRICS) -> list[ComparisonRow]:
    """Every variant × metric (variant-major): the mean and its interval, and the paired difference from
    variant ``baseline`` (replication i against replication i). A metric that some replication did not reach
    (a percentile among registrations never created; no last-created time) has no mean there: its cells are
    empty (NaN), and so is a difference from, or to, a variant that did not reach it; a metric no replication
    of a variant reached has no row."""
    columns = [metric_columns(r, paths) for r in results]
    base = columns[baseline]
    rows = []
    for label, column in zip(labels, columns, strict=True):
        for path in paths:
            values, reference = column[path], base[path]
            reached = [v for v in values if not math.isnan(v)]
            if not reached:
                continue
            nan3 = (math.nan, math.nan, math.nan)
            m = interval(values, confidence) if len(reached) == len(values) else None
            diff = paired_difference(values, reference, confidence)
            d = (diff.mean, diff.low, diff.high) if diff is not None else nan3
            rows.append(ComparisonRow(label, path, *((m.mean, m.low, m.high) if m else nan3), *d, n=len(reached)))
    return rows


def _cell(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.6g}"


def comparison_csv(rows: Sequence[ComparisonRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COMPARISON_COLUMNS)
    for row in rows:
        writer.writerow((row.variant, row.metric, _cell(row.mean), _cell(row.ci_low), _cell(row.ci_high),
                         _cell(row.diff), _cell(row.diff_ci_low), _cell(row.diff_ci_high)))
    return out.getvalue()
