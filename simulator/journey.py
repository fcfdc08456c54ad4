"""Arrivals made by an invitation journey, pure (numpy): who is sent the email when, and when those who answer
submit their registration (shared/reference §7; scenarios/README.md, "[journey]").

The journey's sender is one queue served at ``send_rate_per_h`` that pauses during quiet times:

- **entry** — members enter in batches: with ``entry_limit = L`` per ``entry_interval``, ``L`` members at the
  start of every interval (clock hours or midnights; the first interval begins at ``start``) that falls on one
  of ``entry_days`` — Microsoft: "those 60 members enter as fast as possible and aren't spread out"; with no
  limit, the whole audience at the first entry day's start;
- **sending** — entered members are sent the email first come, first served, ``3600 / send_rate_per_h``
  seconds apart; during a quiet time nothing is sent, so what entered waits and goes out in one burst (at the
  sending rate) when quiet time ends;
- **response** — each member sent the email registers with probability ``response_share``, after a
  ``response_delay`` drawn independently.

Only the members who register are drawn: their positions in the audience are a Bernoulli process, drawn as
geometric gaps, so the cost grows with the registrants, not the audience. Run time 0 is ``start``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from simulator.scenario import DAYS, Delay, InvitationJourney
from simulator.uncertain import Uncertain

__all__ = ["Sending", "sending", "registration_times", "invitations_sent_per_bin", "delay_ppf", "local_time", "DAY_S",
           "HOUR_S"]

HOUR_S = 3600.0
DAY_S = 86400.0
_INTERVAL_S = {"1h": HOUR_S, "1d": DAY_S}
_MAX_BATCHES = 2_000_000  # entry intervals looked at: 228 years of hours


def local_time(journey: InvitationJourney, t_s: float) -> datetime.datetime:
    """The local date and time of run time ``t_s``."""
    return datetime.datetime.fromisoformat(journey.start) + datetime.timedelta(seconds=float(t_s))


@dataclass(frozen=True)
class Sending:
    """How the audience goes out: batch *k* of ``entered[k]`` members enters at ``entry_s[k]``; its members are
    sent from active time ``first_active_s[k]`` on (active time: seconds outside quiet times since start).
    ``quiet_begins_s``/``quiet_ends_s``: the quiet times, in run seconds, sorted."""

    entry_s: np.ndarray
    entered: np.ndarray
    first_active_s: np.ndarray
    gap_s: float
    quiet_begins_s: np.ndarray
    quiet_ends_s: np.ndarray

    @property
    def members(self) -> int:
        return int(self.entered.sum())

    def sent_s(self, member: np.ndarray) -> np.ndarray:
        """Run time at which each member (0-based position in entry order) is sent the email."""
        cumulative = np.cumsum(self.entered)
        batch = np.searchsorted(cumulative, member, side="right")
        before = cumulative[batch] - self.entered[batch]
        active = self.first_active_s[batch] + (member - before + 1) * self.gap_s
        return self.wall_s(active)

    def active_s(self, t_s: np.ndarray) -> np.ndarray:
        """Seconds outside quiet times in [0, t_s]."""
        t = np.asarray(t_s, dtype=float)
        begins, ends = self.quiet_begins_s, self.quiet_ends_s
        before = np.concatenate(([0.0], np.cumsum(ends - begins)))
        ended = np.searchsorted(ends, t, side="right")  # quiet times over by t
        inside = np.where(ended < len(begins), t - np.append(begins, np.inf)[ended], 0.0)
        return t - before[ended] - np.maximum(inside, 0.0)

    def wall_s(self, active_s: np.ndarray) -> np.ndarray:
        """The run time at which active time ``active_s`` is reached (the inverse of :meth:`active_s`); a point
        at a quiet time's start is that start, anything after it waits for the end."""
        lengths = self.quiet_ends_s - self.quiet_begins_s
        before = np.concatenate(([0.0], np.cumsum(lengths)))
        begins_active = self.quiet_begins_s - before[:-1]
        index = np.searchsorted(begins_active, active_s, side="left")
        return active_s + before[index]

    def sent_by(self, t_s: np.ndarray) -> np.ndarray:
        """Members sent the email by each run time in ``t_s`` (first come, first served)."""
        active = self.active_s(np.asarray(t_s, dtype=float))
        cumulative = np.cumsum(self.entered)
        batch = np.searchsorted(self.first_active_s, active, side="right") - 1  # the last batch begun by then
        safe = np.maximum(batch, 0)
        before = cumulative[safe] - self.entered[safe]
        in_batch = np.clip(np.floor((active - self.first_active_s[safe]) / self.gap_s + 1e-9), 0, self.entered[safe])
        return np.where(batch >= 0, before + in_batch, 0).astype(np.int64)

    def end_s(self) -> float:
        """When the last member is sent the email (NaN for an empty audience)."""
        total = self.members
        return float(self.sent_s(np.array([total - 1]))[0]) if total else float("nan")


def _interval_starts(journey: InvitationJourney, until_s: float) -> np.ndarray:
    """Run times at which entry intervals begin, on entry days only, from 0 until ``until_s``."""
    start = datetime.datetime.fromisoformat(journey.start)
    interval_s = _INTERVAL_S[journey.entry_interval]
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    since_midnight_s = (start - midnight).total_seconds()
    first_boundary_s = interval_s - since_midnight_s % interval_s  # the next clock boundary after start
    count = min(_MAX_BATCHES, max(1, int((until_s - first_boundary_s) // interval_s) + 2))
    starts = np.concatenate(([0.0], first_boundary_s + interval_s * np.arange(count)))
    starts = starts[starts <= until_s] if until_s >= 0 else starts[:1]
    weekday = (start.weekday() + ((since_midnight_s + starts) // DAY_S).astype(int)) % 7
    allowed = np.isin(weekday, [DAYS.index(d) for d in journey.entry_days])
    return starts[allowed]


def _clock_s(clock: str) -> float:
    hours, minutes = clock.split(":")
    return int(hours) * HOUR_S + int(minutes) * 60.0


def _quiet_times(journey: InvitationJourney, until_s: float) -> tuple[np.ndarray, np.ndarray]:
    if journey.quiet is None:
        return np.zeros(0), np.zeros(0)
    start = datetime.datetime.fromisoformat(journey.start)
    since_midnight_s = (start - start.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()

    begins, ends = _clock_s(journey.quiet.begins), _clock_s(journey.quiet.ends)
    if ends <= begins:
        ends += DAY_S  # crosses midnight
    days = np.arange(-1, int(until_s // DAY_S) + 3)
    quiet_begins = days * DAY_S + begins - since_midnight_s
    quiet_ends = days * DAY_S + ends - since_midnight_s
    keep = quiet_ends > 0
    return np.maximum(quiet_begins[keep], 0.0), quiet_ends[keep]


def _sending_bound_s(journey: InvitationJourney, work_s: float) -> float:
    """How long ``work_s`` of sending can take once entered, quiet times included (with margin)."""
    if journey.quiet is None:
        return work_s
    quiet_s = (_clock_s(journey.quiet.ends) - _clock_s(journey.quiet.begins)) % DAY_S
    return work_s * DAY_S / (DAY_S - quiet_s) + 2 * DAY_S


def sending(journey: InvitationJourney, until_s: float) -> Sending:
    """The entry batches and the sender over [0, until_s] (members who would enter later are left out)."""
    starts = _interval_starts(journey, until_s)
    audience = journey.audience
    limit = journey.entry_limit or audience
    count = min(len(starts), -(-audience // limit) if limit else 0)
    entry_s = starts[:count]
    entered = np.full(count, limit, dtype=np.int64)
    if count:
        entered[-1] = audience - limit * (count - 1)
    gap_s = HOUR_S / journey.send_rate_per_h
    quiet_begins, quiet_ends = _quiet_times(journey, until_s + _sending_bound_s(journey, float(entered.sum()) * gap_s))
    partial = Sending(entry_s, entered, np.zeros(count), gap_s, quiet_begins, quiet_ends)
    # FIFO at a constant rate in active time: batch k starts at max(its entry, the end of batch k-1), a max-plus
    # scan: start_k = max_{i<=k} (entry_i - work before i) + work before k.
    work_before = np.concatenate(([0.0], np.cumsum(entered * gap_s)))[:-1]
    first_active = np.maximum.accumulate(partial.active_s(entry_s) - work_before) + work_before
    return Sending(entry_s, entered, first_active, gap_s, quiet_begins, quiet_ends)


def delay_ppf(delay: Delay, u: np.ndarray) -> np.ndarray:
    """Delays in seconds at points ``u`` in [0, 1): the distribution's inverse CDF (negative draws of a
    normal count as 0)."""
    if delay.dist == "choice":
        weights = delay.weights or [1.0] * len(delay.values)
        entry = Uncertain("journey.response_delay", "choice",
                          (("values", tuple(delay.values)), ("weights", tuple(weights))), "duration")
        return np.asarray(entry.ppf(u), dtype=float)
    params = tuple((name, float(getattr(delay, name))) for name in
                   {"lognormal": ("median", "p95"), "uniform": ("low", "high"),
                    "triangular": ("low", "mode", "high"), "normal": ("mean", "sd")}[delay.dist])
    drawn = Uncertain("journey.response_delay", delay.dist, params, "duration").frozen().ppf(u)
    return np.maximum(np.asarray(drawn, dtype=float), 0.0)


def _registrants(audience: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """Positions (0-based, sorted) of the members who register: a Bernoulli(share) process as geometric gaps."""
    if share <= 0 or audience <= 0:
        return np.zeros(0, dtype=np.int64)
    if share >= 1:
        return np.arange(audience, dtype=np.int64)
    expected = audience * share
    size = int(expected + 8 * np.sqrt(expected) + 16)
    positions = np.cumsum(rng.geometric(share, size)) - 1
    while positions[-1] < audience - 1:  # never in practice: 8 standard deviations
        more = positions[-1] + np.cumsum(rng.geometric(share, size))
        positions = np.concatenate((positions, more))
    return positions[positions < audience]


def registration_times(journey: InvitationJourney, until_s: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted run times of the registrations the journey brings before ``until_s``: only the members who
    register are drawn (their positions, then their delays, in that order)."""
    plan = sending(journey, until_s)
    members = _registrants(plan.members, journey.response_share, rng)
    delays_s = delay_ppf(journey.response_delay, rng.random(len(members)))
    times = plan.sent_s(members) + delays_s
    times.sort()
    return times[: np.searchsorted(times, until_s, side="left")]


def invitations_sent_per_bin(journey: InvitationJourney, end_s: float, bin_s: float) -> np.ndarray:
    """Invitations sent in each bin of the run, for the time series."""
    edges = np.arange(1, int(np.ceil(end_s / bin_s)) + 1) * bin_s
    if not len(edges):
        return np.zeros(0, dtype=np.int64)
    return np.diff(sending(journey, end_s).sent_by(edges), prepend=0)
