"""Synthetic run directories for the reports tests.

``make_run`` writes the four files of a run directory (DESIGN.md, "Run directories") from one set of
generated submissions, so every total in ``summary.json`` agrees with ``timeseries.csv`` and
``submissions.csv``: a test can check the data behind a figure against the summary exactly.

The model is deliberately crude: arrivals decay from a spike, Dataverse creates at most the analytic ceiling
per second in arrival order (``slowdown`` stretches that), and retries/throttling are made up to fit.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

KINDS = ("event", "session", "waitlist", "paid")
CALLS_PER_REGISTRATION = 3.0
DEAD_LETTER_REASONS = ("deadline reached (6h), last error 0x80072322", 'max attempts, "throttled"')


def make_run(
    parent: Path,
    name: str = "email-blast",
    *,
    submissions: int = 3000,
    seed: int = 7,
    bin_s: float = 10.0,
    duration_s: float = 900.0,
    policy: str = "exponential",
    honor_retry_after: bool = True,
    cache: str = "ttl",
    cache_ttl: str = "10m",
    app_users: int = 1,
    slowdown: float = 1.0,
    rejected_share: float = 0.02,
    dead_share: float = 0.01,
    pending: int = 0,
    throttle_per_retry: float = 1.0,
    description: str = "Email blast; registrations spike, then decay.",
    faults: bool = True,
) -> Path:
    """Write a run directory ``parent/name`` and return its path."""
    rng = np.random.default_rng(seed)
    n = submissions
    run_dir = parent / name
    run_dir.mkdir(parents=True)

    decay_s = duration_s / 4  # arrivals decay exponentially from the start and stop at duration_s
    offered_s = np.sort(-decay_s * np.log1p(-rng.random(n) * (1 - math.exp(-duration_s / decay_s))))
    kind = rng.choice(len(KINDS), size=n, p=[0.65, 0.25, 0.05, 0.05])
    outcome = np.full(n, "created", dtype=object)
    draw = rng.random(n)
    outcome[draw < rejected_share] = "rejected"
    outcome[(draw >= rejected_share) & (draw < rejected_share + dead_share)] = "dead_lettered"
    accepted_mask = outcome != "rejected"
    accepted_idx = np.flatnonzero(accepted_mask)
    if pending:
        outcome[accepted_idx[-pending:]] = "pending"
    accepted_s = np.where(accepted_mask, offered_s + 0.05, np.nan)

    ceiling = app_users * 6000 / 300 / CALLS_PER_REGISTRATION
    created_s = np.full(n, np.nan)
    last = 0.0
    gap = slowdown / ceiling
    for i in np.flatnonzero(outcome == "created"):
        last = max(accepted_s[i] + 0.3, last + gap)
        created_s[i] = last
    wait = np.nan_to_num(created_s - accepted_s, nan=0.0)
    attempts = np.where(outcome == "created", 1 + (wait / 120).astype(int) + rng.integers(0, 2, n), 0)
    attempts[outcome == "dead_lettered"] = 12
    attempts[outcome == "pending"] = 3
    dead_at_s = np.where(outcome == "dead_lettered", accepted_s + 600.0, np.nan)
    reasons = np.where(outcome == "dead_lettered", np.array(DEAD_LETTER_REASONS, dtype=object)[np.arange(n) % 2], "")

    end_s = float(np.nanmax(np.concatenate([created_s, dead_at_s, offered_s]))) + bin_s
    nbins = int(math.ceil(end_s / bin_s))
    edges = np.arange(nbins + 1) * bin_s

    def per_bin(times: np.ndarray) -> np.ndarray:
        return np.histogram(times[~np.isnan(times)], bins=edges)[0]

    offered = per_bin(offered_s)
    accepted = per_bin(accepted_s)
    rejected = per_bin(np.where(outcome == "rejected", offered_s, np.nan))
    created = per_bin(created_s)
    dead_lettered = per_bin(dead_at_s)
    queue_depth = np.cumsum(accepted) - np.cumsum(created) - np.cumsum(dead_lettered)
    retrying = (queue_depth * 0.3).astype(int)

    lookups = offered * 2
    if cache == "none":
        misses = lookups
    else:
        ttl = float(cache_ttl.rstrip("m")) * 60
        cold = (edges[:-1] % ttl) < bin_s  # entries expire every TTL
        misses = np.where(cold, np.minimum(lookups, 4), np.minimum(lookups, 1))
    hits = lookups - misses

    dv_admitted = created * int(CALLS_PER_REGISTRATION) + misses
    by_requests = (retrying * throttle_per_retry).astype(int)
    by_execution = (retrying > 50).astype(int) * 2
    by_concurrency = np.where(offered > 20, 1, 0)
    dv_throttled = by_requests + by_execution + by_concurrency

    t_s = edges[:-1]
    columns = {
        "t_s": t_s,
        "offered": offered,
        "accepted": accepted,
        "rejected": rejected,
        "cache_hits": hits,
        "cache_misses": misses,
        "dv_admitted": dv_admitted,
        "dv_throttled": dv_throttled,
        "dv_throttled_requests": by_requests,
        "dv_throttled_execution": by_execution,
        "dv_throttled_concurrency": by_concurrency,
        "created": created,
        "dead_lettered": dead_lettered,
        "queue_depth": queue_depth,
        "retrying": retrying,
        "future_column": np.zeros(nbins),  # readers must ignore columns they do not know
    }
    with (run_dir / "timeseries.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in zip(*columns.values(), strict=True):
            writer.writerow([f"{v:g}" if isinstance(v, float) else int(v) for v in row])

    def cell(value: float) -> str:
        return "" if math.isnan(value) else f"{value:.3f}"

    with (run_dir / "submissions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)  # csv's default \r\n line ends, as the simulator's writer would produce
        writer.writerow(["id", "kind", "offered_s", "accepted_s", "created_s", "attempts", "outcome", "reason"])
        for i in range(n):
            writer.writerow(
                [f"s{i:07d}", KINDS[kind[i]], cell(offered_s[i]), cell(accepted_s[i]), cell(created_s[i]),
                 int(attempts[i]), outcome[i], reasons[i]]
            )

    created_mask = outcome == "created"
    # The CSV keeps 3 decimals; compute the summary from the rounded values so it matches what a reader sees.
    waits = np.round(created_s[created_mask], 3) - np.round(offered_s[created_mask], 3)
    throttled_by = {
        "requests": int(by_requests.sum()),
        "execution": int(by_execution.sum()),
        "concurrency": int(by_concurrency.sum()),
    }
    throttled = sum(throttled_by.values())
    last_created = float(np.nanmax(created_s)) if created_mask.any() else None
    counts = {k: int(np.count_nonzero(outcome == k)) for k in ("created", "dead_lettered", "rejected", "pending")}
    summary: dict[str, Any] = {
        "name": name.split("-2")[0],
        "mode": "simulated",
        "seed": seed,
        "simulated_s": float(end_s),
        "wall_s": 1.25,
        "submissions": {
            "offered": n,
            "accepted": int(accepted_mask.sum()),
            "rejected": counts["rejected"],
            "created": counts["created"],
            "dead_lettered": counts["dead_lettered"],
            "pending": counts["pending"],
        },
        "cache": {
            "hits": int(hits.sum()),
            "misses": int(misses.sum()),
            "hit_ratio": float(hits.sum() / lookups.sum()),
        },
        "dataverse": {
            "admitted": int(dv_admitted.sum()),
            "throttled": throttled,
            "throttled_by": throttled_by,
            "binding_limit": max(throttled_by, key=lambda k: throttled_by[k]) if throttled else "none",
        },
        "throughput": {
            "peak_created_per_s": float(created.max() / bin_s),
            "mean_created_per_s": float(counts["created"] / last_created) if last_created else 0.0,
            "drain_s": max(0.0, (last_created or 0.0) - duration_s),
        },
        "time_to_created_s": {
            "p50": float(np.percentile(waits, 50)),
            "p95": float(np.percentile(waits, 95)),
            "p99": float(np.percentile(waits, 99)),
            "max": float(waits.max()),
        },
        "attempts_per_created": float(attempts[created_mask].mean()),
        "capacity": {
            "keys": app_users,
            "requests_per_s_ceiling": app_users * 6000 / 300,
            "calls_per_registration": CALLS_PER_REGISTRATION,
            "ceiling_created_per_s": ceiling,
        },
        "demand": {"peak_offered_per_s": float(offered.max() / bin_s), "mean_offered_per_s": n / duration_s},
        "dead_letter_reasons": {
            r: int(np.count_nonzero(reasons == r)) for r in DEAD_LETTER_REASONS if np.any(reasons == r)
        },
        "last_created_s": last_created,
        "bin_s": bin_s,
        "overrides": [f"retry.policy={policy}"],
        "registration": {"audience": "contact", "matching": "email", "consent_purposes": 0,
                         "match_reads_per_attendee": 1, "consent_writes_per_attendee": 0},
        "rejected_by": {"validation read throttled (429)": counts["rejected"]} if counts["rejected"] else {},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))

    scenario: dict[str, Any] = {
        "name": "email-blast",
        "description": description,
        "seed": seed,
        "horizon": "8h",
        "bin": f"{bin_s:g}s",
        "workload": {"shape": "spike", "rate": 120, "half_life": "6m", "duration": f"{duration_s:g}s"},
        "api": {"instances": 2, "cache": cache, "cache_ttl": cache_ttl, "processors": 16},
        "retry": {
            "policy": policy,
            "base": "2s",
            "cap": "10m",
            "deadline": "6h",
            "honor_retry_after": honor_retry_after,
        },
        "dataverse": {
            "web_servers": 1,
            "app_users": app_users,
            "requests_limit": 6000,
            "execution_limit": "20m",
            "window": "5m",
            "concurrency_limit": 52,
        },
    }
    if faults:
        scenario["faults"] = [{"at": "5m", "duration": "1m", "kind": "outage"}]
    (run_dir / "scenario.toml").write_text(tomli_w.dumps(scenario))
    return run_dir
