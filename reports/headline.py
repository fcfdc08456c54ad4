"""Headline figures of a run: what they are called, how to read them from a run, how to print them, and
which direction is better (for marking the best variant in a comparison)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reports.rundata import RunData

__all__ = [
    "HEADLINE",
    "Metric",
    "best_indices",
    "format_count",
    "format_duration",
    "format_number",
    "format_rate",
    "format_share",
    "registration_settings",
    "show_value",
    "throttled_share",
]

Better = Literal["higher", "lower"] | None


def format_count(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.0f}"


def format_rate(value: float | None) -> str:
    """Per-second rates with enough digits to compare ("3.33/s", "120/s")."""
    return "—" if value is None or math.isnan(value) else f"{format_number(value)}/s"


def format_number(value: float | None) -> str:
    """Three significant figures, thousands separated above 100 ("6.67", "1,250")."""
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_share(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    percent = value * 100
    if percent != 0 and abs(percent) < 0.1:
        return f"{percent:.2f}%"
    return f"{percent:.1f}%"


def format_duration(seconds: float | None) -> str:
    """Durations for people: "350 ms", "12.5 s", "4 min 05 s", "2 h 07 min"."""
    if seconds is None or math.isnan(seconds):
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def show_value(value: Any) -> str:
    """A setting's value as written in a scenario or on the command line ("true", "600", "full-jitter")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "—" if value is None else str(value)


def throttled_share(run: RunData) -> float | None:
    """Share of Dataverse calls answered 429 (throttled ÷ (admitted + throttled))."""
    admitted = run.summary_value("dataverse.admitted")
    throttled = run.summary_value("dataverse.throttled")
    if admitted is None or throttled is None or admitted + throttled == 0:
        return None
    return float(throttled) / float(admitted + throttled)


def registration_settings(run: RunData) -> str | None:
    """Which audience registrations make and how people are matched ("contacts, matched by email, 2 consent
    purposes"); None for a run made before ``[registration]`` existed."""
    audience = run.summary_value("registration.audience")
    if audience is None:
        return None
    matching = run.summary_value("registration.matching")
    text = f"{audience}s, " + ("never matched" if matching == "none" else f"matched by {matching}")
    purposes = run.summary_value("registration.consent_purposes") or 0
    return text + (f", {purposes} consent purpose{'s' if purposes != 1 else ''}" if purposes else "")


def _number(dotted: str) -> Callable[[RunData], float | None]:
    def read(run: RunData) -> float | None:
        value = run.summary_value(dotted)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return read


@dataclass(frozen=True)
class Metric:
    """One headline figure: ``value(run)`` reads it, ``text(value)`` prints it, ``better`` says which way
    is better when variants are compared (None: not ranked)."""

    key: str
    label: str
    value: Callable[[RunData], Any]
    text: Callable[[Any], str]
    better: Better = None
    in_comparison: bool = True
    short: str = ""
    """Column heading in a comparison table (the label when empty)."""
    missing: str = "—"
    """What a null figure says (a time-to-created figure among registrations never created: "not reached")."""

    @property
    def column(self) -> str:
        return self.short or self.label

    def display(self, value: Any) -> str:
        return self.missing if value is None else self.text(value)


HEADLINE: tuple[Metric, ...] = (
    Metric("offered", "Offered", _number("submissions.offered"), format_count),
    Metric("created", "Created", _number("submissions.created"), format_count, "higher"),
    Metric("dead_lettered", "Dead-lettered", _number("submissions.dead_lettered"), format_count, "lower"),
    Metric("rejected", "Rejected at validation", _number("submissions.rejected"), format_count, "lower",
           short="Rejected"),
    Metric("pending", "Pending at end", _number("submissions.pending"), format_count, "lower", short="Pending"),
    Metric("last_created", "Last created (from the start of the run)", _number("last_created_s"), format_duration,
           "lower", False, short="Last created"),
    Metric("p50", "Time to created p50", _number("time_to_created_s.p50"), format_duration, "lower", short="p50",
           missing="not reached"),
    Metric("p95", "Time to created p95", _number("time_to_created_s.p95"), format_duration, "lower", short="p95",
           missing="not reached"),
    Metric("confirmed_p95", "Time to confirmed p95 (confirmation email)", _number("time_to_confirmed_s.p95"),
           format_duration, "lower", False, missing="not reached"),
    Metric("p99", "Time to created p99", _number("time_to_created_s.p99"), format_duration, "lower", short="p99",
           missing="not reached"),
    Metric("max", "Time to created max", _number("time_to_created_s.max"), format_duration, "lower", False,
           missing="not reached"),
    Metric("drain", "Drain time after the last arrival", _number("throughput.drain_s"), format_duration, "lower",
           short="Drain"),
    Metric("mean_created", "Mean created per second", _number("throughput.mean_created_per_s"), format_rate,
           "higher", short="Mean created"),
    Metric("peak_created", "Peak created per second (one bin)", _number("throughput.peak_created_per_s"),
           format_rate, None, False),
    Metric("peak_offered", "Peak offered per second", _number("demand.peak_offered_per_s"), format_rate, None,
           False),
    Metric("ceiling", "Analytic ceiling (created per second)", _number("capacity.ceiling_created_per_s"),
           format_rate, None, short="Ceiling"),
    Metric("throttled_share", "Dataverse calls throttled (429)", throttled_share, format_share, "lower",
           short="429 share"),
    Metric("binding", "Binding Dataverse limit", lambda run: run.summary_value("dataverse.binding_limit"), str,
           short="Binding"),
    Metric("audience", "Registrations make (audience, matching rule)", registration_settings, str,
           in_comparison=False),  # a comparison names its varied settings already
    Metric("hit_ratio", "Cache hit ratio", _number("cache.hit_ratio"), format_share, "higher", short="Hit ratio"),
    Metric("attempts", "Attempts per created registration", _number("attempts_per_created"),
           lambda v: f"{v:.2f}", "lower", short="Attempts"),
)


def best_indices(values: Sequence[Any], better: Better) -> set[int]:
    """Indices of the best values (all of them on a tie); empty when nothing is ranked or all are equal."""
    if better is None:
        return set()
    known = [(i, v) for i, v in enumerate(values) if isinstance(v, int | float) and not math.isnan(v)]
    if len(known) < 2 or len({v for _, v in known}) == 1:
        return set()
    best = max(v for _, v in known) if better == "higher" else min(v for _, v in known)
    return {i for i, v in known if v == best}
