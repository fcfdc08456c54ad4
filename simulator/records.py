"""The run record: one format for simulated runs, live runs and Locust, so a report cannot tell which made it.

A :class:`Recorder` counts as a run goes (per-bin time series, one row per submission); :func:`summarize`
turns it into the headline figures of ``summary.json``; :func:`run_files` renders the run directory's files
(names and columns fixed by DESIGN.md). Nothing here touches the disk: the command layer writes the files.

The summary never reads the per-submission rows: it is made from running totals and the time-to-created
values (a compact array of doubles), which a summary-only recorder keeps without the rows. So a run that
keeps no rows (replications, plan probes, sensitivity points) has the very same summary.json and time series
as a full run of the same seed; only ``submissions.csv`` needs the rows.
"""

from __future__ import annotations

import csv
import io
import json
import math
from array import array
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
    "skeleton_summary",
    "run_files",
    "STOPPED_AT_S",
    "STOPPED_BECAUSE",
]

COUNT_COLUMNS = (
    "offered", "accepted", "rejected", "cache_hits", "cache_misses",
    "dv_admitted", "dv_throttled", "dv_throttled_requests", "dv_throttled_execution",
    "dv_throttled_concurrency", "dv_failed", "created", "dead_lettered", "cache_refreshes", "retry_deferred",
    "confirmed", "confirmation_dropped", "invitations_sent",
)
LEVEL_COLUMNS = ("queue_depth", "retrying", "active_processors")
SUBMISSION_COLUMNS = (
    "id", "kind", "offered_s", "accepted_s", "created_s", "attempts", "outcome", "dead_lettered_s", "reason",
    "confirmed_s",
)
OUTCOMES = ("pending", "created", "dead_lettered", "rejected")
PENDING, CREATED, DEAD_LETTERED, REJECTED = OUTCOMES
THROTTLE_COLUMN = {
    "requests": "dv_throttled_requests",
    "execution": "dv_throttled_execution",
    "concurrency": "dv_throttled_concurrency",
}
NAN = math.nan
# summary.json of a `plan` probe's replication cut short once an SLO could no longer hold (simulator/stopping.py):
# the virtual second it stopped at and why. Its other figures are partial, so nothing reads them as results.
STOPPED_AT_S = "stopped_at_s"
STOPPED_BECAUSE = "stopped_because"


class Recorder:
    """What a run counts as it goes. Hot path: appends and list increments only.

    Time series are counts per bin (``COUNT_COLUMNS``) and levels sampled at each bin's end
    (``LEVEL_COLUMNS``); submissions are parallel columns indexed by the submission's number.
    """

    def __init__(self, bin_s: float, keep_submissions: bool = True, keep_times: bool = False) -> None:
        """``keep_submissions=False`` keeps no row per submission: the time series, the totals and the reason
        counts only. ``keep_times`` (with no rows) still keeps each created submission's time to created, so
        :func:`summarize` stays exact: a summary-only run. Without rows or times (a long-running live server
        that writes no run directory) memory stays flat, and there is no summary."""
        self.bin_s = bin_s
        self.keep_submissions = keep_submissions
        self.keep_times = keep_times
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
        self.confirmed_s: list[float] = []
        self.attempts: list[int] = []
        self.outcome: list[str] = []
        self.reason: list[str] = []
        self.rejected_by: Counter[str] = Counter()
        self.dead_letter_reasons: Counter[str] = Counter()
        # Running totals: what summarize needs, in every mode.
        self.accepted_count = 0
        self.rejected_count = 0
        self.created_count = 0
        self.dead_lettered_count = 0
        self.attempts_created = 0  # attempts summed over created submissions
        self.first_offered_s = math.inf
        self.last_offered_s = -math.inf
        self.last_created_s = -math.inf
        self.times_to_created_s = array("d")  # one double per created submission (rows or times kept)
        self.times_to_confirmed_s = array("d")  # one per confirmation email sent (rows or times kept)
        self.confirmed_count = 0
        self._open: dict[int, float] = {}  # offered_s of unfinished submissions, when times are kept without rows
        self._offered_column = self.counts["offered"]  # columns grow in place: hot paths hold them
        self._accepted_column = self.counts["accepted"]
        self._created_column = self.counts["created"]
        self._confirmed_column = self.counts["confirmed"]

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

    def add_counts(self, column: str, per_bin: Any) -> None:
        """Add a whole column's counts per bin from bin 0 (a series known only after the run)."""
        if len(per_bin) > self._bins:
            self._grow(len(per_bin))
        series = self.counts[column]
        for index, n in enumerate(per_bin):
            series[index] += int(n)

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
        self.submissions = number + 1
        if now_s < self.first_offered_s:
            self.first_offered_s = now_s
        if now_s > self.last_offered_s:
            self.last_offered_s = now_s
        if self.keep_submissions:
            self.ids.append(submission_id if submission_id is not None else str(number))
            self.kind.append(kind)
            self.offered_s.append(now_s)
            self.accepted_s.append(NAN)
            self.created_s.append(NAN)
            self.dead_lettered_s.append(NAN)
            self.confirmed_s.append(NAN)
            self.attempts.append(0)
            self.outcome.append(PENDING)
            self.reason.append("")
        elif self.keep_times:
            self._open[number] = now_s
        index = int(now_s * self._per_s)
        if index >= self._bins:
            self._grow(index + 64)
        self._offered_column[index] += 1
        return number

    def accepted(self, number: int, now_s: float) -> None:
        if self.keep_submissions:
            self.accepted_s[number] = now_s
        self.accepted_count += 1
        index = int(now_s * self._per_s)
        if index >= self._bins:
            self._grow(index + 64)
        self._accepted_column[index] += 1

    def rejected(self, number: int, now_s: float, reason: str) -> None:
        if self.keep_submissions:
            self.outcome[number] = REJECTED
            self.reason[number] = reason
        elif self.keep_times:
            del self._open[number]
        self.rejected_count += 1
        self.rejected_by[reason] += 1
        self.count("rejected", now_s)

    def created(self, number: int, now_s: float, attempts: int) -> float:
        """Record a creation; the submission's offered time (NaN when neither rows nor times are kept)."""
        offered_s = NAN
        if self.keep_submissions:
            self.created_s[number] = now_s
            self.attempts[number] = attempts
            self.outcome[number] = CREATED
            offered_s = self.offered_s[number]
            self.times_to_created_s.append(now_s - offered_s)
        elif self.keep_times:
            offered_s = self._open.pop(number)
            self.times_to_created_s.append(now_s - offered_s)
        self.created_count += 1
        self.attempts_created += attempts
        if now_s > self.last_created_s:
            self.last_created_s = now_s
        index = int(now_s * self._per_s)
        if index >= self._bins:
            self._grow(index + 64)
        self._created_column[index] += 1
        return offered_s

    def confirmed(self, number: int, now_s: float, offered_s: float) -> None:
        """Submission ``number``'s confirmation email went out (the confirmation journey's first step)."""
        if self.keep_submissions:
            self.confirmed_s[number] = now_s
        if self.keep_submissions or self.keep_times:
            self.times_to_confirmed_s.append(now_s - offered_s)
        self.confirmed_count += 1
        index = int(now_s * self._per_s)
        if index >= self._bins:
            self._grow(index + 64)
        self._confirmed_column[index] += 1

    def dead_lettered(self, number: int, now_s: float, attempts: int, reason: str) -> None:
        if self.keep_submissions:
            self.attempts[number] = attempts
            self.dead_lettered_s[number] = now_s
            self.outcome[number] = DEAD_LETTERED
            self.reason[number] = reason
        elif self.keep_times:
            del self._open[number]
        self.dead_lettered_count += 1
        self.dead_letter_reasons[reason] += 1
        self.count("dead_lettered", now_s)

    def pending_offered_before(self, cutoff_s: float, enough: int) -> int:
        """How many accepted registrations, neither created nor dead-lettered, were offered before ``cutoff_s``
        — a lower bound: counted from the earliest answered on, stopping at the first offered later (one whose
        validation took longer may be answered after it) or once ``enough`` are found. Kept only by a
        summary-only recorder that keeps times (a probe's run); 0 otherwise."""
        found = 0
        for offered_s in self._open.values():  # in the order they were answered
            if offered_s >= cutoff_s or found >= enough:
                break
            found += 1
        return found

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
    confirmation: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The headline figures of summary.json (keys fixed by DESIGN.md, plus a few more), from the recorder's
    running totals and time-to-created values: a summary-only recorder gives the same figures as a full one."""
    if recorder.created_count and len(recorder.times_to_created_s) != recorder.created_count:
        raise ValueError("summarize: this recorder kept neither rows nor times to created "
                         "(Recorder(keep_submissions=False, keep_times=False)); percentiles need one of them")
    totals = {column: recorder.total(column) for column in COUNT_COLUMNS}
    offered_count = recorder.submissions
    created = recorder.created_count
    accepted = recorder.accepted_count
    hits, misses = totals["cache_hits"], totals["cache_misses"]
    throttled_by = {limit: totals[column] for limit, column in THROTTLE_COLUMN.items()}
    bins = recorder.bins_until(simulated_s)
    created_per_bin = np.array(recorder.counts["created"][:bins]) if recorder.counts["created"] else np.zeros(1)
    offered_per_bin = np.array(recorder.counts["offered"][:bins]) if recorder.counts["offered"] else np.zeros(1)
    last_created = recorder.last_created_s if created else None
    first_offered = recorder.first_offered_s if offered_count else 0.0
    last_offered = recorder.last_offered_s if offered_count else 0.0
    settled_s = max(last_created, last_offered) if last_created is not None else last_offered
    arrivals_s = max(last_offered - first_offered, recorder.bin_s)
    active_s = (last_created - first_offered) if last_created is not None else 0.0
    time_to_created = np.frombuffer(recorder.times_to_created_s, dtype=float) if created else np.zeros(0)
    summary: dict[str, Any] = {
        "name": name,
        "mode": mode,
        "seed": seed,
        "simulated_s": round(simulated_s, 3),
        "wall_s": round(wall_s, 3),
        "submissions": {
            "offered": offered_count,
            "accepted": accepted,
            "rejected": recorder.rejected_count,
            "created": created,
            "dead_lettered": recorder.dead_lettered_count,
            "pending": accepted - created - recorder.dead_lettered_count,
            # Shares of the accepted registrations; null when none was accepted.
            "created_share": round(created / accepted, 6) if accepted else None,
            "dead_lettered_share": round(recorder.dead_lettered_count / accepted, 6) if accepted else None,
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
            "mean_created_per_s": round(created / active_s, 3) if active_s > 0 else 0.0,
            "drain_s": round(max(0.0, settled_s - last_offered), 3),
        },
        "time_to_created_s": metrics.time_to_created(time_to_created, accepted),
        "retry_deferred": totals["retry_deferred"],
        "attempts_per_created": round(recorder.attempts_created / created, 4) if created else 0.0,
        "last_created_s": round(last_created, 3) if last_created is not None else None,
        "bin_s": recorder.bin_s,
        "capacity": capacity,
        "demand": {
            "peak_offered_per_s": round(metrics.peak_rate_per_s(offered_per_bin, recorder.bin_s), 3),
            "mean_offered_per_s": round(offered_count / arrivals_s, 3) if offered_count else 0.0,
        },
        "rejected_by": dict(recorder.rejected_by.most_common()),
        "dead_letter_reasons": dict(recorder.dead_letter_reasons.most_common()),
    }
    if confirmation is not None:  # the confirmation journey ran: its figures and the attendee's wait
        summary["confirmation"] = confirmation
        summary["time_to_confirmed_s"] = metrics.times_over_all(
            np.frombuffer(recorder.times_to_confirmed_s, dtype=float), accepted, "of_confirmed")
    summary.update(extra or {})
    return summary


def skeleton_summary(capacity: dict[str, float] | None = None) -> dict[str, Any]:
    """An empty run's summary: every key a run's summary.json has (for checking a path before running), the
    confirmation journey's and the request pool's (added by the drivers) included."""
    summary = summarize(Recorder(1.0), name="", mode="simulated", seed=0, simulated_s=0.0, wall_s=0.0,
                        capacity=capacity or {}, confirmation={"sent": 0, "queued_max": 0, "dropped": 0})
    summary["dataverse"].update(requests_24h=0, pool_24h=0, pool_share=0.0)
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
    if not recorder.keep_submissions and recorder.submissions:
        raise ValueError("submissions.csv needs the per-submission rows, and this run kept none (summary-only)")
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
            map(_seconds, recorder.confirmed_s),
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
