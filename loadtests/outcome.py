"""The ``load`` and ``simulated`` blocks of a live run's summary.json, pure: from the load generators' totals,
the live server's record and a simulation of the same scenario.

``load``: what the generators sent against what the scenario scheduled (rates per wall second), lateness and
drops, the answers by outcome, latency (Locust's measure and from each request's intended send time), and
``lost`` — submissions a client saw accepted that the server's record does not hold as created, dead-lettered
or pending. ``load.vs_simulated``: the live run against the simulation, side by side.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from loadtests.tally import REGISTRATION_OUTCOMES, Tally, percentiles_ms

__all__ = ["load_block", "simulated_block", "versus", "throttled_share", "HELD"]

#: Outcomes in the server's submissions.csv that hold an accepted submission.
HELD = ("created", "dead_lettered", "pending")
_SIMULATED_KEYS = ("mode", "simulated_s", "wall_s", "submissions", "cache", "dataverse", "throughput",
                   "time_to_created_s", "attempts_per_created", "last_created_s", "demand", "rejected_by",
                   "dead_letter_reasons")


def throttled_share(summary: dict[str, Any]) -> float:
    """Share of Dataverse requests answered 429 (throttled ÷ admitted + throttled)."""
    dv = summary["dataverse"]
    calls = dv["admitted"] + dv["throttled"]
    return dv["throttled"] / calls if calls else 0.0


def load_block(totals: dict[str, Any], outcomes_by_id: dict[str, str], *, settled: bool, settle_wall_s: float,
               locust_exit_code: int) -> dict[str, Any]:
    """The ``load`` block from the master's totals (``open_workload.Aggregate.to_data``) and the server's
    outcome of every submission id."""
    tally = Tally.from_data(totals["tally"])
    counts = tally.all_counts()
    window_s = float(totals["window_s"])
    ids = tally.accepted_ids
    lost = sum(1 for i in ids if outcomes_by_id.get(i) not in HELD)
    held = Counter(outcomes_by_id.get(i, "missing") for i in ids)
    statuses = {name.removeprefix("http_"): n for name, n in sorted(tally.counts.items()) if name.startswith("http_")}
    return {
        "time_scale": totals["time_scale"],
        "processes": totals["processes"],
        "processes_done": len(totals["processes_done"]),
        "window_s": round(window_s, 3),
        "scheduled": counts["scheduled"],
        "sent": counts["sent"],
        "target_rate_per_s": round(counts["scheduled"] / window_s, 3) if window_s else 0.0,
        "achieved_rate_per_s": round(counts["sent_in_window"] / window_s, 3) if window_s else 0.0,
        "shape_rate_per_s": round(float(totals["mean_rate_per_s"]), 3),
        "late": counts["late"],
        "dropped": counts["dropped"],
        "late_or_dropped": counts["late"] + counts["dropped"],
        "registrations": {outcome: counts[outcome] for outcome in REGISTRATION_OUTCOMES},
        "http_status": statuses,
        "accepted_ids": len(ids),
        "accepted_held_as": dict(held.most_common()),
        "lost": lost,
        "settled": settled,
        "settle_wall_s": round(settle_wall_s, 3),
        "visits": {"scheduled": counts["visits"], "late": counts["visits_late"], "dropped": counts["visits_dropped"],
                   "pages": counts["pages"], "pages_failed": counts["pages_failed"]},
        "latency_ms": {name: percentiles_ms(tally.latency_ms.get(name, Counter()))
                       for name in ("registration", "registration_from_intended", "page", "page_from_intended")},
        "by_process": {worker: dict(row) for worker, row in sorted(tally.by_worker.items())},
        "locust_exit_code": locust_exit_code,
    }


def simulated_block(summary: dict[str, Any], horizon_s: float) -> dict[str, Any]:
    """The headline figures of the simulation of the same scenario over the same window."""
    block = {key: summary[key] for key in _SIMULATED_KEYS if key in summary}
    block["horizon_s"] = round(horizon_s, 3)
    return block


def versus(live: dict[str, Any], simulated: dict[str, Any]) -> dict[str, Any]:
    """Live against simulated: mean created per second (ratio) and the throttled share of Dataverse requests
    (difference in percentage points), plus the counts they rest on."""
    live_rate = live["throughput"]["mean_created_per_s"]
    simulated_rate = simulated["throughput"]["mean_created_per_s"]
    live_share, simulated_share = throttled_share(live), throttled_share(simulated)
    return {
        "mean_created_per_s_live": live_rate,
        "mean_created_per_s_simulated": simulated_rate,
        "mean_created_per_s_ratio": round(live_rate / simulated_rate, 4) if simulated_rate else 0.0,
        "throttled_share_live": round(live_share, 4),
        "throttled_share_simulated": round(simulated_share, 4),
        "throttled_share_difference_points": round(100 * (live_share - simulated_share), 2),
        "created_live": live["submissions"]["created"],
        "created_simulated": simulated["submissions"]["created"],
        "offered_live": live["submissions"]["offered"],
        "offered_simulated": simulated["submissions"]["offered"],
    }
