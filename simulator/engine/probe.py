"""One `plan` probe under uncertainty: does this setting meet the SLO with probability at least P?

A probe runs replications of the setting (the same seeds and drawn inputs at every probe: common random
numbers) and counts those whose summary meets every SLO. After every replication, in task order, it looks at
the met share's one-sided Clopper–Pearson bounds (:func:`decide`): the probe *meets* once the lower bound
reaches P, *fails* once the upper bound falls below P, and stops there. It also stops once the share at the
cap (``--replications``) can no longer cross P: the verdict is then the share's, *undecided*, with the cap
that could decide it (:func:`needed`). The verdict uses the first replications in task order only, so it is
the same whatever number of workers ran them; a worker pool is kept full (one replication per worker in
flight), and what finished beyond the deciding replication is not counted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import as_completed
from typing import Any

from simulator.engine.replicate import Interrupted, ReplicationTask, Submitter, build_tasks, run_replication
from simulator.records import STOPPED_AT_S
from simulator.replications import ReplicationResult, metric_columns, sequential_blocks
from simulator.scenario import Scenario
from simulator.stats import interval_block, precise_enough, share_bounds, wilson
from simulator.sweep import Slo, Verdict, judge
from simulator.uncertain import Uncertain

__all__ = ["PROBE_BLOCK", "probe", "probe_tasks", "decide", "needed", "met_text"]

PROBE_BLOCK = 10  # Latin-hypercube block: each run of 10 replications is stratified on its own (sequential_blocks)
NEEDED_CAP = 100_000  # the largest --replications :func:`needed` looks for


def decide(met: int, n: int, cap: int, probability: float, confidence: float) -> tuple[bool, bool] | None:
    """``(met, shown)`` once ``met`` of ``n`` replications settle the probe, else None (run another).

    Shown (``shown`` True): the one-sided lower bound is at least ``probability`` (meets), or the upper bound
    is below it (fails), each at ``confidence``. Settled by the cap (``shown`` False): whatever the remaining
    ``cap - n`` replications do, the share at the cap stays on one side of ``probability``; or ``n`` is the cap.
    ``probability`` 1 asks every replication to meet: the first failure fails it, all ``cap`` meeting meets it."""
    if probability >= 1:  # no share: every replication must meet (the first failure decides), never borderline
        return (False, True) if met < n else ((True, True) if n >= cap else None)
    low, high = share_bounds(met, n, confidence)
    if low >= probability:
        return True, True
    if high < probability:
        return False, True
    if met / cap >= probability or n >= cap:
        return met / cap >= probability, False
    if (met + cap - n) / cap < probability:
        return False, False
    return None


def needed(met: int, n: int, probability: float, confidence: float) -> int | None:
    """The fewest replications that could show the verdict ``met`` of ``n`` leans to (every further replication
    going that way): 59 for 30 of 30 at P = 0.95 and 95 %; None if none up to NEEDED_CAP could (P = 1 is never
    shown met)."""
    meets = met / n >= probability
    for more in range(1, NEEDED_CAP):
        low, high = share_bounds(met + more if meets else met, n + more, confidence)
        if (low >= probability) if meets else (high < probability):
            return n + more
    return None


def probe_tasks(scenario: Scenario, overrides: Sequence[str], entries: Sequence[Uncertain], n: int, *,
                sampling: str, source: str, count: int | None = None, keep_files_of: int | None = None,
                stop_failing: Sequence[Slo] = ()) -> list[ReplicationTask]:
    """A probe's replications (the first ``count`` of ``n``; default all): the same seeds and drawn inputs at
    every probe, drawn in Latin-hypercube blocks of PROBE_BLOCK. `plan`'s chosen run is the ones its probe
    counted, run again in full with replication 1's files kept (``keep_files_of=0``)."""
    return build_tasks([scenario], [overrides], entries, n, seed=scenario.seed, sampling=sampling, source=source,
                       replications=None if count is None else range(count), keep_files_of=keep_files_of,
                       blocks=sequential_blocks(n, PROBE_BLOCK, PROBE_BLOCK), stop_failing=stop_failing)


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
    """The probe's row for ``plan --json``: ``met``, ``met_share``, ``met_share_ci`` (Wilson, two-sided),
    ``replications`` (counted), ``decided`` (shown at ``confidence``), ``borderline`` (not decided),
    ``decide_at`` (undecided: the ``--replications`` that could decide it), ``replications_cap`` (n),
    ``cut_short`` (replications stopped once an SLO could no longer hold: no figures, so a probe with one has no
    means), and each SLO metric's mean and interval (``slo_metrics``). Without ``executor``, ``workers`` = 1
    runs in this process."""
    # A replication stops once an SLO can no longer hold (its verdict is settled), unless --precision asks for
    # the probe's figures, which a cut replication does not have.
    tasks = probe_tasks(scenario, overrides, entries, n, sampling=sampling, source=source,
                        stop_failing=slos if precision is None else ())
    paths = list(dict.fromkeys(s.path for s in slos))
    results: list[ReplicationResult] = []
    verdicts: list[Verdict] = []
    outcome: tuple[bool, bool] | None = None
    for result in _in_order(tasks, workers, executor, gather):
        results.append(result)
        verdicts.append(judge(slos, result.summary))
        if on_done is not None:
            on_done(result)
        met = sum(v.met for v in verdicts)
        outcome = decide(met, len(results), n, probability, confidence)
        if outcome is not None and (precision is None or len(results) >= n or precise_enough(
                interval_block(metric_columns(results, paths), confidence), precision, paths)):
            break
    assert outcome is not None  # decide() settles at the cap
    block = interval_block(metric_columns(results, paths), confidence)
    low, high = wilson(met, len(results), confidence)
    share = met / len(results)
    return {
        "met": outcome[0],
        "metric": block[paths[0]]["mean"] if paths[0] in block else None,
        "metrics": {p: block[p]["mean"] for p in paths if p in block},
        "met_count": met,
        "met_share": round(share, 6),
        "met_share_ci": [round(low, 6), round(high, 6)],
        "replications": len(results),
        "cut_short": sum(STOPPED_AT_S in r.summary for r in results),
        "decided": outcome[1],
        "borderline": not outcome[1],
        "decide_at": None if outcome[1] else needed(met, len(results), probability, confidence),
        "replications_cap": n,
        "slo_metrics": {p: {k: block[p][k] for k in ("mean", "ci_low", "ci_high")} for p in paths if p in block},
        "why": _why(verdicts),
    }


def _in_order(tasks: Sequence[ReplicationTask], workers: int | None, executor: Submitter | None,
              gather: Callable[[Iterable[Any]], Iterator[Any]]) -> Iterator[ReplicationResult]:
    """Each task's result in task order, as soon as it and every earlier one are back. With an executor, one
    task per worker is kept in flight; when the caller stops early, the tasks not started are cancelled (a
    running one finishes on its worker, uncounted)."""
    if executor is None:
        for task in tasks:
            yield run_replication(task)
        return
    width = max(1, workers or os.cpu_count() or 1)
    in_flight: dict[Any, int] = {}
    back: dict[int, ReplicationResult] = {}
    submitted = 0
    try:
        for index in range(len(tasks)):
            while submitted < len(tasks) and len(in_flight) < width:
                in_flight[executor.submit(run_replication, tasks[submitted])] = submitted
                submitted += 1
            while index not in back:
                future = next(iter(gather(list(in_flight))))
                back[in_flight.pop(future)] = future.result()
            yield back.pop(index)
    except KeyboardInterrupt:
        raise Interrupted([back[i] for i in sorted(back)], len(tasks)) from None
    finally:
        for future in in_flight:
            future.cancel()


def _why(verdicts: Sequence[Verdict]) -> str:
    """Why replications failed: the most common reason, and in how many (empty when all met)."""
    failed = [v for v in verdicts if not v.met]
    if not failed:
        return ""
    reason, count = Counter(v.why for v in failed).most_common(1)[0]
    return f"{len(failed)} of {len(verdicts)} not met; {count} because {reason}"


def met_text(row: dict[str, Any]) -> str:
    """"meets — met in 59/59 (100 %, CI 94–100 %)"; undecided, plus ", undecided at 30: raise --replications to
    59 to decide" (or, stopped before the cap because the share there was settled, what would show it)."""
    low, high = row["met_share_ci"]
    text = (f"{'meets' if row['met'] else 'fails'} — met in {row['met_count']}/{row['replications']} "
            f"({row['met_share'] * 100:.0f} %, CI {low * 100:.0f}–{high * 100:.0f} %)")
    if row["decided"]:
        return text
    at, cap = row["decide_at"], row["replications_cap"]
    if at is None:
        return text + ", undecided: no number of replications could show it"
    if at > cap or row["replications"] >= cap:
        return text + f", undecided at {row['replications']}: raise --replications to {at} to decide"
    return text + (f", undecided at {row['replications']} (the share at --replications {cap} was settled; "
                   f"{at} could show it)")
