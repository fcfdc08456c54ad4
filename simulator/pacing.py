"""How processors call Dataverse: pacing to a share of a key's limit, and adaptive concurrency.

Both are small pure objects over one app user's (or key's) state, with time passed in as ``now_s``:

- :class:`Pacer` — a client-side token bucket per key: calls are spaced so that no window of the key's
  ``window_s`` holds more than ``share`` × its request limit. Throttling is avoided rather than answered
  (Microsoft: "keep the rate steady", reference §3.3).
- :class:`AimdLimit` — additive increase, multiplicative decrease of the processors working for one app user,
  in TCP congestion avoidance's form (RFC 5681: halve once per loss event, grow by one per round trip), the
  round trip being the key's window: one more per window without a 429, half on a 429.

Errors::

    ValueError    bad parameters, at construction only
"""

from __future__ import annotations

import math

__all__ = ["Pacer", "AimdLimit"]


class Pacer:
    """A token bucket of one token refilled at ``rate_per_s``, handing out send times in order.

    ``reserve(now_s)`` books the next token and returns how long the caller waits for it (0 when a token is
    there). A token is booked by exactly one call, so waiting callers never race for it, and booked sends are
    at least ``1 / rate_per_s`` apart; a half-open window of length *T* therefore holds at most
    ⌈T × rate_per_s⌉ calls. With ``rate_per_s = share × limit / window_s`` no window holds more than
    ⌈share × limit⌉ calls of this key.

    Choose it when a known limit is the bottleneck and 429s are expensive (each is a call that did no work and
    a Retry-After that idles every processor): it trades a bounded, steady queue for no throttling at all,
    at ``share`` of the ceiling; the rest of the limit is left for the event API's own cache reads.
    """

    __slots__ = ("rate_per_s", "interval_s", "_next_s", "booked")

    def __init__(self, rate_per_s: float) -> None:
        if isinstance(rate_per_s, bool) or not 0.0 < rate_per_s < math.inf:
            raise ValueError(f"rate_per_s must be a positive finite number, got {rate_per_s!r}")
        self.rate_per_s = float(rate_per_s)
        self.interval_s = 1.0 / self.rate_per_s
        self._next_s = -math.inf  # when the next token is there (the bucket starts full: one token)
        self.booked = 0

    @classmethod
    def for_limit(cls, requests_limit: int, window_s: float, share: float) -> Pacer:
        """The pacer that keeps one key to ``share`` of ``requests_limit`` per ``window_s``."""
        if not 0.0 < share <= 1.0:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        return cls(share * requests_limit / window_s)

    def next_send_s(self, now_s: float) -> float:
        """When a send booked at ``now_s`` would go (books nothing)."""
        return self._next_s if self._next_s > now_s else now_s

    def reserve(self, now_s: float) -> float:
        """Book the next send; seconds to wait until it (never negative)."""
        send_s = self._next_s if self._next_s > now_s else now_s
        self._next_s = send_s + self.interval_s
        self.booked += 1
        return send_s - now_s

    def unreserve(self, send_s: float) -> None:
        """Give back the send booked for ``send_s`` (the request was not sent). The latest booking is given back
        whole; an earlier one leaves its slot unused (later sends are booked already: the pacer only ever
        sends less than its rate, never more)."""
        self.booked -= 1
        if send_s + self.interval_s == self._next_s:
            self._next_s = send_s

    def __repr__(self) -> str:
        return f"Pacer(rate_per_s={self.rate_per_s:g}, booked={self.booked})"


class AimdLimit:
    """How many of an app user's processors may work: between 1 and ``maximum``, starting at ``maximum``.

    ``throttled(now_s)`` halves the limit (rounding down, never below 1) — at most once per ``cooldown_s``,
    because the many 429s of one throttled window are one congestion signal, as TCP halves once per loss
    event. ``tick(now_s)`` adds one when a whole ``window_s`` has passed since the last change with no 429.

    Choose it when the right parallelism is unknown or changes (other clients on the same key, a slow fault):
    it backs off when Dataverse pushes back and grows again while it does not — Microsoft's "let the server
    tell you how much it can handle" (reference §3.3).

    Not Netflix's ``AIMDLimit`` (concurrency-limits), which updates per request: × ``backoffRatio`` (0.9) on
    each drop, + 1 on each success while at least half the limit is in flight. Dataverse's verdict on a key
    comes once per window (its 429s arrive when the window is full), so a limit that grew by one per success
    would be back at its maximum seconds after each cut, long before the next window could say whether it fit;
    and every 429 of a full window would cut it again. One cut per congestion event and one step per window is
    TCP's answer to the same feedback delay.
    """

    __slots__ = ("maximum", "window_s", "cooldown_s", "limit", "_changed_s", "_decreased_s")

    def __init__(self, maximum: int, window_s: float, cooldown_s: float = 1.0) -> None:
        if isinstance(maximum, bool) or int(maximum) != maximum or maximum < 1:
            raise ValueError(f"maximum must be a whole number >= 1, got {maximum!r}")
        if not 0.0 < window_s < math.inf:
            raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
        self.maximum = int(maximum)
        self.window_s = float(window_s)
        self.cooldown_s = float(cooldown_s)
        self.limit = self.maximum
        self._changed_s = 0.0
        self._decreased_s = -math.inf

    def throttled(self, now_s: float) -> None:
        if now_s - self._decreased_s < self.cooldown_s:
            return
        self._decreased_s = now_s
        self._changed_s = now_s
        self.limit = max(1, self.limit // 2)

    def tick(self, now_s: float) -> bool:
        """Add one if a window passed without a 429 (True when the limit grew)."""
        if now_s - self._changed_s >= self.window_s and self.limit < self.maximum:
            self._changed_s = now_s
            self.limit += 1
            return True
        return False

    def __repr__(self) -> str:
        return f"AimdLimit(limit={self.limit}, maximum={self.maximum})"
