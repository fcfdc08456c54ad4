"""One `plan` probe under uncertainty: does this setting meet the SLO with probability at least P?

A probe runs replications of the setting (the same seeds and drawn inputs at every probe: common random
numbers) and counts those whose summary meets every SLO. Its share gets a Wilson interval; while that
interval straddles P, more replications are added in fixed steps, up to the cap. If it still straddles P
there, the probe is *borderline* and is decided by its share. ``--probability 1`` is no share: the probe meets
when every replication it runs meets (all of them, unless one fails first), and is never borderline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import as_completed
from typing import Any

from simulator.engine.replicate import Submitter, build_tasks, run_tasks
from simulator.replications import ReplicationResult, metric_columns, sequential_blocks
from simulator.scenario import Scenario
from simulator.stats import interval_block, precise_enough, wilson
from simulator.sweep import Slo, Verdict, judge
from simulator.uncertain import Uncertain

__all__ = ["PROBE_START", "PROBE_STEP", "probe", "met_text"]

PROBE_START = 10  # replications a probe runs before the first look at its share
PROBE_STEP = 10  # … and adds while the share's interval straddles P (fixed: independent of the worker count)


def probe(
    scenario: Scenario,
    overrides: Sequence[str],
    entries: Sequence[Uncertain],
    n: int,
    slos: Sequence[Slo],
    *,
    probability: float,
    confidence: float,
    sampling: str,
    source: str,
    precision: float | None = None,
    workers: int | None = None,
    executor: Submitter | None = None,
    gather: Callable[[Iterable[Any]], Iterator[Any]] = as_completed,
    on_done: Callable[[ReplicationResult], None] | None = None,
) -> dict[str, Any]:
    """The probe's row for ``plan --json``: ``met`` (share ≥ probability), ``met_share``, ``met_share_ci``,
    ``replications``, ``borderline``, and each SLO metric's mean and interval (``slo_metrics``)."""
    tasks = build_tasks([scenario], [overrides], entries, n, seed=scenario.seed, sampling=sampling, source=source,
                        keep_files_of=None, blocks=sequential_blocks(n, PROBE_START, PROBE_STEP))
    paths = list(dict.fromkeys(s.path for s in slos))
    results: list[ReplicationResult] = []
    # A share's Wilson interval never straddles 1, so P = 1 is no test of a share: it asks every replication to
    # meet the SLO, stops at the first look with a failure, and is never borderline.
    exact = probability >= 1
    target = min(n, PROBE_START)
    while True:
        results.extend(run_tasks(tasks[len(results):target], workers=workers, executor=executor, gather=gather,
                                 on_done=on_done))
        verdicts = [judge(slos, r.summary) for r in results]
        met = sum(v.met for v in verdicts)
        low, high = wilson(met, len(results), confidence)
        if exact:  # P = 1: decided by the first failure; while every replication meets, run them all
            straddles, undecided = False, met == len(results)
        else:
            straddles = undecided = low < probability < high
        block = interval_block(metric_columns(results, paths), confidence)
        imprecise = precision is not None and not precise_enough(block, precision, paths)
        if len(results) >= n or not (undecided or imprecise):
            break
        target = min(n, len(results) + PROBE_STEP)
    share = met / len(results)
    return {
        "met": share >= probability,
        "metric": block[paths[0]]["mean"] if paths[0] in block else None,
        "metrics": {p: block[p]["mean"] for p in paths if p in block},
        "met_count": met,
        "met_share": round(share, 6),
        "met_share_ci": [round(low, 6), round(high, 6)],
        "replications": len(results),
        "borderline": straddles,
        "slo_metrics": {p: {k: block[p][k] for k in ("mean", "ci_low", "ci_high")} for p in paths if p in block},
        "why": _why(verdicts),
    }


def _why(verdicts: Sequence[Verdict]) -> str:
    """Why replications failed: the most common reason, and in how many (empty when all met)."""
    failed = [v for v in verdicts if not v.met]
    if not failed:
        return ""
    reason, count = Counter(v.why for v in failed).most_common(1)[0]
    return f"{len(failed)} of {len(verdicts)} not met; {count} because {reason}"


def met_text(row: dict[str, Any]) -> str:
    """"meets — met in 38/40 (95 %, CI 83–99 %)", plus ", borderline: more replications would narrow it"."""
    low, high = row["met_share_ci"]
    text = (f"{'meets' if row['met'] else 'fails'} — met in {row['met_count']}/{row['replications']} "
            f"({row['met_share'] * 100:.0f} %, CI {low * 100:.0f}–{high * 100:.0f} %)")
    if row["borderline"]:
        text += ", borderline: more replications would narrow it"
    return text
