"""Dataverse service protection: the three per-key limits, pure (time is passed in, nothing is global).

Dataverse protects itself with three limits that every caller meets on every call (S8, ``api-limits.md``):

- **requests** — at most 6,000 requests in a 300 s sliding window;
- **execution time** — at most 1,200 s (20 min) of combined service time in the same sliding window;
- **concurrency** — at most 52 requests in progress at once.

They are not global. Each *web server* of an environment enforces them independently, and per *user*: an
application user talking to two web servers has two independent budgets, and two application users on one
web server have one each. A trial environment has one web server; bigger ones have more. So the unit of
enforcement here is a **key** = (app user, web server), and a :class:`KeyLimiter` is one key. The engine keeps
one per key and routes each call (with or without server affinity); this module knows nothing of routing,
latency or SimPy.

A call that breaks a limit is answered with HTTP 429, a ``Retry-After`` header in whole seconds and the error
body ``{"error": {"code": "0x80072322", "message": "Number of requests exceeded …"}}``. Microsoft documents
the codes and messages (reference §3.1); :class:`Throttled` carries them, with the configured numbers
substituted, so a limit fault that lowers the limit to 3,000 also says 3,000.

Records and exceptions::

    Throttled                a 429 as data: returned by KeyLimiter.admit, never raised
      .limit = "requests"      0x80072322  Retry-After: until the oldest request that must leave the window has left
      .limit = "execution"     0x80072321  Retry-After: until enough execution time has left the window
      .limit = "concurrency"   0x80072326  Retry-After: LimitSettings.concurrency_retry_after_s (undocumented)
    ValueError               LimitSettings rejected at construction (never raised on the hot path)
    RuntimeError             KeyLimiter.finish() without a matching admit() — a bug in the caller

Why the execution limit can be exact here. The real service measures a request's execution time after it ran
and charges it then, so it only notices an overrun afterwards. The model knows each call's service time when
it admits the call (the engine draws it before the call starts), so :meth:`KeyLimiter.admit` charges it at
admission, at ``now_s``: the window then holds exactly the execution the admitted calls will cost, and
"admit iff what is already charged + this call's execution fits the budget" never lets admitted execution
exceed the budget in any window. Execution is accounted in whole microseconds (integers), so the running sum
never drifts over millions of calls.

Windows are half-open, ``(now_s - window_s, now_s]``: an entry logged at ``t`` leaves the window at
``t + window_s`` exactly (the comparison is always written ``t + window_s <= now_s``, the same float sum a
caller gets by waiting, so an honoured Retry-After is never one float ulp short). ``now_s`` must never
decrease from one call to the next on the same key.

Explicit, configurable assumptions (the real service does not document them):

- ``enforcement = "lagging"``: the real service "lets you exceed the number of requests and execution time
  limits for a 5-minute period before the limits take effect" (S8). We model that with a *view* of the
  requests/execution windows that is refreshed at most every ``enforcement_lag_s``: the first admit at or after
  the refresh time recomputes "over or not" exactly (would *this* request be throttled?). While the view says
  "not over", requests and execution are not checked at all (they are still logged and charged), so a burst
  overshoots; while it says "over", the limiter enforces exactly and throttles with the exact Retry-After.
  Lag only ever makes the limiter more lenient than ``"exact"``, never stricter. Concurrency stays immediate.
  Assigning new settings forces a refresh on the next admit.
- ``extend_retry_after = True``: "If the application continues to send such demanding requests, the duration
  is extended" (S8). A request throttled by the *requests* limit is still written to the request log (not
  charged execution), so a caller that keeps sending pushes its own room further out. Its Retry-After is
  computed after that entry is logged, so a caller that honours it is admitted when it returns.
- A single call whose execution alone exceeds the whole budget is admitted only into an empty execution
  window (else it could never run); its Retry-After is until the window is empty.
- Retry-After on a concurrency 429 is ``ceil(concurrency_retry_after_s)`` (at least 1): concurrency frees up as
  soon as any call finishes, which this module cannot predict.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "REQUESTS",
    "EXECUTION",
    "CONCURRENCY",
    "LimitSettings",
    "Throttled",
    "KeyLimiter",
]

REQUESTS, EXECUTION, CONCURRENCY = "requests", "execution", "concurrency"

_CODES = {REQUESTS: "0x80072322", EXECUTION: "0x80072321", CONCURRENCY: "0x80072326"}
_US_PER_S = 1_000_000
_NEVER_BINDS = 2**62  # an amount (µs or ms) beyond any run: a larger limit, even one whose product overflows, is it


def _whole_units(seconds: float, per_s: int) -> int:
    """``seconds`` in whole units (µs, ms), capped at _NEVER_BINDS: a finite but huge limit (1e308 s) times
    the units per second is infinite, which ``round`` refuses — such a limit simply never binds."""
    amount = seconds * per_s
    return round(amount) if amount < _NEVER_BINDS else _NEVER_BINDS
_ENFORCEMENTS = ("exact", "lagging")


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """The limits of one key, Microsoft's defaults unless configured (reference §3.1).

    Choose ``enforcement="exact"`` for capacity planning against the documented limits (a conservative
    answer: nothing gets through that the documented limits forbid); ``"lagging"`` to see how a client
    behaves when the service lets a burst through and then bites with a long Retry-After.
    """

    requests_limit: int = 6000
    execution_limit_s: float = 1200.0
    window_s: float = 300.0
    concurrency_limit: int = 52
    enforcement: str = "exact"  # "exact" | "lagging"
    enforcement_lag_s: float = 30.0  # lagging: the view of the window is refreshed at most this often
    extend_retry_after: bool = False  # requests-throttled calls still enter the request log
    concurrency_retry_after_s: float = 1.0  # undocumented; an assumption

    def __post_init__(self) -> None:
        _check_whole(self, "requests_limit", "a whole number of requests >= 1, like 6000")
        _check_whole(self, "concurrency_limit", "a whole number of requests >= 1, like 52")
        _check_seconds(self, "execution_limit_s", positive=True, example="1200.0 (20 minutes)")
        _check_seconds(self, "window_s", positive=True, example="300.0 (5 minutes)")
        _check_seconds(self, "enforcement_lag_s", positive=False, example="30.0")
        _check_seconds(self, "concurrency_retry_after_s", positive=False, example="1.0")
        if self.enforcement not in _ENFORCEMENTS:
            raise ValueError(
                f"LimitSettings.enforcement = {self.enforcement!r} — expected one of {', '.join(_ENFORCEMENTS)}"
            )

    def with_overrides(
        self,
        requests_limit: int | None = None,
        execution_limit_s: float | None = None,
        concurrency_limit: int | None = None,
    ) -> LimitSettings:
        """These settings with some limits replaced (a ``limit`` fault); ``None`` keeps the current value."""
        changes: dict[str, Any] = {}
        if requests_limit is not None:
            changes["requests_limit"] = requests_limit
        if execution_limit_s is not None:
            changes["execution_limit_s"] = execution_limit_s
        if concurrency_limit is not None:
            changes["concurrency_limit"] = concurrency_limit
        return replace(self, **changes) if changes else self


def _check_whole(settings: LimitSettings, name: str, expected: str) -> None:
    value = getattr(settings, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"LimitSettings.{name} = {value!r} — expected {expected}")


def _check_seconds(settings: LimitSettings, name: str, *, positive: bool, example: str) -> None:
    value = getattr(settings, name)
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"LimitSettings.{name} = {value!r} — expected seconds {bound}, like {example}")


@dataclass(frozen=True, slots=True)
class Throttled:
    """A 429 from one key: which limit, when to come back, and the error Dataverse's Web API sends."""

    limit: str  # REQUESTS | EXECUTION | CONCURRENCY
    retry_after_s: int  # whole seconds, >= 1 (the Retry-After header)
    code: str  # "0x80072322" requests, "0x80072321" execution, "0x80072326" concurrency
    message: str  # Microsoft's text with the configured numbers

    @property
    def error_body(self) -> dict[str, dict[str, str]]:
        """The JSON body of the 429, as the Web API sends it."""
        return {"error": {"code": self.code, "message": self.message}}


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _requests_message(settings: LimitSettings) -> str:
    return (
        f"Number of requests exceeded the limit of {settings.requests_limit} "
        f"over time window of {_format_number(settings.window_s)} seconds."
    )


def _execution_message(settings: LimitSettings) -> str:
    # The double space before "milliseconds" is in Microsoft's current text (S8); kept verbatim.
    limit_ms = _whole_units(settings.execution_limit_s, 1000)
    return (
        f"Combined execution time of incoming requests exceeded limit of {limit_ms:,}  milliseconds "
        f"over time window of {_format_number(settings.window_s)} seconds. "
        "Decrease number of concurrent requests or reduce the duration of requests and try again later."
    )


def _concurrency_message(settings: LimitSettings) -> str:
    return f"Number of concurrent requests exceeded the limit of {settings.concurrency_limit}."


def _whole_seconds_until(expires_s: float, now_s: float) -> int:
    """The smallest whole ``r >= 1`` with ``expires_s <= now_s + r`` — evaluated in floats, as the check is."""
    wait_s = math.ceil(expires_s - now_s)
    if wait_s < 1:
        wait_s = 1
    # ceil of the rounded difference can be one above the float sum a caller will compute (now_s + wait_s);
    # settle on that sum. The upward step is a guard: round-to-nearest makes it all but unreachable.
    while expires_s > now_s + wait_s:
        wait_s += 1
    while wait_s > 1 and expires_s <= now_s + (wait_s - 1):
        wait_s -= 1
    return wait_s


class KeyLimiter:
    """One (app user, web server) key of Dataverse, enforcing its own three limits independently.

    Each web server enforces the limits independently, per user: this object is the whole state of one such
    pair — a sliding log of request times, a sliding log of execution charged, and the number of calls in
    progress. ``admit`` answers at ``now_s``; ``finish`` is called when an admitted call completes.
    ``settings`` may be reassigned at any time (a limit fault); the logs are kept and the new limits apply
    from the next ``admit``.
    """

    __slots__ = (
        "in_flight",
        "_settings",
        "_request_log",
        "_execution_times",
        "_execution_us",
        "_execution_sum_us",
        "_window_s",
        "_requests_limit",
        "_execution_limit_us",
        "_concurrency_limit",
        "_lagging",
        "_lag_s",
        "_extend",
        "_concurrency_throttled",
        "_requests_message",
        "_execution_message",
        "_requests_throttled",
        "_execution_throttled",
        "_view_over",
        "_next_refresh_s",
    )

    def __init__(self, settings: LimitSettings) -> None:
        self.in_flight = 0
        self._request_log: deque[float] = deque()  # times of logged requests, oldest first
        self._execution_times: deque[float] = deque()  # times execution was charged, oldest first …
        self._execution_us: deque[int] = deque()  # … and how much (µs, always > 0)
        self._execution_sum_us = 0
        self._view_over = False
        self._next_refresh_s = -math.inf
        self.settings = settings

    @property
    def settings(self) -> LimitSettings:
        return self._settings

    @settings.setter
    def settings(self, settings: LimitSettings) -> None:
        # Everything admit needs is unpacked here once, so the hot path reads plain slots.
        self._settings = settings
        self._window_s = float(settings.window_s)
        self._requests_limit = settings.requests_limit
        self._execution_limit_us = _whole_units(settings.execution_limit_s, _US_PER_S)
        self._concurrency_limit = settings.concurrency_limit
        self._lagging = settings.enforcement == "lagging"
        self._lag_s = float(settings.enforcement_lag_s)
        self._extend = settings.extend_retry_after
        self._requests_message = _requests_message(settings)
        self._execution_message = _execution_message(settings)
        # Throttled records are immutable and few (one per Retry-After value, at most ~window_s of them),
        # so each is built once and a throttled call allocates nothing.
        self._requests_throttled: dict[int, Throttled] = {}
        self._execution_throttled: dict[int, Throttled] = {}
        self._concurrency_throttled = Throttled(
            CONCURRENCY,
            max(1, math.ceil(settings.concurrency_retry_after_s)),
            _CODES[CONCURRENCY],
            _concurrency_message(settings),
        )
        self._next_refresh_s = -math.inf  # a lagging view is taken afresh under new limits

    def admit(self, now_s: float, execution_s: float) -> Throttled | None:
        """Admit a call at ``now_s`` costing ``execution_s`` of service time, or say why not.

        ``None`` means admitted: the request is logged at ``now_s``, its execution is charged at ``now_s``
        and it counts as in flight until :meth:`finish`. Otherwise the first violated limit, checked in the
        order concurrency, requests, execution. ``now_s`` never decreases between calls; ``execution_s >= 0``.
        """
        if self.in_flight >= self._concurrency_limit:
            return self._concurrency_throttled
        window_s = self._window_s
        log = self._request_log
        while log and log[0] + window_s <= now_s:
            log.popleft()
        times = self._execution_times
        if times and times[0] + window_s <= now_s:
            amounts = self._execution_us
            while times and times[0] + window_s <= now_s:
                times.popleft()
                self._execution_sum_us -= amounts.popleft()
        execution_us = round(execution_s * _US_PER_S)
        charged_us = self._execution_sum_us
        check = True
        if self._lagging:
            if now_s >= self._next_refresh_s:
                self._next_refresh_s = now_s + self._lag_s
                self._view_over = len(log) >= self._requests_limit or (
                    charged_us > 0 and charged_us + execution_us > self._execution_limit_us
                )
            check = self._view_over
        if check:
            if len(log) >= self._requests_limit:
                return self._throttle_requests(now_s)
            if charged_us and charged_us + execution_us > self._execution_limit_us:
                return self._throttle_execution(now_s, execution_us)
        log.append(now_s)
        if execution_us:
            times.append(now_s)
            self._execution_us.append(execution_us)
            self._execution_sum_us = charged_us + execution_us
        self.in_flight += 1
        return None

    def finish(self) -> None:
        """An admitted call completed: it no longer counts against concurrency."""
        if self.in_flight <= 0:
            raise RuntimeError("KeyLimiter.finish() called with no admitted call in flight")
        self.in_flight -= 1

    def _throttle_requests(self, now_s: float) -> Throttled:
        log = self._request_log
        if self._extend:
            log.append(now_s)
        # Room for one more needs len(log) - limit + 1 of the oldest entries gone; the last of them decides.
        expires_s = log[len(log) - self._requests_limit] + self._window_s
        retry_after_s = _whole_seconds_until(expires_s, now_s)
        throttled = self._requests_throttled.get(retry_after_s)
        if throttled is None:
            throttled = Throttled(REQUESTS, retry_after_s, _CODES[REQUESTS], self._requests_message)
            self._requests_throttled[retry_after_s] = throttled
        return throttled

    def _throttle_execution(self, now_s: float, execution_us: int) -> Throttled:
        remaining_us = self._execution_sum_us
        limit_us = self._execution_limit_us
        expires_s = now_s
        for charged_s, amount_us in zip(self._execution_times, self._execution_us, strict=True):
            remaining_us -= amount_us
            if remaining_us == 0 or remaining_us + execution_us <= limit_us:
                expires_s = charged_s + self._window_s
                break
        retry_after_s = _whole_seconds_until(expires_s, now_s)
        throttled = self._execution_throttled.get(retry_after_s)
        if throttled is None:
            throttled = Throttled(EXECUTION, retry_after_s, _CODES[EXECUTION], self._execution_message)
            self._execution_throttled[retry_after_s] = throttled
        return throttled

    def requests_in_window(self, now_s: float) -> int:
        """Logged requests in ``(now_s - window_s, now_s]`` (with ``extend_retry_after``, throttled ones too)."""
        window_s = self._window_s
        return sum(1 for t in self._request_log if t + window_s > now_s and t <= now_s)

    def execution_in_window_s(self, now_s: float) -> float:
        """Execution charged in ``(now_s - window_s, now_s]``, in seconds."""
        window_s = self._window_s
        charged_us = sum(
            us
            for t, us in zip(self._execution_times, self._execution_us, strict=True)
            if t + window_s > now_s and t <= now_s
        )
        return charged_us / _US_PER_S
