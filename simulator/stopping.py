"""When a `plan` probe's replication has certainly failed its SLOs, pure: the run can stop there.

A probe only needs each replication's verdict (every SLO holds, or not: :func:`simulator.sweep.judge`). Some
SLOs are settled long before the run ends: once more than 5 % of the registrations that can still be accepted
have waited over 15 minutes, ``time_to_created_s.p95<=15m`` cannot hold, whatever happens next. A
:class:`FailureWatch` looks at a run's :class:`~simulator.records.Recorder` now and then (between the virtual
driver's chunks, never per submission) and names the first SLO that can no longer hold; the probe's replication
stops there, not met. A run that ``simulate`` asked for always runs to its end.

What is final at ``now_s``, and what bounds the rest:

- the run's arrivals are counted from the arrival stream as it was when the run started
  (:func:`simulator.arrivals.arrival_count`, the very journeys the workload offers; only once a rule could
  fire), so the registrations accepted by the end are at most ``arrivals − rejected so far``
  (each arrival is offered once; a rejection is final);
- a registration's time to created runs from its offer: one created is final; one dead-lettered never is
  created; one still pending that was offered more than T ago can only end over T (or never created);
- counts of dead letters and rejections (by reason too) and the last creation time only grow.

Each rule below is a *necessary* condition for its SLO to hold at the end, checked against those bounds; where
no sound rule exists the watch says nothing and the run goes on to its end (never a stop on a guess):

- ``time_to_created_s.pX`` (and ``max``, X = 100) with ``<=`` or ``<`` T: numpy's linear percentile over the
  N accepted registrations is at least the ⌊(N−1)·X/100⌋-th smallest time (0-based), so it can hold only if at
  most N − 1 − ⌊(N−1)·X/100⌋ of them end over T; that allowance grows with N, so N at its bound is the most
  lenient. The times counted over T are those over T + 0.5 ms (summary.json rounds to 1 ms);
- ``time_to_created_s.mean`` with ``<=``/``<``: null (not met) once one registration is dead-lettered; and at
  least the sum of the final times known so far over the most registrations there can be;
- ``last_created_s`` with ``<=``/``<``: at least the latest creation so far; and, when no SLO counts lost
  registrations (so a lost one fails the run, :func:`~simulator.sweep.judge`), at least now while one is pending;
- counts that only grow — ``submissions.dead_lettered``, ``submissions.rejected``, ``dead_letter_reasons.*``,
  ``rejected_by.*`` — with ``<=``, ``<`` or ``==``: their count so far;
- ``submissions.dead_lettered_share`` with ``<=``/``<``: at least dead-lettered ÷ the most accepted;
  ``submissions.created_share`` and ``submissions.created`` with ``>=``/``>``: at most (most accepted −
  dead-lettered) ÷ most accepted, and most accepted − dead-lettered;
- lost registrations when no SLO counts them: a dead letter is a loss, so the run is not met.

Every other SLO (other operators, ``time_to_confirmed_s``, throughput, Dataverse and cache figures) has no rule.
"""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.records import Recorder
from simulator.sweep import Slo

__all__ = ["FailureWatch", "late_allowance"]

ROUNDING_S = 0.0005  # summary.json rounds times to 1 ms: a time over T + 0.5 ms is over T once rounded
_HOLDS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, "<": operator.lt, "==": operator.le,
                                                     ">=": operator.ge, ">": operator.gt}


def late_allowance(accepted: int, point: int) -> int:
    """How many of ``accepted`` times may be over T while their ``point``-th percentile (numpy's "linear") can
    still be at most T: ``accepted − 1 − ⌊(accepted − 1)·point/100⌋``, in whole numbers. (numpy finds the
    position in floating point: one a hair below a whole k weighs the k-th smallest by 1 − 1e-16, which moves
    the figure by far less than the 0.5 ms margin of ``ROUNDING_S``.)"""
    if accepted <= 0:
        return 0
    return accepted - 1 - (accepted - 1) * point // 100


@dataclass
class _Late:
    """Times to created over one threshold, counted incrementally over the recorder's growing array."""

    over_s: float
    seen: int = 0
    late: int = 0
    total_s: float = 0.0

    def update(self, times: array) -> None:
        if len(times) > self.seen:
            fresh = np.frombuffer(times[self.seen:], dtype=float)  # a copy: the recorder's array stays growable
            self.late += int(np.count_nonzero(fresh > self.over_s))
            self.total_s += float(fresh.sum())
            self.seen = len(times)


@dataclass
class FailureWatch:
    """Watches one run for an SLO that can no longer hold. ``count_arrivals()``: every offer the run will make,
    asked only once a rule would fire even with the final accepted count at its least (below)."""

    slos: Sequence[Slo]
    count_arrivals: Callable[[], int]
    _late: dict[float, _Late] = field(default_factory=dict)
    _arrivals: int | None = None

    def __post_init__(self) -> None:
        self._loss_blind = not any(slo.sees_losses for slo in self.slos)

    def failed(self, recorder: Recorder, now_s: float) -> str | None:
        """``"<slo> cannot hold: <why, in counts>"`` for the first SLO settled as failed at ``now_s``, else None.

        Every rule is more lenient the more registrations may still be accepted, so the rules are first tried
        with the accepted so far (the least the final count can be): where none fires there, none fires at the
        true bound, and the arrivals need not be counted (counting them costs a pass over the arrival stream,
        about 2 % of a replication: most runs that meet never pay it)."""
        dead = recorder.dead_lettered_count
        if self._loss_blind and dead:
            return (f"lost registrations and no SLO counts them: {dead:,} dead-lettered already (add one, e.g. "
                    "\"submissions.created_share>=0.99\")")
        if self._first(recorder, now_s, recorder.accepted_count, dead) is None:
            return None
        if self._arrivals is None:
            self._arrivals = self.count_arrivals()
        if recorder.submissions > self._arrivals:  # the bound below would be unsound: a bug, not a user's mistake
            raise RuntimeError(f"FailureWatch: {recorder.submissions} offers, but {self._arrivals} arrivals counted")
        return self._first(recorder, now_s, self._arrivals - recorder.rejected_count, dead)  # accepted, at most

    def _first(self, recorder: Recorder, now_s: float, most: int, dead: int) -> str | None:
        for slo in self.slos:
            why = self._why(slo, recorder, now_s, most, dead)
            if why is not None:
                return f"{slo} cannot hold: {why}"
        return None

    def _why(self, slo: Slo, recorder: Recorder, now_s: float, most: int, dead: int) -> str | None:
        path, op, threshold = slo.path, slo.op, slo.threshold
        holds = _HOLDS.get(op)
        if holds is None:
            return None
        upper = op in (">=", ">")  # the rule bounds the final value from above, else from below
        if path.startswith("time_to_created_s.") and not upper and op != "==":
            return self._time_to_created(path.removeprefix("time_to_created_s."), threshold, recorder, now_s,
                                         most, dead)
        if path == "last_created_s" and not upper and op != "==":
            lower = recorder.last_created_s
            pending = recorder.accepted_count - recorder.created_count - dead
            if self._loss_blind and pending:
                lower = max(lower, now_s)
            if lower > -math.inf and not holds(round(lower, 3), threshold):
                return (f"the last registration is created at {lower:,.0f} s or later"
                        + (f" ({pending:,} still pending)" if lower == now_s and pending else ""))
            return None
        count = self._growing_count(path, recorder)
        if count is not None and not upper:
            return None if holds(count, threshold) else f"{count:,} already"
        if most == 0:
            return None
        if path == "submissions.dead_lettered_share" and not upper and op != "==":
            share = round(dead / most, 6)
            return None if holds(share, threshold) else f"{dead:,} dead-lettered of at most {most:,} accepted"
        if path in ("submissions.created_share", "submissions.created") and upper:
            bound = (most - dead) / most if path.endswith("share") else most - dead
            return None if holds(round(bound, 6), threshold) else (
                f"{dead:,} of at most {most:,} accepted are dead-lettered already")
        return None

    def _time_to_created(self, figure: str, threshold: float, recorder: Recorder, now_s: float, most: int,
                         dead: int) -> str | None:
        if figure == "mean":
            if dead:
                return f"{dead:,} dead-lettered already (the mean is null once one is never created)"
            total_s = self._counted(threshold, recorder).total_s
            if most and total_s / most > threshold + ROUNDING_S:
                return f"the times so far already sum to over {threshold:g} s for each of at most {most:,} accepted"
            return None
        point = 100 if figure == "max" else int(figure[1:]) if figure[1:].isdigit() and figure[0] == "p" else None
        if point is None or most == 0:
            return None
        allowed = late_allowance(most, point)
        over_s = threshold + ROUNDING_S
        created_late = self._counted(threshold, recorder).late
        # pending ones offered before now − T can only end over T; counted only as far as needed
        need = allowed + 1 - created_late - dead
        waiting = recorder.pending_offered_before(now_s - over_s, need) if need > 0 else 0
        late = created_late + dead + waiting
        if late <= allowed:
            return None
        return (f"{late:,} of at most {most:,} accepted already waited over {threshold:g} s ({created_late:,} "
                f"created late, {dead:,} dead-lettered, {waiting:,} pending)")

    def _counted(self, threshold: float, recorder: Recorder) -> _Late:
        late = self._late.get(threshold)
        if late is None:
            late = self._late[threshold] = _Late(threshold + ROUNDING_S)
        late.update(recorder.times_to_created_s)
        return late

    @staticmethod
    def _growing_count(path: str, recorder: Recorder) -> int | None:
        if path == "submissions.dead_lettered":
            return recorder.dead_lettered_count
        if path == "submissions.rejected":
            return recorder.rejected_count
        head, _, reason = path.partition(".")
        if head == "dead_letter_reasons" and reason:
            return recorder.dead_letter_reasons[reason]
        if head == "rejected_by" and reason:
            return recorder.rejected_by[reason]
        return None
