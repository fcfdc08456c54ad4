"""Experiments over scenarios, pure: a grid of ``--vary`` overrides, SLO expressions over summary.json, and
the search for the smallest setting that meets them (a resource: more never hurts) or the largest (a lever such
as the journey's entry limit: more never helps).

Errors::

    SweepError      base (a ValueError): names the option, the bad text and a good example
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from simulator.errors import StampedeError
from simulator.records import STOPPED_BECAUSE
from simulator.scenario import format_duration, parse_duration_s
from simulator.units import time_unit_s

__all__ = ["SweepError", "Vary", "parse_vary", "grid", "Slo", "Verdict", "judge", "check_paths", "parse_slo",
           "Search", "parse_search", "smallest_meeting", "smallest_within", "largest_meeting", "largest_within"]


class SweepError(StampedeError, ValueError):
    """A --vary, --slo or --search value is malformed."""


@dataclass(frozen=True)
class Vary:
    key: str
    values: tuple[str, ...]


def parse_vary(text: str) -> Vary:
    """``"retry.policy=none,exponential"`` → Vary("retry.policy", ("none", "exponential"))."""
    key, sep, values = text.partition("=")
    parts = tuple(v.strip() for v in values.split(",") if v.strip())
    if not sep or not key.strip() or not parts:
        raise SweepError(f"--vary {text!r}: expected key=v1,v2[,...], e.g. --vary retry.policy=none,full-jitter")
    twice = next((v for i, v in enumerate(parts) if v in parts[:i]), None)
    if twice is not None:  # two variants that are the same run, written to one directory
        unique = ",".join(dict.fromkeys(parts))
        raise SweepError(f"--vary {text!r}: {twice} is listed twice; list each value once, e.g. --vary "
                         f"{key.strip()}={unique}")
    return Vary(key.strip(), parts)


def grid(varies: list[Vary]) -> list[list[str]]:
    """Every combination as a list of ``key=value`` overrides (first --vary varies slowest)."""
    return [
        [f"{vary.key}={value}" for vary, value in zip(varies, combo, strict=True)]
        for combo in itertools.product(*(vary.values for vary in varies))
    ]


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}


COUNT_MAPS = ("rejected_by", "dead_letter_reasons")  # summary.json maps that list only the reasons that occurred
# SLO paths that see lost registrations (dead-lettered, or pending at the horizon): the submission counts and
# shares, the reasons, and the time-to-created figures over every accepted registration (not ``of_created``).
LOSS_AWARE = ("submissions.", "dead_letter_reasons.", "time_to_created_s.p", "time_to_created_s.max",
              "time_to_created_s.mean", "time_to_created_s.not_reached", "time_to_confirmed_s.p",
              "time_to_confirmed_s.max")


@dataclass(frozen=True)
class Slo:
    """``path op threshold`` over summary.json, e.g. ``time_to_created_s.p95<=900``."""

    path: str
    op: str
    threshold: float

    def metric(self, summary: dict[str, Any]) -> float | None:
        """The number at ``path``; None where summary.json holds null there (not reached: a percentile among
        registrations never created, no last-created time when nothing was created). A reason absent from a
        count map (``dead_letter_reasons.deadline``) is 0; None too for a run cut short (``stopped_because``: its
        figures are partial). SweepError if the path is not in summary.json."""
        if STOPPED_BECAUSE in summary:
            return None
        node: Any = summary
        parts = self.path.split(".")
        for depth, part in enumerate(parts):
            if isinstance(node, dict) and part not in node and depth == 1 and parts[0] in COUNT_MAPS:
                return 0.0
            if not isinstance(node, dict) or part not in node:
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "(a value)"
                raise SweepError(f"--slo {self}: summary.json has no {self.path!r} (at {part!r}; known: {known})")
            node = node[part]
        if node is None:
            return None
        if isinstance(node, bool) or not isinstance(node, int | float):
            raise SweepError(f"--slo {self}: {self.path} is not a number (got {node!r})")
        return float(node)

    def holds(self, summary: dict[str, Any]) -> bool:
        """Whether the SLO holds; a null metric never does (see :func:`judge` for why not)."""
        value = self.metric(summary)
        return value is not None and _OPERATORS[self.op](value, self.threshold)

    @property
    def sees_losses(self) -> bool:
        """Whether this SLO's metric counts registrations that were lost (see LOSS_AWARE)."""
        return self.path.startswith(LOSS_AWARE) and not self.path.startswith("time_to_created_s.of_created")

    def __str__(self) -> str:
        unit_s = time_unit_s(self.path)  # a time is echoed as a duration: "time_to_created_s.p95<=15m"
        shown = format_duration(self.threshold * unit_s) if unit_s and self.threshold >= 0 else f"{self.threshold:g}"
        return f"{self.path}{self.op}{shown}"


@dataclass(frozen=True)
class Verdict:
    """Whether every SLO holds for one run, and why not (one sentence per failed SLO, or for the losses)."""

    met: bool
    reasons: tuple[str, ...] = ()

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)


def judge(slos: Sequence[Slo], summary: dict[str, Any]) -> Verdict:
    """Every SLO over one summary. An SLO whose metric is null or missing is not met, with the reason. A run
    that lost registrations (dead-lettered, or still pending at the horizon) is not met unless one of the SLOs
    looks at the losses (``submissions.*``, ``dead_letter_reasons.*``, or a time-to-created percentile, which
    counts them as never created): ``last_created_s<=3600`` alone says nothing about the ones never created.
    A run cut short because an SLO could no longer hold (``stopped_because``) is not met, for that reason."""
    if STOPPED_BECAUSE in summary:  # "<slo> cannot hold: <counts>": the counts differ run to run, the head not
        return Verdict(False, (summary[STOPPED_BECAUSE].partition(": ")[0] + " (run cut short)",))
    reasons: list[str] = []
    for slo in slos:
        try:
            value = slo.metric(summary)
        except SweepError as exc:
            reasons.append(str(exc).removeprefix("--slo "))
            continue
        if value is None:
            reasons.append(f"{slo}: {slo.path} is null ({_null_reason(slo.path, summary)})")
        elif not _OPERATORS[slo.op](value, slo.threshold):
            reasons.append(f"{slo}: {slo.path} = {value:g}")
    subs = summary.get("submissions", {})
    lost = int(subs.get("dead_lettered", 0) or 0) + int(subs.get("pending", 0) or 0)
    if lost and not any(slo.sees_losses for slo in slos):
        reasons.append(f"{lost:,} of {int(subs.get('accepted', 0)):,} accepted registrations were lost "
                       f"({int(subs.get('dead_lettered', 0)):,} dead-lettered, {int(subs.get('pending', 0)):,} "
                       "pending at the horizon) and no SLO counts them — add one, e.g. "
                       "\"submissions.created_share>=0.99\"")
    return Verdict(not reasons, tuple(reasons))


def check_paths(slos: Sequence[Slo], skeleton: dict[str, Any]) -> None:
    """SweepError for an SLO whose path names nothing in summary.json (checked on an empty run's summary, whose
    keys every run has), before any probe runs."""
    for slo in slos:
        slo.metric(skeleton)


def _null_reason(path: str, summary: dict[str, Any]) -> str:
    subs = summary.get("submissions", {})
    accepted, created = subs.get("accepted"), subs.get("created")
    if accepted == 0:
        return "no registration was accepted"
    if path.startswith("time_to_created_s") and isinstance(accepted, int | float) and isinstance(created, int | float):
        return f"not reached: {1 - created / accepted:.0%} never created"
    if created == 0:
        return "no registration was created"
    return "not reached"


def parse_slo(text: str) -> Slo:
    """``PATH OP THRESHOLD``; where the figure at PATH is a time (its name says ``_s`` or ``_ms``) the threshold
    may be a duration ("15m", "2h"), else it is a number in the figure's own unit."""
    for op in ("<=", ">=", "==", "!=", "<", ">"):  # two-character operators first
        path, sep, value = text.partition(op)
        if sep:
            path = path.strip()
            try:
                return Slo(path, op, float(value))
            except ValueError:
                unit_s = time_unit_s(path)
                if unit_s is None:
                    break
                try:
                    return Slo(path, op, parse_duration_s(value.strip()) / unit_s)
                except ValueError:
                    raise SweepError(f"--slo {text!r}: {path} is a time; expected a number of "
                                     f"{'milliseconds' if unit_s < 1 else 'seconds'} or a duration, e.g. "
                                     f"\"{path}{op}15m\"") from None
    raise SweepError(
        f"--slo {text!r}: expected PATH OP NUMBER over summary.json keys (a duration where PATH is a time), e.g. "
        "\"time_to_created_s.p95<=15m\" or \"submissions.dead_lettered==0\""
    )


SearchKind = Literal["integer", "number", "duration"]
TOLERANCE_SHARE = 0.01  # default --tolerance of a float or duration search: 1 % of the range


@dataclass(frozen=True)
class Search:
    """``key=LOW..HIGH``: whole numbers are searched exactly; floats and durations (seconds inside) by
    bisection until the bracket is at most ``tolerance`` wide."""

    key: str
    low: float
    high: float
    kind: SearchKind = "integer"
    tolerance: float = 1.0
    step: int = 1  # integers: only low, low + step, … are probed (``plan --step``)

    def override(self, value: float) -> str:
        """The ``--set`` text for one probe (durations as seconds, which every duration key accepts)."""
        return f"{self.key}={int(value)}" if self.kind == "integer" else f"{self.key}={float(value)!r}"

    def show(self, value: float | None) -> str:
        if value is None:
            return "—"
        if self.kind == "integer":
            return str(int(value))
        if self.kind == "number":
            return f"{value:.6g}"
        for unit, seconds in (("h", 3600.0), ("m", 60.0)):
            if value >= seconds:
                return f"{value / seconds:.4g}{unit}"
        return f"{value:.4g}s"

    @property
    def max_probes(self) -> int:
        """The most values the bisection evaluates (``high`` first, then halving the bracket)."""
        if self.kind == "integer":
            return 1 + math.ceil(math.log2((self.high - self.low) // self.step + 1))
        if self.high == self.low:
            return 1
        return 2 + max(0, math.ceil(math.log2((self.high - self.low) / self.tolerance)))

    def smallest(self, meets: Callable[[Any], bool], start: float | None = None) -> float | None:
        """The smallest value meeting ``meets`` (exact for integers, within ``tolerance`` above it otherwise);
        a whole-number search probes ``start`` first and gallops from it (:func:`smallest_meeting`)."""
        if self.kind == "integer":
            first = None if start is None else math.ceil((start - self.low) / self.step)
            index = smallest_meeting(0, self._steps(), lambda i: meets(self._at(i)), first)
            return None if index is None else self._at(index)
        return smallest_within(self.low, self.high, meets, self.tolerance)

    def largest(self, meets: Callable[[Any], bool]) -> float | None:
        """The largest value meeting ``meets`` (exact for integers, within ``tolerance`` below it otherwise)."""
        if self.kind == "integer":
            index = largest_meeting(0, self._steps(), lambda i: meets(self._at(i)))
            return None if index is None else self._at(index)
        return largest_within(self.low, self.high, meets, self.tolerance)

    def _steps(self) -> int:
        return int(self.high - self.low) // self.step

    def _at(self, index: int) -> int:
        return int(self.low) + index * self.step


_SEARCH_EXAMPLE = "e.g. --search dataverse.app_users=1..16, --search retry.cap=1m..10m or --search retry.base=0.5..8"


def _bound(text: str) -> tuple[SearchKind, float] | None:
    text = text.strip()
    for kind, read in (("integer", int), ("number", float)):
        try:
            value = float(read(text))
        except ValueError:
            continue
        return (kind, value) if math.isfinite(value) else None  # type: ignore[return-value]
    try:
        return "duration", parse_duration_s(text)
    except ValueError:
        return None


def parse_search(text: str, tolerance: str | None = None, step: int | None = None) -> Search:
    """``"dataverse.app_users=1..16"`` → Search("dataverse.app_users", 1, 16); ``"retry.cap=1m..10m"`` → a
    duration search in seconds (60..600); ``"retry.base=0.5..8"`` → a float search. ``tolerance`` (the
    ``--tolerance`` text: a number, or a duration for a duration search) defaults to 1 % of the range."""
    key, sep, span = text.partition("=")
    low_text, dots, high_text = span.partition("..")
    low, high = _bound(low_text), _bound(high_text)
    if not sep or not dots or not key.strip() or low is None or high is None:
        raise SweepError(f"--search {text!r}: expected key=LOW..HIGH with numbers or durations, {_SEARCH_EXAMPLE}")
    kinds = {low[0], high[0]}
    if "duration" in kinds:
        kind: SearchKind = "duration"
    elif kinds == {"integer"}:
        kind = "integer"
    else:
        kind = "number"
    if low[1] > high[1]:
        raise SweepError(f"--search {text!r}: the range is reversed ({low_text.strip()} is above "
                         f"{high_text.strip()}); write it low to high, e.g. --search "
                         f"{key.strip()}={high_text.strip()}..{low_text.strip()}")
    if kind == "integer":
        if tolerance is not None:
            raise SweepError(f"--tolerance {tolerance!r}: whole-number ranges are searched exactly; --tolerance "
                             "is for a float or duration range, e.g. --search retry.cap=1m..10m --tolerance 10s")
        if step is not None and step < 1:
            raise SweepError(f"--step {step}: expected a whole number >= 1, e.g. --step 10000")
        return Search(key.strip(), low[1], high[1], step=step or 1)
    if step is not None:
        raise SweepError(f"--step {step}: for a whole-number range; a float or duration range takes --tolerance, "
                         "e.g. --search retry.cap=1m..10m --tolerance 10s")
    return Search(key.strip(), low[1], high[1], kind, _tolerance(tolerance, kind, high[1] - low[1]))


def _tolerance(text: str | None, kind: SearchKind, width: float) -> float:
    if text is None:
        return width * TOLERANCE_SHARE if width > 0 else 1.0
    try:
        value = parse_duration_s(text) if kind == "duration" else float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        example = "10s" if kind == "duration" else "0.1"
        raise SweepError(f"--tolerance {text!r}: expected a positive {'duration' if kind == 'duration' else 'number'}"
                         f", e.g. --tolerance {example}")
    return value


def smallest_within(low: float, high: float, meets: Callable[[float], bool], tolerance: float) -> float | None:
    """The smallest value in [low, high] meeting ``meets``, to within ``tolerance`` (the answer is at most that
    far above the true threshold, and always a value that was seen to meet it); None if ``high`` does not.
    Same monotone assumption as :func:`smallest_meeting`."""
    if not meets(high):
        return None
    if low == high or meets(low):
        return low
    while high - low > tolerance:
        middle = (low + high) / 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


def largest_within(low: float, high: float, meets: Callable[[float], bool], tolerance: float) -> float | None:
    """The largest value in [low, high] meeting ``meets``, to within ``tolerance`` (at most that far below the
    true threshold, always a value seen to meet it); None if ``low`` does not. Assumes more never helps:
    :func:`smallest_within` on the mirrored line, where more never hurts."""
    mirrored = smallest_within(-high, -low, lambda value: meets(-value), tolerance)
    return None if mirrored is None else -mirrored


def largest_meeting(low: int, high: int, meets: Callable[[int], bool]) -> int | None:
    """The largest value in [low, high] for which ``meets`` holds, by bisection — which assumes more of the
    searched lever never helps (a faster entry limit or send rate only adds load). None if even ``low`` fails.
    When the answer is below ``high``, the value just above it was probed and failed."""
    if not meets(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if meets(middle):
            low = middle
        else:
            high = middle - 1
    return low


def smallest_meeting(low: int, high: int, meets: Callable[[int], bool], start: int | None = None) -> int | None:
    """The smallest value in [low, high] for which ``meets`` holds, by bisection — which assumes more of the
    searched resource never hurts (true for app users, web servers, processors, limits). None if even
    ``high`` does not meet it.

    With ``start`` (a likely answer: `plan`'s analytic minimum), ``start`` is probed first, then values
    galloping away from it (1, 1, 1, 1, 2, 4 … steps: up while they fail, down while they meet) until the
    answer is bracketed, then bisected. An answer near the start costs a few probes, mostly failing ones (the
    cheap kind when a probe stops at its first decisive replications, hence four single steps first), and
    ``high`` is probed only if nothing below meets."""
    if start is not None and low <= start <= high:
        steps = (1 << max(0, k - 3) for k in itertools.count())  # 1, 1, 1, 1, 2, 4, 8 …
        if meets(start):
            high = start
            while low < high:
                candidate = max(low, high - next(steps))
                if not meets(candidate):
                    low = candidate + 1
                    break
                high = candidate
        else:
            low = start + 1
            while True:
                if low > high:
                    return None
                candidate = min(high, low + next(steps) - 1)
                if meets(candidate):
                    high = candidate
                    break
                low = candidate + 1
    elif not meets(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle + 1
    return low
