"""The run record: one format for simulated runs, live runs and Locust, so a report cannot tell which made it.

A :class:`Recorder` counts as a run goes (per-bin time series, one row per submission); :func:`summarize`
turns it into the headline figures of ``summary.json``; :func:`run_files` renders the run directory's files
(names and columns fixed by DESIGN.md). Nothing here touches the disk: the command layer writes the files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from typing import Any

import numpy as np

from simulator import metrics

__all__ = [
    "COUNT_COLUMNS",
    "LEVEL_COLUMNS",
    "SUBMISSION_COLUMNS",
    "OUTCOMES",
    "Recorder",
    "summarize",
    "run_files",
]

COUNT_COLUMNS = (
    "offered", "accepted", "rejected", "cache_hits", "cache_misses",
    "dv_admitted", "dv_throttled", "dv_throttled_requests", "dv_throttled_execution",
    "dv_throttled_concurrency", "dv_failed", "created", "dead_lettered", "cache_refreshes", "retry_deferred",
)
LEVEL_COLUMNS = ("queue_depth", "retrying", "active_processors")
SUBMISSION_COLUMNS = (
    "id", "kind", "offered_s", "accepted_s", "created_s", "attempts", "outcome", "dead_lettered_s", "reason",
)
OUTCOMES = ("pending", "created", "dead_lettered", "rejected")
PENDING, CREATED, DEAD_LETTERED, REJECTED = OUTCOMES
THROTTLE_COLUMN = {
    "requests": "dv_throttled_requests",
    "execution": "dv_throttled_execution",
    "concurrency": "dv_throttled_concurrency",
}
NAN = math.nan


class Recorder:
    """What a run counts as it goes. Hot path: appends and list increments only.

    Time series are counts per bin (``COUNT_COLUMNS``) and levels sampled at each bin's end
    (``LEVEL_COLUMNS``); submissions are parallel columns indexed by the submission's number.
    """

    def __init__(self, bin_s: float, keep_submissions: bool = True) -> None:
        """``keep_submissions=False`` keeps the time series and the reason counts but no row per submission
        (a long-running live server that writes no run directory: its memory stays flat)."""
        self.bin_s = bin_s
        self.keep_submissions = keep_submissions
        self.submissions = 0  # offered so far, rows kept or not
        self._per_s = 1.0 / bin_s
        self.counts: dict[str, list[int]] = {name: [] for name in COUNT_COLUMNS}
        self.levels: dict[str, list[int]] = {name: [] for name in LEVEL_COLUMNS}
        self._bins = 0
        self.ids: list[str] = []
        self.kind: list[str] = []
        self.offered_s: list[float] = []
        self.accepted_s: list[float] = []
        self.created_s: list[float] = []
        self.dead_lettered_s: list[float] = []
        self.attempts: list[int] = []
        self.outcome: list[str] = []
        self.reason: list[str] = []
        self.rejected_by: Counter[str] = Counter()
        self.dead_letter_reasons: Counter[str] = Counter()

    # --- time series ---------------------------------------------------------------------------------------
    @property
    def bins(self) -> int:
        """Bins allocated so far (lists grow in place, so hot paths may hold a column and index it)."""
        return self._bins

    def index(self, now_s: float) -> int:
        """The bin of ``now_s``, allocating it if needed (for hot paths that increment a held column)."""
        index = int(now_s * self._per_s)
        if index >= self._bins:
            self._grow(index + 64)
        return index

    def total(self, column: str) -> int:
        return sum(self.counts[column])

    def _grow(self, bins: int) -> None:
        extra = bins - self._bins
        for column in self.counts.values():
            column.extend([0] * extra)
        for column in self.levels.values():
            column.extend([column[-1] if column else 0] * extra)
        self._bins = bins

    def count(self, column: str, now_s: float, n: int = 1) -> None:
        index = int(now_s * self._per_s)
        if index >= self._bins:
            self._grow(index + 64)
        self.counts[column][index] += n

    def level(self, column: str, now_s: float, value: int) -> None:
        """``value`` holds from the bin containing ``now_s`` onwards (a level sampled at bin ends)."""
        index = int(now_s * self._per_s)
        if index >= self._bins:
            self._grow(index + 64)
        series = self.levels[column]
        for i in range(index, self._bins):
            series[i] = value

    def throttled(self, limit: str, now_s: float) -> None:
        self.count("dv_throttled", now_s)
        self.count(THROTTLE_COLUMN[limit], now_s)

    # --- submissions ---------------------------------------------------------------------------------------
    def offered(self, kind: str, now_s: float, submission_id: str | None = None) -> int:
        number = self.submissions
        self.submissions += 1
        if not self.keep_submissions:
            self.count("offered", now_s)
            return number
        self.ids.append(submission_id if submission_id is not None else str(number))
        self.kind.append(kind)
        self.offered_s.append(now_s)
        self.accepted_s.append(NAN)
        self.created_s.append(NAN)
        self.dead_lettered_s.append(NAN)
        self.attempts.append(0)
        self.outcome.append(PENDING)
        self.reason.append("")
        self.count("offered", now_s)
        return number

    def accepted(self, number: int, now_s: float) -> None:
        if self.keep_submissions:
            self.accepted_s[number] = now_s
        self.count("accepted", now_s)

    def rejected(self, number: int, now_s: float, reason: str) -> None:
        if self.keep_submissions:
            self.outcome[number] = REJECTED
            self.reason[number] = reason
        self.rejected_by[reason] += 1
        self.count("rejected", now_s)

    def created(self, number: int, now_s: float, attempts: int) -> None:
        if self.keep_submissions:
            self.created_s[number] = now_s
            self.attempts[number] = attempts
            self.outcome[number] = CREATED
        self.count("created", now_s)

    def dead_lettered(self, number: int, now_s: float, attempts: int, reason: str) -> None:
        if self.keep_submissions:
            self.attempts[number] = attempts
            self.dead_lettered_s[number] = now_s
            self.outcome[number] = DEAD_LETTERED
            self.reason[number] = reason
        self.dead_letter_reasons[reason] += 1
        self.count("dead_lettered", now_s)

    def bins_until(self, end_s: float) -> int:
        """Bins needed to cover [0, end_s]."""
        return max(1, min(self._bins, int(math.ceil(end_s * self._per_s)) or 1))


def _binding_limit(throttled_by: dict[str, int]) -> str:
    limit, most = max(throttled_by.items(), key=lambda item: item[1])
    return limit if most > 0 else "none"


def summarize(
    recorder: Recorder,
    *,
    name: str,
    mode: str,
    seed: int,
    simulated_s: float,
    wall_s: float,
    capacity: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The headline figures of summary.json (keys fixed by DESIGN.md, plus a few more)."""
    totals = {column: recorder.total(column) for column in COUNT_COLUMNS}
    outcome = np.array(recorder.outcome)
    offered = np.array(recorder.offered_s, dtype=float)
    created_s = np.array(recorder.created_s, dtype=float)
    accepted_s = np.array(recorder.accepted_s, dtype=float)
    created_mask = outcome == CREATED
    counts = {o: int(np.count_nonzero(outcome == o)) for o in OUTCOMES}
    accepted = int(np.count_nonzero(np.isfinite(accepted_s)))
    hits, misses = totals["cache_hits"], totals["cache_misses"]
    throttled_by = {limit: totals[column] for limit, column in THROTTLE_COLUMN.items()}
    bins = recorder.bins_until(simulated_s)
    created_per_bin = np.array(recorder.counts["created"][:bins]) if recorder.counts["created"] else np.zeros(1)
    offered_per_bin = np.array(recorder.counts["offered"][:bins]) if recorder.counts["offered"] else np.zeros(1)
    last_created = float(np.nanmax(created_s)) if created_mask.any() else None
    first_offered = float(offered.min()) if offered.size else 0.0
    last_offered = float(offered.max()) if offered.size else 0.0
    settled_times = np.concatenate([created_s[np.isfinite(created_s)], [last_offered]])
    arrivals_s = max(last_offered - first_offered, recorder.bin_s)
    active_s = (last_created - first_offered) if last_created is not None else 0.0
    time_to_created = (created_s - offered)[created_mask]
    summary: dict[str, Any] = {
        "name": name,
        "mode": mode,
        "seed": seed,
        "simulated_s": round(simulated_s, 3),
        "wall_s": round(wall_s, 3),
        "submissions": {
            "offered": len(outcome),
            "accepted": accepted,
            "rejected": counts[REJECTED],
            "created": counts[CREATED],
            "dead_lettered": counts[DEAD_LETTERED],
            "pending": accepted - counts[CREATED] - counts[DEAD_LETTERED],
        },
        "cache": {
            "hits": hits,
            "misses": misses,
            "hit_ratio": round(hits / (hits + misses), 6) if hits + misses else 0.0,
            "refreshes": totals["cache_refreshes"],
        },
        "dataverse": {
            "admitted": totals["dv_admitted"],
            "throttled": totals["dv_throttled"],
            "throttled_by": throttled_by,
            "failed": totals["dv_failed"],
            "binding_limit": _binding_limit(throttled_by),
        },
        "throughput": {
            "peak_created_per_s": round(metrics.peak_rate_per_s(created_per_bin, recorder.bin_s), 3),
            "mean_created_per_s": round(counts[CREATED] / active_s, 3) if active_s > 0 else 0.0,
            "drain_s": round(max(0.0, float(settled_times.max()) - last_offered), 3),
        },
        "time_to_created_s": metrics.percentiles(time_to_created),
        "retry_deferred": totals["retry_deferred"],
        "attempts_per_created": round(float(np.mean(np.array(recorder.attempts)[created_mask])), 4)
        if created_mask.any() else 0.0,
        "last_created_s": round(last_created, 3) if last_created is not None else None,
        "bin_s": recorder.bin_s,
        "capacity": capacity,
        "demand": {
            "peak_offered_per_s": round(metrics.peak_rate_per_s(offered_per_bin, recorder.bin_s), 3),
            "mean_offered_per_s": round(len(outcome) / arrivals_s, 3) if len(outcome) else 0.0,
        },
        "rejected_by": dict(recorder.rejected_by.most_common()),
        "dead_letter_reasons": dict(recorder.dead_letter_reasons.most_common()),
    }
    summary.update(extra or {})
    return summary


def _seconds(value: float) -> str:
    return "" if value != value else f"{value:.3f}"  # NaN -> empty cell


def timeseries_csv(recorder: Recorder, end_s: float) -> str:
    bins = recorder.bins_until(end_s)
    if recorder._bins < bins:
        recorder._grow(bins)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("t_s", *COUNT_COLUMNS, *LEVEL_COLUMNS))
    columns = [recorder.counts[c] for c in COUNT_COLUMNS] + [recorder.levels[c] for c in LEVEL_COLUMNS]
    for index in range(bins):
        writer.writerow((f"{index * recorder.bin_s:g}", *(column[index] for column in columns)))
    return out.getvalue()


def submissions_csv(recorder: Recorder) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SUBMISSION_COLUMNS)
    writer.writerows(
        zip(
            recorder.ids,
            recorder.kind,
            map(_seconds, recorder.offered_s),
            map(_seconds, recorder.accepted_s),
            map(_seconds, recorder.created_s),
            recorder.attempts,
            recorder.outcome,
            map(_seconds, recorder.dead_lettered_s),
            recorder.reason,
            strict=True,
        )
    )
    return out.getvalue()


def run_files(recorder: Recorder, summary: dict[str, Any], scenario_toml: str) -> dict[str, str]:
    """The run directory's files as ``{name: text}``; the caller writes them."""
    return {
        "scenario.toml": scenario_toml,
        "summary.json": json.dumps(summary, indent=2) + "\n",
        "timeseries.csv": timeseries_csv(recorder, summary["simulated_s"]),
        "submissions.csv": submissions_csv(recorder),
    }
