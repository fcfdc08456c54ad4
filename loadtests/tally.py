"""What the load generators counted, pure (no Locust, no gevent): arrivals, outcomes, latencies.

Each load-generating process (a Locust worker, or the single process of a local run) keeps a :class:`Tally`.
It ships what it counted since its last shipment — :meth:`Tally.take`, a plain dict — in Locust's worker
reports and in its final "done" message; the master :meth:`Tally.merge` s them, so a distributed run adds up
to what one process would have counted. Each shipment names its worker, so the per-worker split survives.

Latencies are kept as histograms of whole milliseconds rounded as Locust rounds them (exact below 100 ms,
to 10 ms below 1 s, to 100 ms below 10 s, else to 1 s), so percentiles merge exactly across workers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["COUNTS", "REGISTRATION_OUTCOMES", "Tally", "round_ms", "percentiles_ms"]

#: Registration outcomes: a designed answer of the model (accepted, throttled = 429, refused = 4xx the model
#: chose such as 409 full, unavailable = 503 in an outage) or a failure (anything else, no answer included).
REGISTRATION_OUTCOMES = ("accepted", "throttled", "refused", "unavailable", "failed")

#: Every count a tally keeps (zeros included when rendered).
COUNTS = (
    "scheduled",  # registration arrivals this process was given by the schedule
    "sent",  # registrations actually sent
    "sent_in_window",  # ... no later than the arrival window's end (+ the lateness allowance)
    "late",  # sent more than the lateness allowance after their intended time
    "dropped",  # never sent: too late to be worth sending, or still queued when the run ended
    *REGISTRATION_OUTCOMES,
    "visits",  # browsing journeys given by the schedule (one per arrival that loads pages)
    "visits_late",
    "visits_dropped",
    "pages",  # catalog pages and images requested
    "pages_failed",
)


def round_ms(ms: float) -> int:
    """Locust's rounding of response times, so its figures and ours bucket alike."""
    value = round(ms)
    if value < 100:
        return int(value)
    if value < 1000:
        return int(round(value, -1))
    if value < 10000:
        return int(round(value, -2))
    return int(round(value, -3))


def percentiles_ms(histogram: Counter[int], quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict[str, float]:
    """``{"p50": …, "p95": …, "p99": …, "max": …, "count": …}`` of a millisecond histogram (zeros when empty)."""
    total = sum(histogram.values())
    result: dict[str, float] = {f"p{round(q * 100):d}": 0.0 for q in quantiles}
    result["max"] = float(max(histogram)) if histogram else 0.0
    result["count"] = float(total)
    if not total:
        return result
    ordered = sorted(histogram.items())
    for q in quantiles:
        rank = q * total
        running = 0
        for value, count in ordered:
            running += count
            if running >= rank:
                result[f"p{round(q * 100):d}"] = float(value)
                break
    return result


class Tally:
    """Counts, latency histograms and accepted submission ids: of one process, or merged over many."""

    def __init__(self, worker: str = "local") -> None:
        self.worker = worker
        self.counts: Counter[str] = Counter()
        self.latency_ms: dict[str, Counter[int]] = {}
        self.accepted_ids: list[str] = []
        self.by_worker: dict[str, Counter[str]] = {}
        self._since: Tally | None = None

    # --- counting (the load generator's side) --------------------------------------------------------------
    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def latency(self, name: str, ms: float) -> None:
        self.latency_ms.setdefault(name, Counter())[round_ms(ms)] += 1

    def registration(self, outcome: str, own_ms: float, from_intended_ms: float, submission_id: str | None) -> None:
        """One answered (or failed) registration: its outcome, Locust's latency and the latency from its intended
        send time (the delay a too-slow generator would otherwise hide: coordinated omission)."""
        self.counts[outcome] += 1
        self.latency("registration", own_ms)
        self.latency("registration_from_intended", from_intended_ms)
        if outcome == "accepted" and submission_id:
            self.accepted_ids.append(submission_id)

    # --- shipping and merging ------------------------------------------------------------------------------
    def take(self) -> dict[str, Any]:
        """What was counted since the last take, as plain data (msgpack/JSON safe); the tally starts afresh."""
        shipment = self.to_data()
        self.counts = Counter()
        self.latency_ms = {}
        self.accepted_ids = []
        return shipment

    def to_data(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "counts": {name: int(n) for name, n in self.counts.items() if n},
            "latency_ms": {name: [[ms, n] for ms, n in sorted(h.items())] for name, h in self.latency_ms.items()},
            "accepted_ids": list(self.accepted_ids),
            "by_worker": {w: dict(c) for w, c in self.by_worker.items()},
        }

    def merge(self, shipment: dict[str, Any]) -> None:
        """Add a shipment (from :meth:`take` or :meth:`to_data`) to this tally and to its worker's row."""
        counts = Counter({str(k): int(v) for k, v in shipment.get("counts", {}).items()})
        self.counts.update(counts)
        for name, pairs in shipment.get("latency_ms", {}).items():
            histogram = self.latency_ms.setdefault(str(name), Counter())
            for ms, n in pairs:
                histogram[int(ms)] += int(n)
        self.accepted_ids.extend(str(i) for i in shipment.get("accepted_ids", ()))
        nested = shipment.get("by_worker") or {}
        if nested:  # a tally that is itself a merge (read back from a file)
            for worker, row in nested.items():
                self.by_worker.setdefault(str(worker), Counter()).update(row)
        elif counts:
            self.by_worker.setdefault(str(shipment.get("worker", "?")), Counter()).update(counts)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Tally:
        tally = cls(str(data.get("worker", "total")))
        tally.merge(data)
        return tally

    def all_counts(self) -> dict[str, int]:
        return {name: int(self.counts.get(name, 0)) for name in COUNTS}
