"""The verdict in words: what limits a run, and why variants of a comparison rank as they do.

Every sentence is computed from the run's summary and scenario; nothing is said that the numbers do not show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reports.headline import (
    format_count,
    format_duration,
    format_number,
    format_rate,
    format_share,
    show_value,
    throttled_share,
)
from reports.rundata import RunData, duration_s
from simulator.metrics import turned_away

__all__ = ["Verdict", "comparison_verdict", "demand_cut_sentences", "rank", "run_verdict"]


@dataclass(frozen=True)
class Verdict:
    """Sentences to show as a list; ``ranking`` (comparisons only) in order, best first."""

    sentences: list[str]
    ranking: list[str] = field(default_factory=list)


def _number(run: RunData, dotted: str) -> float | None:
    value = run.summary_value(dotted)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _plural(count: float, word: str, plural: str | None = None) -> str:
    return f"{format_count(count)} {word if count == 1 else plural or word + 's'}"


def _limit_phrase(run: RunData, limit: str) -> str:
    window = duration_s(run.scenario_value("dataverse.window"))
    per = f" per {format_duration(window)}" if window else ""
    if limit == "requests":
        value = run.scenario_value("dataverse.requests_limit")
        return f"requests limit ({format_count(value)}{per} per key)" if value else "requests limit"
    if limit == "execution":
        value = duration_s(run.scenario_value("dataverse.execution_limit"))
        return f"execution-time limit ({format_duration(value)}{per} per key)" if value else "execution-time limit"
    if limit == "concurrency":
        value = run.scenario_value("dataverse.concurrency_limit")
        return f"concurrency limit ({value} at once per key)" if value else "concurrency limit"
    return f"{limit} limit"


def limits_sentence(run: RunData) -> str:
    binding = run.summary_value("dataverse.binding_limit", "none")
    admitted = _number(run, "dataverse.admitted") or 0.0
    throttled = _number(run, "dataverse.throttled") or 0.0
    if throttled == 0 and binding in ("none", None):
        text = f"No Dataverse limit was reached: all {_plural(admitted, 'call')} were admitted."
    else:
        by = run.summary_value("dataverse.throttled_by", {}) or {}
        split = ", ".join(f"{format_count(by.get(k, 0))} by {k}" for k in ("requests", "execution", "concurrency"))
        head = (
            f"The Dataverse {_limit_phrase(run, binding)} binds"
            if binding not in ("none", None)
            else "No single Dataverse limit binds"
        )
        text = (
            f"{head}: {format_count(throttled)} of {format_count(admitted + throttled)} calls "
            f"({format_share(throttled_share(run))}) were throttled ({split})."
        )
    failed = _number(run, "dataverse.failed")
    if failed:
        text += f" {_plural(failed, 'call')} failed with 503 during outage windows."
    return text


def demand_sentence(run: RunData) -> str | None:
    ceiling = _number(run, "capacity.ceiling_created_per_s")
    peak = _number(run, "demand.peak_offered_per_s")
    mean = _number(run, "demand.mean_offered_per_s")
    if ceiling is None or ceiling <= 0:
        return None
    keys = run.summary_value("capacity.keys")
    limit = run.scenario_value("dataverse.requests_limit")
    window = duration_s(run.scenario_value("dataverse.window"))
    calls = _number(run, "capacity.calls_per_registration")
    how = ""
    if keys and limit and window and calls:
        how = (
            f" ({_plural(keys, 'key')} × {format_count(limit)} requests per {format_duration(window)}"
            f" ÷ {calls:.3g} calls per registration)"
        )
    text = f"The analytic ceiling is {format_number(ceiling)} registrations created per second{how}."
    if peak is not None:
        if peak > ceiling:
            text += f" Peak demand of {format_rate(peak)} is {peak / ceiling:.1f}× the ceiling, so a backlog builds"
            if mean is not None and mean > ceiling:
                text += (
                    f" that keeps growing while arrivals last: even the mean offered rate ({format_rate(mean)}) "
                    "is above it."
                )
            elif mean is not None:
                text += f", then clears because the mean offered rate ({format_rate(mean)}) is below it."
            else:
                text += "."
        else:
            text += f" Peak demand of {format_rate(peak)} stays below it ({format_share(peak / ceiling)} of it)."
    peak_created = _number(run, "throughput.peak_created_per_s")
    if peak_created is not None and peak_created > 1.2 * ceiling:
        text += (
            f" Creation peaked at {format_rate(peak_created)} in a single bin ({peak_created / ceiling:.1f}× the "
            "ceiling): a sliding window lets its whole budget be spent in a burst, so the ceiling holds on "
            "average over a window, not bin by bin."
        )
    elif peak_created is not None:
        share = format_share(peak_created / ceiling)
        text += f" Creation peaked at {format_rate(peak_created)} ({share} of the ceiling)."
    return text


def drain_sentence(run: RunData) -> str | None:
    drain = _number(run, "throughput.drain_s")
    last = _number(run, "last_created_s")
    arrivals_end = duration_s(run.scenario_value("workload.duration"))
    parts = []
    if drain is not None:
        parts.append(f"Draining the backlog took {format_duration(drain)}")
    if last is not None:
        when = f"the last registration was created {format_duration(last)} into the run"
        if arrivals_end:
            when += f" (arrivals stopped at {format_duration(arrivals_end)})"
        parts.append(when)
    if not parts:
        return None
    text = "; ".join(parts)
    text = text[0].upper() + text[1:] + "."
    accepted = _number(run, "submissions.accepted")
    ceiling = _number(run, "capacity.ceiling_created_per_s")
    if accepted and ceiling:
        text += (
            f" Working at the analytic ceiling without pause, the {format_count(accepted)} accepted submissions "
            f"would take about {format_duration(accepted / ceiling)}."
        )
    return text


def _reasons(counts: Any, limit: int = 3) -> str:
    if not isinstance(counts, dict) or not counts:
        return ""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    text = "; ".join(f"{reason} ({format_count(n)})" for reason, n in ordered[:limit])
    if len(ordered) > limit:
        text += f"; and {len(ordered) - limit} other reason(s)"
    return text


def demand_cut_sentences(run: RunData) -> list[str]:
    """Each catalog setting that turned submissions away (summary.json's ``demand_cut_by``), by name, and
    whether its value was the default — a cut the p95 never shows."""
    offered = _number(run, "submissions.offered") or 0.0
    return [f"{format_count(count)} of {format_count(offered)} submissions turned away: {reason} "
            f"({run.summary['demand_cut_by'][reason]['said']})." for reason, count in turned_away(run.summary).items()]


def losses_sentences(run: RunData) -> list[str]:
    out = []
    dead = _number(run, "submissions.dead_lettered") or 0.0
    accepted = _number(run, "submissions.accepted") or 0.0
    if dead == 0:
        out.append("Nothing was dead-lettered.")
    else:
        share = f" ({format_share(dead / accepted)} of accepted)" if accepted else ""
        reasons = _reasons(run.summary_value("dead_letter_reasons"))
        out.append(
            f"{_plural(dead, 'submission')}{share} dead-lettered" + (f": {reasons}." if reasons else ".")
        )
    away = turned_away(run.summary)  # said by demand_cut_sentences: a limit cut them, validation did not fail
    rejected = (_number(run, "submissions.rejected") or 0.0) - sum(away.values())
    if rejected >= 0.5:
        reasons = _reasons({reason: n for reason, n in (run.summary_value("rejected_by") or {}).items()
                            if reason not in away})
        out.append(f"{_plural(rejected, 'submission')} rejected at validation" + (f": {reasons}." if reasons else "."))
    pending = _number(run, "submissions.pending") or 0.0
    if pending:
        horizon = duration_s(run.scenario_value("horizon"))
        at = f" at the horizon ({format_duration(horizon)})" if horizon else ""
        out.append(
            f"{_plural(pending, 'submission')} still pending when the run ended{at}; "
            "a longer horizon would show whether they settle."
        )
    return out


def cache_sentence(run: RunData) -> str | None:
    hits = _number(run, "cache.hits") or 0.0
    misses = _number(run, "cache.misses") or 0.0
    if run.scenario_value("api.cache") == "none":
        return f"The read cache is off: all {_plural(hits + misses, 'validation read')} went to Dataverse."
    ratio = _number(run, "cache.hit_ratio")
    if ratio is None or hits + misses == 0:
        return None
    ttl = duration_s(run.scenario_value("api.cache_ttl"))
    setting = f" (TTL {format_duration(ttl)})" if ttl else ""
    return (
        f"The read cache{setting} answered {format_share(ratio)} of validation lookups; "
        f"{_plural(misses, 'miss', 'misses')} cost Dataverse reads on the same budget as the writes."
    )


def confirmation_sentence(run: RunData) -> str | None:
    """How long attendees waited for their confirmation email, and whether the trigger limit made them wait."""
    p95 = _number(run, "time_to_confirmed_s.p95")
    if run.summary_value("confirmation") is None:
        return None
    waited = _number(run, "confirmation.queued_max") or 0
    dropped = _number(run, "confirmation.dropped") or 0
    head = (f"95 % of accepted registrants had their confirmation email within {format_duration(p95)} of "
            "submitting" if p95 is not None else "More than 5 % of accepted registrants never had a confirmation "
            "email in this run")
    limit = run.scenario_value("confirmation.triggers_per_min", 2500)
    queue = (f"; at the org's {format_count(limit)} triggers/min, up to {_plural(waited, 'trigger')} waited to "
             "start" if waited else "; the trigger limit never made one wait")
    drop = f", and {_plural(dropped, 'trigger')} were dropped" if dropped else ""
    return head + queue + drop + "."


def pool_sentence(run: RunData) -> str | None:
    """The tenant's 24-hour request pool, said only when the launch uses more than half of it."""
    share = _number(run, "dataverse.pool_share")
    if share is None or share <= 0.5:
        return None
    return (f"The launch used {format_share(share)} of the tenant's 24-hour request pool "
            f"({format_count(_number(run, 'dataverse.requests_24h') or 0)} of "
            f"{format_count(_number(run, 'dataverse.pool_24h') or 0)} Dataverse requests in its busiest 24 h): "
            "more than half, so other apps' requests that day are at risk (reported, not enforced; [tenant] "
            "licences and pool_addons size the pool).")


def overridden_sentences(run: RunData) -> list[str]:
    """Explicit [dataverse.plan] counts that overrode a [registration] setting (summary.json's
    ``registration.overridden``): a setting that did not take effect."""
    overridden = run.summary_value("registration.overridden")
    if not isinstance(overridden, dict):
        return []
    return [f"{text} ([dataverse.plan] overrides [registration]; leave the count out to follow it)."
            for text in overridden.values()]


def settings_sentences(run: RunData) -> list[str]:
    """[uncertain] keys a --set made certain, and the central values one replication ran (summary.json's
    ``certain_by_set`` and ``central_values``): what this run did not draw."""
    certain = run.summary_value("certain_by_set")
    out = [f"{key} is certain in this run: --set made it {c['shown']}, so [uncertain] does not draw it."
           for key, c in (certain if isinstance(certain, dict) else {}).items()]
    central = run.summary_value("central_values")
    if isinstance(central, dict) and central:
        values = "; ".join(f"{key} = {c['shown']} ({c['statistic']})" for key, c in central.items())
        out.append(f"One replication, run at the central value of each uncertain input, not a random draw: "
                   f"{values}. One run has no interval; run more replications for one.")
    return out


def run_verdict(run: RunData) -> Verdict:
    sentences = [
        *settings_sentences(run),
        *demand_cut_sentences(run),
        *overridden_sentences(run),
        limits_sentence(run),
        demand_sentence(run),
        drain_sentence(run),
        *losses_sentences(run),
        confirmation_sentence(run),
        pool_sentence(run),
        cache_sentence(run),
    ]
    return Verdict([s for s in sentences if s])


# --- comparisons -------------------------------------------------------------------------------------------


def _sort_key(run: RunData) -> tuple[float, float, float, float]:
    offered = _number(run, "submissions.offered") or 0.0
    created = _number(run, "submissions.created") or 0.0
    share = created / offered if offered else 0.0
    dead = _number(run, "submissions.dead_lettered") or 0.0
    p95 = _number(run, "time_to_created_s.p95")
    drain = _number(run, "throughput.drain_s")
    return (-share, dead, math.inf if p95 is None else p95, math.inf if drain is None else drain)


def rank(runs: Sequence[RunData]) -> list[int]:
    """Variant indices best first: most of the offered submissions created, then fewest dead-lettered,
    then lowest p95 time-to-created, then shortest drain."""
    return sorted(range(len(runs)), key=lambda i: _sort_key(runs[i]))


def _describe(run: RunData) -> str:
    rejected = _number(run, "submissions.rejected")
    return (
        f"created {format_count(_number(run, 'submissions.created'))} of "
        f"{format_count(_number(run, 'submissions.offered'))}, "
        + (f"rejected {format_count(rejected)}, " if rejected else "")
        + f"dead-lettered {format_count(_number(run, 'submissions.dead_lettered'))}, "
        f"p95 time-to-created {format_duration(_number(run, 'time_to_created_s.p95'))}, "
        f"{format_share(throttled_share(run))} of Dataverse calls throttled"
    )


def _why_ahead(ahead: RunData, behind: RunData) -> str:
    a, b = _sort_key(ahead), _sort_key(behind)
    if a[0] != b[0]:
        margin = "only just " if abs(a[0] - b[0]) < 0.005 else ""
        return f"{margin}created more of the offered submissions ({format_share(-a[0])} vs {format_share(-b[0])})"
    if a[1] != b[1]:
        return f"dead-lettered fewer ({format_count(a[1])} vs {format_count(b[1])})"
    if a[2] != b[2]:
        return f"has a lower p95 time-to-created ({format_duration(a[2])} vs {format_duration(b[2])})"
    if a[3] != b[3]:
        return f"drained sooner ({format_duration(a[3])} vs {format_duration(b[3])})"
    return "ties on every ranking criterion"


def _rank_correlation(x: Sequence[float], y: Sequence[float]) -> float | None:
    if len(x) < 3:
        return None
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _created_share(run: RunData) -> float | None:
    offered = _number(run, "submissions.offered")
    created = _number(run, "submissions.created")
    return created / offered if offered and created is not None else None


def _setting_effects(runs: Sequence[RunData], varied: dict[str, list[Any]]) -> list[str]:
    """For each varied setting, how the variants with each of its values did on average."""
    out = []
    for key, values in varied.items():
        groups: dict[str, list[int]] = {}
        for i, value in enumerate(values):
            groups.setdefault(show_value(value), []).append(i)
        if len(groups) < 2 or len(varied) == 1:
            continue  # with one varied setting, the ranking already lists each value

        def mean(members: list[int], read: Any) -> float | None:
            known = [v for v in (read(runs[i]) for i in members) if v is not None]
            return float(np.mean(known)) if known else None

        stats = []
        for value, members in groups.items():
            share = mean(members, _created_share)
            p95 = mean(members, lambda run: _number(run, "time_to_created_s.p95"))
            stats.append((value, share, p95))
        stats.sort(key=lambda item: (-(item[1] or 0.0), math.inf if item[2] is None else item[2]))
        several = any(len(m) > 1 for m in groups.values())
        parts = "; ".join(
            f"{value}: {format_share(share)} created, p95 {format_duration(p95)}" for value, share, p95 in stats
        )
        out.append(f"By {key}{' (mean over the other settings)' if several else ''}: {parts}.")
    return out


def _tie_groups(keys: Sequence[tuple[float, ...]], order: Sequence[int]) -> list[list[int]]:
    groups: list[list[int]] = []
    for i in order:
        if groups and keys[groups[-1][0]] == keys[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _names(labels: Sequence[str], members: Sequence[int]) -> str:
    names = [labels[i] for i in members]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _retry_after_sentences(runs: Sequence[RunData], labels: Sequence[str], varied: dict[str, list[Any]]
                           ) -> list[str]:
    """What honouring Retry-After does to a comparison of retry policies (the usual question)."""
    honour = varied.get("retry.honor_retry_after")
    policy = varied.get("retry.policy")
    if honour is None or policy is None:
        return []
    keys = [_sort_key(run) for run in runs]
    honouring = [i for i, (h, p) in enumerate(zip(honour, policy, strict=True)) if h is True and p != "none"]
    ignoring = [i for i, (h, p) in enumerate(zip(honour, policy, strict=True)) if h is False and p != "none"]
    sentences = []
    if len(honouring) >= 2 and len({keys[i] for i in honouring}) == 1:
        sentences.append(
            "Honouring Retry-After, the retry policies give identical runs: every failure here is a 429 that "
            "carries Retry-After, so the policy's own backoff never runs — the server's wait decides."
        )
    rejected = {i: _number(runs[i], "submissions.rejected") or 0.0 for i in honouring + ignoring}
    worst = max(ignoring, key=lambda i: rejected[i], default=None)
    if worst is not None and honouring and rejected[worst] > 2 * max(rejected[i] for i in honouring) + 10:
        sentences.append(
            f"Ignoring Retry-After costs callers, not only time: {labels[worst]} turned away "
            f"{format_count(rejected[worst])} submissions, because retries sent before the window has room keep "
            "the key throttled, and a caller whose validation read meets a throttled key is refused."
        )
    return sentences


def comparison_verdict(
    runs: Sequence[RunData], labels: Sequence[str], varied: dict[str, list[Any]] | None = None
) -> Verdict:
    """Why the variants rank as they do. ``varied`` maps each scenario key that differs between the
    variants to its value in each variant (see :func:`reports.comparison.varied_settings`)."""
    order = rank(runs)
    keys = [_sort_key(run) for run in runs]
    ranking = [f"{labels[i]}: {_describe(runs[i])}." for i in order]
    sentences = [
        "Variants are ranked by the share of offered submissions created, then fewest dead-lettered, "
        "then lowest p95 time-to-created, then shortest drain."
    ]
    groups = _tie_groups(keys, order)
    if len(groups) >= 2:
        first, runner_up, last = groups[0], groups[1], groups[-1]
        lead = _names(labels, first)
        verb = "ranks" if len(first) == 1 else "tie for"
        sentences.append(
            f"{lead} {verb} first: against {_names(labels, runner_up)}, the next best, "
            f"{'it' if len(first) == 1 else 'they'} {_why_ahead(runs[first[0]], runs[runner_up[0]])}."
        )
        if len(groups) > 2:
            verb = "ranks" if len(last) == 1 else "tie for"
            sentences.append(
                f"{_names(labels, last)} {verb} last: {_names(labels, groups[-2])}, the next better, "
                f"{_why_ahead(runs[groups[-2][0]], runs[last[0]])}."
            )
    else:
        sentences.append("All variants tie on every ranking criterion.")
    sentences += [
        f"{_names(labels, g)} tie on every ranking criterion." for g in groups if len(g) > 1 and len(groups) > 1
    ]
    sentences.extend(_setting_effects(runs, varied or {}))
    sentences.extend(_retry_after_sentences(runs, labels, varied or {}))
    best_share, best_p95 = keys[order[0]][0], keys[order[0]][2]
    if any(keys[i][0] > best_share and keys[i][2] < best_p95 for i in range(len(runs))):
        sentences.append(
            "Time-to-created percentiles count every accepted registration (one never created leaves a "
            "percentile not reached) but not those rejected at validation, so a variant that rejects more can "
            "show shorter times."
        )
    shares = [throttled_share(run) for run in runs]
    p95s = [_number(run, "time_to_created_s.p95") for run in runs]
    known = [(s, p, i) for i, (s, p) in enumerate(zip(shares, p95s, strict=True)) if s is not None and p is not None]
    if len(known) >= 2:
        low = min(known)
        high = max(known)
        if high[0] > low[0]:
            text = (
                f"The share of Dataverse calls throttled ranges from {format_share(low[0])} ({labels[low[2]]}) "
                f"to {format_share(high[0])} ({labels[high[2]]})"
            )
            rho = _rank_correlation([k[0] for k in known], [k[1] for k in known])
            if rho is not None and rho >= 0.7:
                text += (
                    f" and tracks p95 time-to-created (rank correlation {rho:.2f}): retries that land in a full "
                    "window are refused and wait again, so the more calls a variant got throttled, the later "
                    "its registrations were created"
                )
            sentences.append(text + ".")
    bindings = {str(run.summary_value("dataverse.binding_limit", "none")) for run in runs}
    if len(bindings) == 1:
        (binding,) = bindings
        if binding != "none":
            sentences.append(f"The Dataverse {binding} limit binds in every variant.")
        else:
            sentences.append("No Dataverse limit binds in any variant.")
    else:
        parts = ", ".join(
            f"{label}: {run.summary_value('dataverse.binding_limit', 'none')}"
            for label, run in zip(labels, runs, strict=True)
        )
        sentences.append(f"The binding Dataverse limit differs: {parts}.")
    dead = [(label, run) for label, run in zip(labels, runs, strict=True) if _number(run, "submissions.dead_lettered")]
    if dead:
        parts = "; ".join(
            f"{label}: {format_count(_number(run, 'submissions.dead_lettered'))}"
            + (f" ({_reasons(reasons, 2)})" if (reasons := run.summary_value("dead_letter_reasons")) else "")
            for label, run in dead
        )
        rest = "; the other variants dead-lettered none" if len(dead) < len(runs) else ""
        sentences.append(f"Dead letters — {parts}{rest}.")
    else:
        sentences.append("No variant dead-lettered anything.")
    return Verdict(sentences, ranking)
