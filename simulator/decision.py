"""A comparison's decision in a few sentences, pure: which variants lost registrations and are out, which of
the rest is best on the deciding figure and by how much beyond the interval, which are indistinguishable from
it. The console (``stampede compare``) and the HTML report (``reports``) print the same sentences, sort their
rows by the same order and star only the same variants, so the two never disagree.

A variant is *out* (†) when it lost anything a user would count as lost: it dead-lettered a registration, left
an accepted one not created at the horizon (pending), or turned away more than the fewest any variant turned
away — the fewest among the variants that dead-lettered and left pending nothing (a variant that dead-letters
most of its registrations frees the limit for validation reads and so turns fewer away; that is no bar for
the others). Turn-aways up to that fewest (a full event, a session at capacity, validation reads every
variant's traffic throttles) are the scenario's, not a variant's fault, so they put no one out. A lossy
variant finished the few it kept sooner, so its times and attempts are not comparable, and it earns no star
or "best" anywhere. With replications these are the means over the replications: a count is never negative,
so a mean above 0 is a loss in at least one replication — any loss in any replication puts the variant out.

The rest are ranked by the mean p95 time to created (lower first); with replications on the same seeds,
"better" means the paired interval on the difference excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator.stats import Interval, metric_value, paired_difference
from simulator.units import duration_text

__all__ = ["DECIDING_PATH", "Candidate", "Decision", "decide", "losses"]

DECIDING_PATH = "time_to_created_s.p95"
NAMED = 3  # lossy or indistinguishable variants named in a sentence before "and N more"
SAME_COUNT = 1e-9  # relative: two mean counts this close are the same count (float means of equal integers)


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
    """Variant indices in the decision's order: the variants that lost nothing, best first, then the lossy
    ones, most created first."""
    lossy: set[int]
    sentences: list[str]


def _count(summary: dict[str, Any], key: str) -> float:
    return metric_value(summary, "submissions." + key)


def losses(summaries: Sequence[dict[str, Any]]) -> dict[int, str]:
    """The variants that lost registrations, each with what it lost ("12 dead-lettered, 3 turned away beyond the
    fewest"); see the module docstring. A summary without counts is lost ("no result")."""
    rejected = [_count(s, "rejected") for s in summaries]
    fewest = fewest_turned_away(summaries)
    lost: dict[int, str] = {}
    for i, summary in enumerate(summaries):
        dead, pending = _count(summary, "dead_lettered"), _count(summary, "pending")
        if math.isnan(_count(summary, "created")):
            lost[i] = "no result"
            continue
        extra = rejected[i] - fewest
        parts = [text for amount, text in (
            (dead, f"{_amount_count(dead)} dead-lettered"),
            (pending, f"{_amount_count(pending)} not created at the end"),
            (extra if extra > SAME_COUNT * max(1.0, fewest) else 0.0,
             f"{_amount_count(extra)} more turned away" + (" than the fewest" if fewest else "")),
        ) if amount > 0]
        if parts:
            lost[i] = ", ".join(parts)
    return lost


def fewest_turned_away(summaries: Sequence[dict[str, Any]]) -> float:
    """The fewest turned away by a variant that dead-lettered and left pending nothing (by any variant when
    none did): the turn-aways no variant is blamed for."""
    def clean(summary: dict[str, Any]) -> bool:
        return _count(summary, "dead_lettered") == 0 and _count(summary, "pending") == 0

    pool = [s for s in summaries if clean(s)] or list(summaries)
    return min((r for r in (_count(s, "rejected") for s in pool) if not math.isnan(r)), default=0.0)


def _main_reason(summary: dict[str, Any]) -> str:
    reasons = summary.get("rejected_by")
    if not isinstance(reasons, dict) or not reasons:
        return ""
    reason = str(max(reasons, key=lambda key: reasons[key] if isinstance(reasons[key], int | float) else 0))
    return f" (mostly \"{reason.split(':')[0]}\")"


def _amount_count(value: float) -> str:
    """A count, or a mean count over replications ("0.05" when one replication in 20 lost one)."""
    return f"{value:,.0f}" if float(value).is_integer() or value >= 100 else f"{value:.3g}"


def _names(labels: Sequence[str]) -> str:
    shown = list(labels[:NAMED])
    more = len(labels) - len(shown)
    if more:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def decide(candidates: Sequence[Candidate], confidence: float = 0.95) -> Decision:
    """The decision over ``candidates`` (see the module docstring): three to five sentences."""
    summaries = [c.summary for c in candidates]
    lost = losses(summaries)
    lossy = set(lost)
    created = [_count(s, "created") for s in summaries]
    kept = [i for i in range(len(candidates)) if i not in lossy]
    p95 = [metric_value(s, DECIDING_PATH) for s in summaries]
    kept.sort(key=lambda i: (math.isnan(p95[i]), p95[i] if not math.isnan(p95[i]) else 0.0, i))
    out = sorted(lossy, key=lambda i: (-(created[i] if not math.isnan(created[i]) else -1), i))
    replicated = any(c.replicated is not None for c in candidates)
    sentences = [_loss_sentence(candidates, lost, out, replicated)] if len(candidates) > 1 else []
    fewest = fewest_turned_away(summaries)
    if fewest > 0 and kept:
        example = candidates[kept[0]].summary
        sentences.append(f"The {_amount_count(fewest)} turned away by every variant that lost nothing"
                         f"{_main_reason(example)} are the scenario's, held against none.")
    if not kept:
        sentences.append("No variant kept all its registrations, so none is ranked on time to created.")
        return Decision(out, lossy, sentences)
    return Decision(kept + out, lossy, sentences + _ranking_sentences(candidates, kept, p95, confidence))


def _loss_sentence(candidates: Sequence[Candidate], lost: dict[int, str], out: list[int], replicated: bool) -> str:
    means = "; means over the replications, so a loss in any replication counts" if replicated else ""
    if not lost:
        return "No variant lost a registration: none dead-lettered, left one pending, or turned away more than " \
               "the others" + (" (" + means[2:] + ")" if means else "") + "."
    created = [_count(c.summary, "created") for c in candidates]
    worst = sorted(out, key=lambda i: (created[i] if not math.isnan(created[i]) else -1.0, i))  # fewest first
    named = "; ".join(f"{candidates[i].label} ({lost[i]})" for i in worst[:NAMED])
    more = f"; and {len(lost) - NAMED} more" if len(lost) > NAMED else ""
    return (f"{len(lost)} of {len(candidates)} variants lost registrations and are out (†, never starred"
            f"{means}): {named}{more}.")


def _ranking_sentences(candidates: Sequence[Candidate], kept: list[int], p95: list[float],
                       confidence: float) -> list[str]:
    """Who is best among the variants that lost nothing, who is beyond the noise from it, who is not."""
    best = kept[0]
    label = candidates[best].label
    if len(kept) == 1:
        if len(candidates) == 1:
            return []
        return [f"{label} is the only variant that lost nothing: p95 time to created {duration_text(p95[best])}."]
    same: list[int] = []
    differ: list[tuple[int, Interval | None]] = []
    for other in kept[1:]:
        diff = _paired(candidates[other], candidates[best], confidence)
        if (diff is None and p95[other] == p95[best]) or (diff is not None and diff.contains(0.0)):
            same.append(other)
        else:
            differ.append((other, diff))
    of = f"of {duration_text(p95[best])}"
    sentences = []
    runner, gap = differ[0] if not same else (same[0], _paired(candidates[same[0]], candidates[best], confidence))
    if not differ and gap is None:  # single runs, all equal
        tied = [label] + [candidates[i].label for i in same]
        return [f"{_names(tied)} give identical runs on p95 time to created ({duration_text(p95[best])})."]
    if gap is not None and gap.contains(0.0):
        sentences.append(f"{label} has the lowest mean p95 time to created ({duration_text(p95[best])}), but not "
                         f"beyond the noise: {candidates[runner].label} is {_amount(gap)} slower ({confidence:.0%} "
                         "paired interval, contains 0).")
    elif same:  # single runs tied for best
        tied = [label] + [candidates[i].label for i in same]
        sentences.append(f"{_names(tied)} tie for the lowest p95 time to created ({duration_text(p95[best])}; "
                         "one run each).")
    elif gap is None:
        sentences.append(f"{label} has the lowest p95 time to created: {duration_text(p95[runner] - p95[best])} "
                         f"lower than {candidates[runner].label}, {of} (one run each, no interval: add "
                         "--replications to know whether that is beyond the noise).")
    else:
        sentences.append(f"{label} is best on p95 time to created: {_amount(gap)} lower than "
                         f"{candidates[runner].label}, {of} ({confidence:.0%} paired interval over {gap.n} "
                         "replications).")
    if same and gap is not None and len(same) > 1:
        sentences.append(f"{_names([candidates[i].label for i in same])} are indistinguishable from it.")
    slower = [(i, d) for i, d in differ if i != runner]
    if slower:
        beyond = "beyond their intervals " if any(d is not None for _, d in slower) else ""
        shown = "; ".join(f"{candidates[i].label} +{_amount(d) if d is not None else duration_text(p95[i] - p95[best])}"
                          for i, d in slower[:NAMED])
        more = f"; and {len(slower) - NAMED} more (in the table)" if len(slower) > NAMED else ""
        sentences.append(f"Slower {beyond}than {label}: {shown}{more}.")
    return sentences


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
