"""Which value of a comparison column earns its star, and which values are flagged instead.

Two rules keep a star honest:

- **Losses first.** A variant that loses registrations (dead-lettered, left pending, or turned away more than
  the variant that turned away fewest: :func:`simulator.decision.losses`) finishes the rest sooner and with
  fewer attempts, so none of its figures is comparable. Every column ranks only the variants that lost
  nothing; the others' figures are flagged, not starred.
- **Beyond the noise.** With replications, the best value is starred only where it beats the runner-up
  beyond the interval: the paired-t interval on their per-replication differences (same seeds: common
  random numbers) excludes 0; runs on different seeds need disjoint intervals. A single run has no
  interval, so there the best value is starred as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from reports.headline import Metric, best_indices
from reports.replicated import METRIC_PATHS, load_replicated
from reports.rundata import RunData
from simulator.decision import losses
from simulator.stats import interval, paired_difference

__all__ = ["complete_rows", "stars"]


def complete_rows(runs: Sequence[RunData]) -> set[int]:
    """Variants that lost nothing (the decision's rule, simulator/decision.py)."""
    return set(range(len(runs))) - set(losses([run.summary for run in runs]))


def _per_replication(run: RunData, metric: Metric) -> tuple[list[str], list[float]] | None:
    """(seeds, values) of the metric in each replication, or None for a single run."""
    data = load_replicated(run)
    if data is None or len(data.rows) < 2:
        return None
    seeds = [row["seed"] for row in data.rows]
    if metric.key == "throttled_share":
        throttled = [_float(row.get("dataverse.throttled")) for row in data.rows]
        admitted = [_float(row.get("dataverse.admitted")) for row in data.rows]
        values = [t / (a + t) if a + t else math.nan for t, a in zip(throttled, admitted, strict=True)]
    elif metric.key in METRIC_PATHS:
        values = [_float(row.get(METRIC_PATHS[metric.key])) for row in data.rows]
    else:
        return None
    return seeds, values


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def confidence_of(run: RunData) -> float:
    """The level the run was made with (``--confidence``, summary.json's ``replications.confidence``)."""
    data = load_replicated(run)
    return data.confidence if data is not None else 0.95


def _beyond_noise(best: tuple[list[str], list[float]], runner_up: tuple[list[str], list[float]],
                  confidence: float) -> bool:
    """Whether ``best`` beats ``runner_up`` beyond the noise: on the same seeds, comparison's paired test
    (:func:`simulator.stats.paired_difference`) excludes 0; on different seeds, the two intervals are disjoint.
    A figure some replication did not reach is never beyond the noise."""
    (seeds_a, a), (seeds_b, b) = best, runner_up
    if any(math.isnan(v) for v in (*a, *b)):
        return False
    if seeds_a == seeds_b:
        diff = paired_difference(a, b, confidence)
        return diff is not None and not diff.contains(0.0)
    first, second = interval(a, confidence), interval(b, confidence)
    return first.high < second.low or second.high < first.low


def stars(runs: Sequence[RunData], metric: Metric, column: Sequence[Any],
          complete: set[int]) -> tuple[set[int], set[int]]:
    """(rows starred, rows flagged) in one column."""
    # a star goes only to a variant that lost nothing, in every column: the fewest "rejected" or the lowest p95
    # of a variant that dead-lettered half its registrations is no merit
    ranked_rows = complete
    flagged = set() if metric.better is None else set(range(len(runs))) - complete
    candidates = sorted(ranked_rows)
    values = [column[i] for i in candidates]
    best = {candidates[i] for i in best_indices(values, metric.better)}
    if len(candidates) == 1 and flagged and isinstance(values[0], int | float) and not math.isnan(values[0]):
        return set(candidates), flagged  # the only variant that kept (nearly) everything
    if len(best) != 1:  # nothing ranked, or a tie
        return (best if _all_single(runs, best) else set()), flagged
    [winner] = best
    known = [(i, column[i]) for i in candidates if i != winner and isinstance(column[i], int | float)
             and not math.isnan(column[i])]
    if not known:
        return best, flagged
    pick = max if metric.better == "higher" else min
    runner_up = pick(known, key=lambda item: item[1])[0]
    mine, theirs = _per_replication(runs[winner], metric), _per_replication(runs[runner_up], metric)
    if mine is None or theirs is None:
        return best, flagged  # a single run: no interval to beat
    confidence = min(confidence_of(runs[winner]), confidence_of(runs[runner_up]))
    return (best if _beyond_noise(mine, theirs, confidence) else set()), flagged


def _all_single(runs: Sequence[RunData], rows: set[int]) -> bool:
    """A tie for best is starred only between single runs (as before); replicated ties are noise."""
    return all(load_replicated(runs[i]) is None for i in rows)


DIFFERENCE_METRICS = (("created", "registrations created"), ("p95", "p95 time to created"))


def difference_sentences(runs: Sequence[RunData], labels: Sequence[str]) -> list[str]:
    """With replications on the same seeds: each variant against the first, on created and p95, as the
    paired difference and its interval — "indistinguishable" where the interval contains 0."""
    from reports.headline import HEADLINE, format_count
    from reports.headline import format_duration as duration

    sentences: list[str] = []
    metrics = {m.key: m for m in HEADLINE}
    for key, words in DIFFERENCE_METRICS:
        base = _per_replication(runs[0], metrics[key])
        if base is None:
            return []
        for run, label in zip(runs[1:], labels[1:], strict=True):
            other = _per_replication(run, metrics[key])
            if other is None or other[0] != base[0]:
                continue
            level = min(confidence_of(runs[0]), confidence_of(run))
            diff = paired_difference(other[1], base[1], level)
            if diff is None or diff.n < 2:
                continue
            show = duration if key == "p95" else format_count
            sign = "+" if diff.mean >= 0 else "−"
            amount = f"{sign}{show(abs(diff.mean))} ± {show(diff.half_width)}"
            if diff.contains(0.0):
                sentences.append(f"{label} and {labels[0]} are indistinguishable on {words} ({amount} over "
                                 f"{diff.n} paired replications; the {level:.0%} interval contains 0).")
            else:
                sentences.append(f"{label} against {labels[0]}: {words} {amount} ({level:.0%} paired "
                                 f"interval over {diff.n} replications on the same seeds).")
    return sentences
