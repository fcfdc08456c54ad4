"""What a run means in the customer's terms, pure: when the invitations go out (``[journey]``) and how much of
the tenant's 24-hour request pool the launch uses (``[tenant]``).

The pool (Power Platform request limits and allocations, ``admin/api-request-limits-allocations.md``): 500,000
requests per 24 h for the tenant, plus 5,000 per user licence, capped at 10,000,000, plus 50,000 per capacity
add-on. Stampede reports it and never enforces it: Dataverse's entitlement limits are not the service
protection limits the model throttles on (shared/reference §3.4).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.journey import DAY_S, local_time, sending
from simulator.scenario import InvitationJourney, Scenario, Tenant

__all__ = ["pool_24h", "requests_24h", "pool_figures", "sending_figures", "when", "lever_answer"]

POOL_BASE = 500_000
POOL_PER_LICENCE = 5_000
POOL_LICENCE_CAP = 10_000_000
POOL_PER_ADDON = 50_000
_SEND_HORIZON_S = 366 * DAY_S  # how far ahead the sending's end is looked for


def pool_24h(tenant: Tenant) -> int:
    """The tenant's requests per 24 hours."""
    return min(POOL_BASE + POOL_PER_LICENCE * tenant.licences, POOL_LICENCE_CAP) + POOL_PER_ADDON * tenant.pool_addons


def requests_24h(requests_per_bin: np.ndarray, bin_s: float) -> int:
    """The most Dataverse requests in any 24 hours of the run (a sliding sum over whole bins)."""
    counts = np.asarray(requests_per_bin, dtype=np.int64)
    if counts.size == 0:
        return 0
    width = max(1, int(round(DAY_S / bin_s)))
    if counts.size <= width:
        return int(counts.sum())
    cumulative = np.concatenate(([0], np.cumsum(counts)))
    return int((cumulative[width:] - cumulative[:-width]).max())


def pool_figures(tenant: Tenant, requests_per_bin: np.ndarray, bin_s: float) -> dict[str, Any]:
    """``requests_24h``, the pool and the share of it used (for summary.json's ``dataverse`` block)."""
    used = requests_24h(requests_per_bin, bin_s)
    pool = pool_24h(tenant)
    return {"requests_24h": used, "pool_24h": pool, "pool_share": round(used / pool, 4)}


def when(journey: InvitationJourney, t_s: float) -> str:
    """Run time ``t_s`` as the customer reads it: "Tuesday 10:20"."""
    return local_time(journey, t_s).strftime("%A %H:%M")


def sending_figures(scenario: Scenario) -> dict[str, Any]:
    """When the whole audience has been sent the invitation (for summary.json's ``journey`` block)."""
    journey = scenario.journey
    plan = sending(journey, _SEND_HORIZON_S)
    end_s = plan.end_s() if plan.members == journey.audience else None
    return {
        "audience": journey.audience,
        "start": journey.start,
        "sending_end_s": round(end_s, 1) if end_s is not None else None,
        "sending_h": round(end_s / 3600.0, 2) if end_s is not None else None,
        "sending_ends": when(journey, end_s) if end_s is not None else None,
        "sending_ends_local": local_time(journey, end_s).isoformat(timespec="minutes") if end_s is not None else None,
    }


def _value_text(scenario: Scenario, key: str, value: float) -> str:
    if key == "journey.entry_limit":
        return f"{value:,.0f}/{'h' if scenario.journey.entry_interval == '1h' else 'day'}"
    if key == "journey.send_rate_per_h":
        return f"{value:,.0f}/h"
    return f"{value:,g}"


def _slo_text(path: str, op: str, threshold: float) -> str:
    """``time_to_confirmed_s.p95 <= 900`` → "p95 time to confirmed ≤ 15 min"."""
    symbol = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "==": "=", "!=": "≠"}[op]
    head, _, stat = path.rpartition(".")
    if head.startswith("time_to_") and head.endswith("_s"):
        quantity = f"{stat} time to {head.removeprefix('time_to_').removesuffix('_s').replace('_', ' ')}"
        amount = f"{threshold / 60:g} min" if threshold >= 60 else f"{threshold:g} s"
        return f"{quantity} {symbol} {amount}"
    return f"{path} {symbol} {threshold:g}"


def lever_answer(scenario: Scenario, key: str, value: float, slos: list[tuple[str, str, float]],
                 probability: float | None) -> str:
    """The plan's answer in the customer's terms: "journey.entry_limit = 30,000/h meets p95 time to confirmed
    ≤ 15 min with probability 0.96; the 400,000 invitations then take 13.3 h (ending Tuesday 10:20)".
    ``scenario`` is the one at ``value``; ``probability`` the share of replications that met (None: one run)."""
    meets = " and ".join(_slo_text(*slo) for slo in slos)
    chance = f" with probability {probability:.2f}" if probability is not None else ""
    answer = f"{key} = {_value_text(scenario, key, value)} meets {meets}{chance}"
    if scenario.workload.shape == "journey":
        sent = sending_figures(scenario)
        if sent["sending_h"] is not None:
            answer += (f"; the {scenario.journey.audience:,} invitations then take {sent['sending_h']:.1f} h "
                       f"(ending {sent['sending_ends']})")
    return answer
