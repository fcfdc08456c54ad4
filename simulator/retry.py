"""Retry policies for the background processors: how long to wait after a throttled call, and when to give up.

A policy is a small pure object over one state (Tenacity's shape): ``wait_s(state, rng)`` returns seconds and
never sleeps; ``stop(state)`` says whether to give up. The host decides *how* to wait — the engine does
``yield env.timeout(wait_s)``, a real client would ``time.sleep`` — and owns the state::

    state = RetryState()                       # one per submission (or per Dataverse call)
    while True:
        outcome = call()
        if outcome.ok:
            break
        state.attempt += 1
        state.elapsed_s = now_s - accepted_s
        state.retry_after_s = outcome.retry_after_s        # None when the failure carried none
        if policy.stop(state):
            dead_letter(policy.stop_reason(state))
            break
        wait_s = min(policy.wait_s(state, rng), policy.deadline_s - state.elapsed_s)   # the host clamps
        state.last_wait_s = wait_s
        yield env.timeout(wait_s)

The backoffs are Marc Brooker's, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/). Dataverse answers a throttled
call with 429 and ``Retry-After`` in seconds, and Microsoft tells clients to wait exactly that long before
resending (Dataverse service protection API limits, S8); the event API's own background processor retries a
failed registration "for up to six hours" (RTM event API, "Performance and limits", S1).

``AdaptiveThrottle`` is the other half of being a good client: rather than waiting longer after each failure,
it stops sending a share of the requests while the backend is refusing them (Google SRE book, "Handling
Overload", client-side throttling).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from simulator.scenario import format_duration

if TYPE_CHECKING:
    from simulator.scenario import Retry

__all__ = [
    "RetryState",
    "Backoff",
    "NoRetry",
    "Fixed",
    "Exponential",
    "FullJitter",
    "EqualJitter",
    "DecorrelatedJitter",
    "no_retry",
    "fixed",
    "exponential",
    "full_jitter",
    "equal_jitter",
    "decorrelated_jitter",
    "RetryPolicy",
    "policy_from_scenario",
    "AdaptiveThrottle",
    "throttle_from_scenario",
]

SIX_HOURS_S = 21600.0  # the event API retries a failed registration "for up to six hours" (S1)


@dataclass(slots=True)
class RetryState:
    """What a policy may know about one retried piece of work; the host updates it after every failure."""

    attempt: int = 0  #: attempts made so far (the failed one included)
    elapsed_s: float = 0.0  #: since the submission was accepted
    retry_after_s: float | None = None  #: Retry-After of the last failure, if it carried one
    last_wait_s: float = 0.0  #: the previous wait, whatever chose it (decorrelated jitter needs it)


class Backoff(Protocol):
    """How long to wait before the next attempt, from the state alone; random draws come from ``rng``."""

    def wait_s(self, state: RetryState, rng: random.Random) -> float: ...


def _set_seconds(obj: object, name: str) -> float:
    """Check a frozen dataclass's duration field and store it as a float (so waits are always floats)."""
    value = getattr(obj, name)
    if isinstance(value, bool) or not 0.0 <= value < math.inf:  # also rejects NaN
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    value = float(value)
    object.__setattr__(obj, name, value)
    return value


# --- backoffs ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoRetry:
    """Never wait, because there is no next attempt (the policy's ``retries`` is False).

    Choose it as the baseline that shows what retrying buys: every throttled call is a lost registration.
    """

    def wait_s(self, state: RetryState, rng: random.Random) -> float:
        return 0.0


@dataclass(frozen=True, slots=True)
class Fixed:
    """Wait ``base_s`` every time.

    Choose it to model a naive client, or when Retry-After is honoured and the fallback hardly matters.
    Clients throttled together retry together, so a fixed wait keeps a stampede in step (Brooker 2015).
    """

    base_s: float

    def __post_init__(self) -> None:
        _set_seconds(self, "base_s")

    def wait_s(self, state: RetryState, rng: random.Random) -> float:
        return self.base_s


@dataclass(frozen=True, slots=True)
class _Capped:
    """``min(cap, base * 2**(attempt-1))``: the capped exponential that the jittered backoffs draw under."""

    base_s: float
    cap_s: float
    # Precomputed so the hot path neither overflows nor calls min(): from this many doublings on, cap rules.
    _doublings: int = field(init=False, repr=False, compare=False)
    _first_s: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base_s = _set_seconds(self, "base_s")
        cap_s = _set_seconds(self, "cap_s")
        doublings = 0
        if base_s == 0.0:
            doublings = 1 << 62  # 0 * 2**n stays 0: the cap is never reached
        else:
            while math.ldexp(base_s, doublings) < cap_s:
                doublings += 1
        object.__setattr__(self, "_doublings", doublings)
        object.__setattr__(self, "_first_s", min(base_s, cap_s))

    def ceiling_s(self, attempt: int) -> float:
        """The exponential wait after ``attempt`` failures; attempt 0 is treated as attempt 1."""
        doublings = attempt - 1
        if doublings <= 0:
            return self._first_s
        if doublings >= self._doublings:
            return self.cap_s
        return math.ldexp(self.base_s, doublings)


@dataclass(frozen=True, slots=True)
class Exponential(_Capped):
    """Wait ``min(cap, base * 2**(attempt-1))``: base, 2·base, 4·base … up to cap.

    Choose it to reproduce Microsoft's reference client (Polly, ``2^retryCount`` seconds when no Retry-After).
    It spreads retries out over time but not across clients: everyone throttled by the same burst comes back
    at the same instant, in ever larger clusters (Brooker 2015).
    """

    def wait_s(self, state: RetryState, rng: random.Random) -> float:
        return self.ceiling_s(state.attempt)


@dataclass(frozen=True, slots=True)
class FullJitter(_Capped):
    """Wait ``uniform(0, min(cap, base * 2**(attempt-1)))``.

    Choose it by default for many clients contending for one limit: in Brooker's simulation it did the least
    work (fewest calls) of all strategies, at the price of some very short waits.
    """

    def wait_s(self, state: RetryState, rng: random.Random) -> float:
        return self.ceiling_s(state.attempt) * rng.random()


@dataclass(frozen=True, slots=True)
class EqualJitter(_Capped):
    """Wait ``e/2 + uniform(0, e/2)`` with ``e = min(cap, base * 2**(attempt-1))``.

    Choose it when every retry must wait at least half the exponential backoff (never a near-immediate
    resend). Brooker found it does slightly more work than full jitter and takes longer.
    """

    def wait_s(self, state: RetryState, rng: random.Random) -> float:
        half_s = self.ceiling_s(state.attempt) * 0.5
        return half_s + half_s * rng.random()


@dataclass(frozen=True, slots=True)
class DecorrelatedJitter:
    """Wait ``min(cap, uniform(base, max(base, previous * 3)))``, where ``previous`` is the last wait, or base
    before the first: Brooker's ``sleep = min(cap, random_between(base, sleep * 3))`` with ``sleep`` starting
    at base, so the first wait is drawn from uniform(base, 3·base) and clients throttled together do not all
    come back at the same moment.

    Choose it when the attempt count is a poor guide — e.g. when Retry-After waits are mixed in — since it
    grows from the previous wait, whatever chose it. Brooker found it close to full jitter: a little more
    work, a little less time. Never below base (unless cap < base: then always cap).
    """

    base_s: float
    cap_s: float

    def __post_init__(self) -> None:
        _set_seconds(self, "base_s")
        _set_seconds(self, "cap_s")

    def wait_s(self, state: RetryState, rng: random.Random) -> float:
        base_s = self.base_s
        previous_s = state.last_wait_s if state.last_wait_s > 0.0 else base_s  # none yet: Brooker's sleep = base
        high_s = previous_s * 3.0
        if high_s < base_s:
            high_s = base_s
        wait_s = base_s + (high_s - base_s) * rng.random()  # == rng.uniform(base_s, high_s), one call fewer
        cap_s = self.cap_s
        return wait_s if wait_s < cap_s else cap_s


def no_retry() -> NoRetry:
    """No backoff at all (pair it with ``RetryPolicy(retries=False)``; ``policy_from_scenario`` does)."""
    return NoRetry()


def fixed(base_s: float) -> Fixed:
    """Wait ``base_s`` after every failure."""
    return Fixed(base_s)


def exponential(base_s: float, cap_s: float) -> Exponential:
    """Wait ``min(cap_s, base_s * 2**(attempt-1))``."""
    return Exponential(base_s, cap_s)


def full_jitter(base_s: float, cap_s: float) -> FullJitter:
    """Wait ``uniform(0, min(cap_s, base_s * 2**(attempt-1)))``."""
    return FullJitter(base_s, cap_s)


def equal_jitter(base_s: float, cap_s: float) -> EqualJitter:
    """Wait half the capped exponential plus ``uniform(0, half)``."""
    return EqualJitter(base_s, cap_s)


def decorrelated_jitter(base_s: float, cap_s: float) -> DecorrelatedJitter:
    """Wait ``min(cap_s, uniform(base_s, max(base_s, previous_wait_s * 3)))``, the first from (base, 3·base)."""
    return DecorrelatedJitter(base_s, cap_s)


# --- the policy --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A backoff plus the rules around it: honour Retry-After, give up after N attempts or at the deadline.

    ``wait_s`` is never negative; keeping it within the remaining deadline is the host's job, not the
    policy's. ``stop`` is asked after every failure, before ``wait_s``.
    """

    backoff: Backoff
    #: When a failure carries Retry-After, wait exactly that long (as Microsoft recommends); else the
    #: backoff's own wait.
    honor_retry_after: bool = True
    max_attempts: int = 0  #: 0 = no limit but the deadline
    deadline_s: float = SIX_HOURS_S  #: the event API's documented retry horizon
    retries: bool = True  #: False for policy "none": the first failure is final

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0 (0 = until the deadline), got {self.max_attempts}")
        if not self.deadline_s >= 0.0:  # also rejects NaN
            raise ValueError(f"deadline_s must be >= 0 seconds, got {self.deadline_s!r}")

    def wait_s(self, state: RetryState, rng: random.Random) -> float:
        """Seconds to wait before the next attempt (never sleeps, never negative)."""
        if self.honor_retry_after:
            retry_after_s = state.retry_after_s
            if retry_after_s is not None:
                return retry_after_s if retry_after_s > 0.0 else 0.0
        return self.backoff.wait_s(state, rng)

    def stop(self, state: RetryState) -> bool:
        """True: give up now (no retries, attempts exhausted, or the deadline reached)."""
        if not self.retries:
            return True
        if self.max_attempts and state.attempt >= self.max_attempts:
            return True
        return state.elapsed_s >= self.deadline_s

    def stop_reason(self, state: RetryState) -> str:
        """Why ``stop(state)`` gives up, for dead-letter records; "" when it does not. Reasons are categories
        (no per-submission figures), so a run's reasons can be counted (summary.json ``dead_letter_reasons``);
        the attempt count and times are in the submission's own row."""
        if not self.retries:
            return "retry policy none: gave up after the first attempt"
        if self.max_attempts and state.attempt >= self.max_attempts:
            return f"max_attempts {self.max_attempts} reached"
        if state.elapsed_s >= self.deadline_s:
            return f"deadline {format_duration(self.deadline_s)} reached"
        return ""


_BACKOFFS: dict[str, Callable[[Retry], Backoff]] = {
    "fixed": lambda r: fixed(r.base),
    "exponential": lambda r: exponential(r.base, r.cap),
    "full-jitter": lambda r: full_jitter(r.base, r.cap),
    "equal-jitter": lambda r: equal_jitter(r.base, r.cap),
    "decorrelated-jitter": lambda r: decorrelated_jitter(r.base, r.cap),
}


def policy_from_scenario(retry: Retry) -> RetryPolicy:
    """The policy a scenario's ``[retry]`` section describes (``policy = "none"`` → ``retries=False``)."""
    if retry.policy == "none":
        backoff: Backoff = no_retry()
    elif retry.policy in _BACKOFFS:
        backoff = _BACKOFFS[retry.policy](retry)
    else:
        raise ValueError(
            f"retry.policy = {retry.policy!r} — expected one of none, {', '.join(_BACKOFFS)}"
        )
    return RetryPolicy(
        backoff=backoff,
        honor_retry_after=retry.honor_retry_after,
        max_attempts=retry.max_attempts,
        deadline_s=retry.deadline,
        retries=retry.policy != "none",
    )


# --- client-side adaptive throttling -----------------------------------------------------------------------


class AdaptiveThrottle:
    """Client-side adaptive throttling (Google SRE book, 'Handling Overload', K=2): reject locally with
    probability max(0, (requests - K*accepts) / (requests + 1)) over a trailing window (default 120 s).

    https://sre.google/sre-book/handling-overload/ — "requests" counts every request the client meant to
    send, the locally rejected ones included; "accepts" counts those the backend accepted. While the backend
    accepts everything the probability is 0; once it refuses, the client sheds load itself instead of spending
    the backend's capacity on answers of 429. K = 2 lets through about twice what the backend accepts.

    The window is exact (a log of timestamps, like the Dataverse limiter), so ``now_s`` must never go back.
    The probability is computed before the current request is counted, so the first request always passes.
    """

    __slots__ = ("k", "window_s", "_requests", "_accepts")

    def __init__(self, k: float = 2.0, window_s: float = 120.0) -> None:
        if not k > 0.0:
            raise ValueError(f"k must be > 0 (the SRE book uses 2), got {k!r}")
        if not 0.0 < window_s < math.inf:
            raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
        self.k = float(k)
        self.window_s = float(window_s)
        self._requests: deque[float] = deque()
        self._accepts: deque[float] = deque()

    def _expire(self, now_s: float) -> None:
        # An entry at t counts while now_s - t < window_s.
        oldest_s = now_s - self.window_s
        requests, accepts = self._requests, self._accepts
        while requests and requests[0] <= oldest_s:
            requests.popleft()
        while accepts and accepts[0] <= oldest_s:
            accepts.popleft()

    def rejection_probability(self, now_s: float) -> float:
        """The chance that a request made at ``now_s`` is rejected locally."""
        self._expire(now_s)
        requests = len(self._requests)
        excess = requests - self.k * len(self._accepts)
        return excess / (requests + 1) if excess > 0.0 else 0.0

    def allow(self, now_s: float, rng: random.Random) -> bool:
        """Whether to send a request now (False: reject it locally); counts the request either way."""
        probability = self.rejection_probability(now_s)
        self._requests.append(now_s)
        # Draw only when there is a chance of rejection: a healthy backend costs no random numbers.
        return probability == 0.0 or rng.random() >= probability

    def forget(self) -> None:
        """The request ``allow`` just let through was not sent after all (a later strategy refused it): it no
        longer counts as one the client meant to send."""
        self._requests.pop()

    def record(self, now_s: float, accepted: bool) -> None:
        """The backend's answer to a request that was sent (429/503 = not accepted)."""
        if accepted:
            self._accepts.append(now_s)
        self._expire(now_s)

    def __repr__(self) -> str:
        return (
            f"AdaptiveThrottle(k={self.k:g}, window_s={self.window_s:g}, requests={len(self._requests)}, "
            f"accepts={len(self._accepts)})"
        )


def throttle_from_scenario(retry: Retry) -> AdaptiveThrottle | None:
    """A fresh throttle when ``retry.adaptive`` is on (one per client that should shed load), else None."""
    return AdaptiveThrottle(k=retry.adaptive_k) if retry.adaptive else None
