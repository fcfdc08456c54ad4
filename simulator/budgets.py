"""Retry budgets and a circuit breaker: what a processor asks before it resends a failed Dataverse call.

The backoffs of :mod:`simulator.retry` say *how long* to wait; these say *whether* a retry may go now. Each is
a small pure object over one app user's recent history (time is passed in as ``now_s``, which must never go
back). None of them drops work: when one says "not now", the host waits ``wait_s(now_s)`` and asks again —
the engine counts each such answer as ``retry_deferred`` — and only the deadline dead-letters.

- :class:`RatioBudget` — Finagle's ``RetryBudget``: retries are at most ``ratio`` of recent requests plus
  ``min_per_s`` (https://twitter.github.io/finagle/guide/Clients.html#retries, defaults ttl 10 s,
  minRetriesPerSec 10, percentCanRetry 0.2).
- :class:`TokenBucketBudget` — Marc Brooker, "Fixing retries with token buckets and circuit breakers" (2022,
  https://brooker.co.za/blog/2022/02/28/retries.html): a success adds ``refill`` tokens up to ``size``, a
  retry takes one.
- :class:`CircuitBreaker` — Polly v8's circuit breaker (https://www.pollydocs.org/strategies/circuit-breaker):
  break for ``break_s`` when at least ``failure_ratio`` of at least ``min_throughput`` calls in the last
  ``window_s`` failed; then half-open, where a trial call decides (another trial after each break).

Each also gives back what it handed out for a request that was never sent (``returned``, ``abandon``): the
engine composes them with pacing and adaptive throttling in one pipeline (:mod:`simulator.resilience`), where a
later strategy may refuse a request an earlier one already let through.

Errors::

    ValueError    bad parameters, at construction only
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from simulator.scenario import Retry

__all__ = [
    "RetryBudget",
    "RatioBudget",
    "TokenBucketBudget",
    "CircuitBreaker",
    "CLOSED",
    "OPEN",
    "HALF_OPEN",
    "budget_from_scenario",
    "breaker_from_scenario",
]


class RetryBudget(Protocol):
    """One app user's retry budget."""

    def requested(self, now_s: float) -> None:
        """A first attempt was sent (a deposit)."""

    def succeeded(self, now_s: float) -> None:
        """A call (first attempt or retry) succeeded."""

    def try_retry(self, now_s: float, in_flight: int) -> bool:
        """Take what one retry costs and say True, or say False (not now). ``in_flight``: this user's calls
        under way, which may still earn the budget something."""

    def wait_s(self, now_s: float) -> float | None:
        """How long until a retry could be allowed with no new requests or successes; None: only a new
        request or success can make room."""

    def returned(self, now_s: float, retry: bool) -> None:
        """Undo the last ``requested`` (``retry`` False) or the last ``try_retry`` that said True (``retry``
        True), asked at this same ``now_s``: its request was never sent (a later strategy refused it)."""


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not (value >= 0.0 if allow_zero else value > 0.0) or value == math.inf:
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")
    return float(value)


class RatioBudget:
    """Retries at most ``ratio`` × the requests of the last ``ttl_s`` plus a reserve of ``min_per_s`` × ttl.

    Finagle's RetryBudget: every first attempt deposits ``ratio`` of a retry, every retry withdraws one, and
    both expire after ``ttl_s``; a retry goes when the deposits of the last ttl, plus the reserve, cover the
    withdrawals of the last ttl and this one. So in any window of ``ttl_s``, retries ≤ ratio × its requests +
    min_per_s × ttl; over a longer span ``t`` (a multiple of ttl) the requests of the ttl before it count too,
    since a request pays for retries for ttl after it. The log is exact (one timestamp per request and
    retry), like the Dataverse limiter.

    Choose it when retries must never multiply the load in an overload (the retry storm a backoff alone
    allows: every throttled call comes back), while a quiet client keeps a few retries per second.
    """

    __slots__ = ("ratio", "min_per_s", "ttl_s", "reserve", "_deposits", "_withdrawals")

    def __init__(self, ratio: float = 0.2, min_per_s: float = 10.0, ttl_s: float = 10.0) -> None:
        self.ratio = _positive("ratio", ratio)
        self.min_per_s = _positive("min_per_s", min_per_s, allow_zero=True)
        self.ttl_s = _positive("ttl_s", ttl_s)
        self.reserve = self.min_per_s * self.ttl_s
        self._deposits: deque[float] = deque()
        self._withdrawals: deque[float] = deque()

    def _expire(self, now_s: float) -> None:
        ttl_s = self.ttl_s
        deposits, withdrawals = self._deposits, self._withdrawals
        while deposits and deposits[0] + ttl_s <= now_s:
            deposits.popleft()
        while withdrawals and withdrawals[0] + ttl_s <= now_s:
            withdrawals.popleft()

    def balance(self, now_s: float) -> float:
        """Retries the budget could pay for at ``now_s`` (may be fractional)."""
        self._expire(now_s)
        return self.reserve + self.ratio * len(self._deposits) - len(self._withdrawals)

    def requested(self, now_s: float) -> None:
        self._deposits.append(now_s)

    def succeeded(self, now_s: float) -> None:
        pass

    def try_retry(self, now_s: float, in_flight: int) -> bool:
        if self.balance(now_s) >= 1.0:
            self._withdrawals.append(now_s)
            return True
        return False

    def returned(self, now_s: float, retry: bool) -> None:
        (self._withdrawals if retry else self._deposits).pop()

    def wait_s(self, now_s: float) -> float | None:
        """Until the first moment the balance reaches 1 as entries expire (deposits leaving lower it,
        withdrawals leaving raise it); at the latest ``ttl_s``, when only the reserve is left."""
        self._expire(now_s)
        ttl_s = self.ttl_s
        deposits, withdrawals = len(self._deposits), len(self._withdrawals)
        changes = sorted([(at_s + ttl_s, 1, 0) for at_s in self._deposits]
                         + [(at_s + ttl_s, 0, 1) for at_s in self._withdrawals])
        for index, (at_s, deposit, withdrawal) in enumerate(changes):
            deposits -= deposit
            withdrawals -= withdrawal
            last_at_this_time = index + 1 == len(changes) or changes[index + 1][0] != at_s
            # From the counts, as balance() computes it: a running float sum drifts below 1 by an ulp.
            if last_at_this_time and self.reserve + self.ratio * deposits - withdrawals >= 1.0:
                wait_s = max(at_s - now_s, 0.0)
                while now_s + wait_s < at_s:  # so that now + wait reaches at_s exactly, not an ulp before
                    wait_s = math.nextafter(wait_s, math.inf)
                return wait_s
        return ttl_s if self.reserve >= 1.0 else None

    def __repr__(self) -> str:
        return (f"RatioBudget(ratio={self.ratio:g}, min_per_s={self.min_per_s:g}, ttl_s={self.ttl_s:g}, "
                f"deposits={len(self._deposits)}, withdrawals={len(self._withdrawals)})")


class TokenBucketBudget:
    """Brooker's retry token bucket: each success adds ``refill`` tokens (up to ``size``); a retry takes one.

    While calls succeed the bucket stays full and retries go as the backoff says; once most calls fail, the
    bucket empties and retries stop until successes refill it — retries are limited to about ``refill`` per
    success, so a failing backend sees little more than the first attempts. Tokens never go negative.

    One explicit addition (the model's assumption): Brooker's clients keep sending new requests that refill
    the bucket, but a processor holds its registration while it waits. When no call of this app user is in
    flight (``in_flight == 0``), nothing could ever refill it, so one retry goes anyway as a probe, taking no
    token; without it every processor of the user would wait for the others until the deadline.

    Choose it when failures are correlated (an outage, a throttled key): it spends almost nothing on a backend
    that is down, and recovers as soon as calls succeed again.
    """

    __slots__ = ("refill", "size", "tokens", "probes", "_before_retry")

    def __init__(self, refill: float = 0.1, size: float = 5.0) -> None:
        self.refill = _positive("refill", refill)
        self.size = _positive("size", size)
        if self.size < 1.0:
            raise ValueError(f"size must be >= 1 token (a retry takes one), got {size!r}")
        self.tokens = self.size
        self.probes = 0  # retries let through on an empty bucket with nothing in flight
        self._before_retry: float | None = None  # tokens before the last retry let through; None: a probe

    def requested(self, now_s: float) -> None:
        pass

    def succeeded(self, now_s: float) -> None:
        tokens = self.tokens + self.refill
        self.tokens = tokens if tokens < self.size else self.size

    def try_retry(self, now_s: float, in_flight: int) -> bool:
        if self.tokens >= 1.0 - 1e-9:  # ten refills of 0.1 make one token, whatever the float sum says
            self._before_retry = self.tokens
            tokens = self.tokens - 1.0
            self.tokens = tokens if tokens > 0.0 else 0.0
            return True
        if in_flight == 0:
            self._before_retry = None
            self.probes += 1
            return True
        return False

    def returned(self, now_s: float, retry: bool) -> None:
        if not retry:
            return
        if self._before_retry is None:
            self.probes -= 1
        else:
            self.tokens = self._before_retry

    def wait_s(self, now_s: float) -> float | None:
        return None  # only successes refill the bucket

    def __repr__(self) -> str:
        return f"TokenBucketBudget(refill={self.refill:g}, size={self.size:g}, tokens={self.tokens:g})"


CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """Polly's circuit breaker over one app user's Dataverse calls.

    Closed: every call goes; outcomes of the last ``window_s`` are logged (exactly). When a call's outcome
    brings the window to at least ``min_throughput`` calls of which at least ``failure_ratio`` failed, the
    circuit opens for ``break_s``: no call goes (``allow`` is False; the host waits ``wait_s``). Then it is
    half-open: one trial call goes, the other callers wait; the trial's success closes the circuit (the log
    starts afresh), its failure opens it for another ``break_s``. A trial that has not answered within
    ``break_s`` does not hold the circuit forever: another trial may go after each break (Polly's
    ``PermitHalfOpenCircuitTest``: a trial is permitted once ``now ≥ blocked until``, which it moves on by a
    break — v7 applies it in half-open too, "one trial per durationOfBreak"; v8 instead always hears its trial's
    outcome), and a trial given back unsent (``abandon``) lets the next caller try at once.

    Choose it against a backend that is down rather than busy (an outage's 503s): it stops the calls that
    cannot succeed and lets one probe find out when the backend is back. Against throttling with Retry-After
    honoured it adds little, since the waits already follow the server's word.
    """

    __slots__ = ("failure_ratio", "min_throughput", "window_s", "break_s", "state", "blocked_until_s",
                 "_outcomes", "_failures", "opened")

    def __init__(self, failure_ratio: float = 0.1, min_throughput: int = 100, window_s: float = 30.0,
                 break_s: float = 5.0) -> None:
        if not 0.0 < failure_ratio <= 1.0:
            raise ValueError(f"failure_ratio must be in (0, 1], got {failure_ratio!r}")
        if isinstance(min_throughput, bool) or int(min_throughput) != min_throughput or min_throughput < 2:
            raise ValueError(f"min_throughput must be a whole number >= 2 (Polly's minimum), got {min_throughput!r}")
        self.failure_ratio = float(failure_ratio)
        self.min_throughput = int(min_throughput)
        self.window_s = _positive("window_s", window_s)
        self.break_s = _positive("break_s", break_s)
        self.state = CLOSED
        self.blocked_until_s = -math.inf  # open: when it turns half-open; half-open: when another trial may go
        self._outcomes: deque[tuple[float, bool]] = deque()  # (at, failed)
        self._failures = 0
        self.opened = 0  # times the circuit opened

    def allow(self, now_s: float) -> bool:
        """Whether a call may go at ``now_s``; when not closed, True only for a trial (the state is then
        half-open: the host passes ``probe=True`` with its outcome)."""
        if self.state == CLOSED:
            return True
        if now_s < self.blocked_until_s:
            return False
        self.state = HALF_OPEN
        self.blocked_until_s = now_s + self.break_s  # the next trial, if this one has not answered by then
        return True

    def abandon(self, now_s: float) -> None:
        """The trial that ``allow`` let through was not sent after all: the next caller may try at once."""
        if self.state == HALF_OPEN:
            self.blocked_until_s = now_s

    def wait_s(self, now_s: float) -> float:
        """How long a caller refused by ``allow`` should wait before asking again (until the circuit turns
        half-open, or until another trial may go)."""
        return max(self.blocked_until_s - now_s, 0.0)

    def record(self, now_s: float, failed: bool, probe: bool = False) -> None:
        """The outcome of a call that ``allow`` let through; ``probe``: it was a half-open trial (the host
        knows: ``state`` was half-open right after ``allow``). The first trial to answer decides."""
        if probe:
            if self.state != HALF_OPEN:
                return
            if failed:
                self._open(now_s)
            else:
                self.state = CLOSED
                self.blocked_until_s = -math.inf
                self._outcomes.clear()
                self._failures = 0
            return
        if self.state != CLOSED:
            return  # a call let through before the circuit opened, answering late: already counted against
        outcomes = self._outcomes
        outcomes.append((now_s, failed))
        self._failures += failed
        oldest_s = now_s - self.window_s
        while outcomes and outcomes[0][0] <= oldest_s:
            self._failures -= outcomes.popleft()[1]
        if len(outcomes) >= self.min_throughput and self._failures >= self.failure_ratio * len(outcomes):
            self._open(now_s)

    def _open(self, now_s: float) -> None:
        self.state = OPEN
        self.blocked_until_s = now_s + self.break_s
        self._outcomes.clear()
        self._failures = 0
        self.opened += 1

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state}, opened={self.opened})"


def budget_from_scenario(retry: Retry) -> RetryBudget | None:
    """A fresh budget for one app user, or None for ``budget = "none"``."""
    if retry.budget == "ratio":
        return RatioBudget(retry.budget_ratio, retry.budget_min_per_s, retry.budget_ttl)
    if retry.budget == "token-bucket":
        return TokenBucketBudget(retry.bucket_refill, retry.bucket_size)
    return None


def breaker_from_scenario(retry: Retry) -> CircuitBreaker | None:
    """A fresh breaker for one app user when ``retry.breaker`` is on, else None."""
    if not retry.breaker:
        return None
    return CircuitBreaker(retry.breaker_failure_ratio, retry.breaker_min_throughput, retry.breaker_window,
                          retry.breaker_break)
