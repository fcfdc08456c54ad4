"""A comparison's decision in a few sentences, pure: which variants lost registrations and are out, which of
the rest is best on the deciding figure and by how much beyond the interval, which are indistinguishable from
it. The console (``stampede compare``) and the HTML report (``reports``) print the same sentences and sort
their rows by the same order, so the two never disagree.

A variant is *out* when it created fewer than ``1 − LOSS_TOLERANCE`` of the most any variant created: it
dead-lettered or turned registrations away, and so finished the few it kept sooner — its times and attempts
are not comparable. The rest are ranked by the mean p95 time to created (lower first); with replications on
the same seeds, "better" means the paired interval on the difference excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator.stats import Interval, metric_value, paired_difference
from simulator.units import duration_text

__all__ = ["DECIDING_PATH", "LOSS_TOLERANCE", "Candidate", "Decision", "decide"]

LOSS_TOLERANCE = 0.01  # out: created more than 1 % fewer than the most any variant created
DECIDING_PATH = "time_to_created_s.p95"
NAMED = 3  # lossy or indistinguishable variants named in a sentence before "and N more"


@dataclass(frozen=True)
class Candidate:
    """One variant: its label, its summary (means when replicated), and with replications its deciding
    figure in each replication with the replications' seeds (common random numbers pair them)."""

    label: str
    summary: dict[str, Any]
    replicated: tuple[tuple[Any, ...], tuple[float, ...]] | None = None  # (seeds, values)


@dataclass(frozen=True)
class Decision:
    order: list[int]
    """Variant indices in the decision's order: the variants that kept everything, best first, then the lossy
    ones, most created first."""
    lossy: set[int]
    sentences: list[str]


def _names(labels: Sequence[str]) -> str:
    shown = list(labels[:NAMED])
    more = len(labels) - len(shown)
    if more:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _losses(summary: dict[str, Any]) -> str:
    parts = [f"{metric_value(summary, 'submissions.' + key):,.0f} {words}"
             for key, words in (("dead_lettered", "dead-lettered"), ("rejected", "turned away"),
                                ("pending", "pending at the end"))
             if metric_value(summary, "submissions." + key) > 0]
    return ", ".join(parts) or "fewer created"


def decide(candidates: Sequence[Candidate], confidence: float = 0.95) -> Decision:
    """The decision over ``candidates`` (see the module docstring)."""
    created = [metric_value(c.summary, "submissions.created") for c in candidates]
    most = max((c for c in created if not math.isnan(c)), default=0.0)
    lossy = {i for i, c in enumerate(created) if math.isnan(c) or c < most * (1 - LOSS_TOLERANCE)}
    kept = [i for i in range(len(candidates)) if i not in lossy]
    p95 = [metric_value(c.summary, DECIDING_PATH) for c in candidates]
    kept.sort(key=lambda i: (math.isnan(p95[i]), p95[i] if not math.isnan(p95[i]) else 0.0, i))
    out = sorted(lossy, key=lambda i: (-(created[i] if not math.isnan(created[i]) else -1), i))
    sentences = []
    if lossy:
        worst = sorted(lossy, key=lambda i: created[i] if not math.isnan(created[i]) else -1)
        sentences.append(
            f"{len(lossy)} of {len(candidates)} variants lost registrations and are out of the ranking (†): "
            + "; ".join(f"{candidates[i].label} ({_losses(candidates[i].summary)})" for i in worst[:NAMED])
            + (f"; and {len(lossy) - NAMED} more" if len(lossy) > NAMED else "") + ".")
    elif len(candidates) > 1:
        sentences.append("No variant lost registrations: every one created within 1 % of the most.")
    if not kept:
        sentences.append("No variant kept its registrations, so none is ranked on time to created.")
        return Decision(out, lossy, sentences)
    best = kept[0]
    label = candidates[best].label
    if len(kept) == 1:
        if len(candidates) > 1:
            sentences.append(f"{label} is the only variant that kept them: p95 time to created "
                             f"{duration_text(p95[best])}.")
        return Decision(kept + out, lossy, sentences)
    same: list[tuple[int, Interval | None]] = []
    differ: list[tuple[int, Interval | None]] = []
    for other in kept[1:]:
        diff = _paired(candidates[other], candidates[best], confidence)
        if diff is None:
            (same if p95[other] == p95[best] else differ).append((other, None))
        else:
            (same if diff.contains(0.0) else differ).append((other, diff))
    runner = kept[1]
    gap = _paired(candidates[runner], candidates[best], confidence)
    if gap is None:
        if p95[runner] == p95[best]:
            tied = [label] + [candidates[i].label for i, _ in same]
            sentences.append(f"{_names(tied)} tie for the lowest p95 time to created ({duration_text(p95[best])}; "
                             "one run each).")
            same = []  # said
        else:
            sentences.append(
                f"{label} has the lowest p95 time to created: {duration_text(p95[best])}, "
                f"{duration_text(p95[runner] - p95[best])} lower than {candidates[runner].label} (one run each, "
                "no interval: add --replications to know whether that is beyond the noise).")
    elif gap.contains(0.0):
        sentences.append(
            f"{label} has the lowest mean p95 time to created ({duration_text(p95[best])}), but not beyond the "
            f"noise: {candidates[runner].label} is {_amount(gap)} slower ({confidence:.0%} paired interval, "
            "contains 0).")
    else:
        sentences.append(
            f"{label} is best on p95 time to created: {duration_text(p95[best])}, {_amount(gap)} below "
            f"{candidates[runner].label} ({confidence:.0%} paired interval over {gap.n} replications).")
    if same:
        plural = len(same) > 1
        words = (("give identical runs" if plural else "gives an identical run") if all(d is None for _, d in same)
                 else ("are" if plural else "is") + " indistinguishable from it")
        sentences.append(f"{_names([candidates[i].label for i, _ in same])} {words} on p95 time to created.")
    if differ and len(kept) > 2:
        last = kept[-1]
        sentences.append(f"Slowest of those that kept everything: {candidates[last].label}, p95 "
                         f"{duration_text(p95[last])}.")
    return Decision(kept + out, lossy, sentences)


def _paired(other: Candidate, best: Candidate, confidence: float) -> Interval | None:
    """The paired interval on other − best per replication (same seeds), or None for single runs."""
    if other.replicated is None or best.replicated is None or other.replicated[0] != best.replicated[0]:
        return None
    if len(other.replicated[1]) < 2:
        return None
    return paired_difference(other.replicated[1], best.replicated[1], confidence)


def _amount(diff: Interval) -> str:
    """"5.3 s ± 1.3 s": how much the runner-up's p95 is above the best's."""
    sign = "" if diff.mean >= 0 else "−"
    return f"{sign}{duration_text(abs(diff.mean))} ± {duration_text(diff.half_width)}"
