"""Replications, pure: their seeds (common random numbers), what one replication hands back, and what a
replicated run directory holds (``replications.csv``, ``bands.csv``, the ``replications`` block of
summary.json). The engine runs them (``simulator/engine/replicate.py``); nothing here touches the disk.

Seeds: replication *i* of N uses the *i*-th child of ``numpy.random.SeedSequence(seed).spawn(N)``, turned
into the integer seed from which the model derives its per-purpose streams (arrivals, latency, pipeline,
catalog) as it always has. Every variant and every probe uses the same N seeds, so replication *i* of each
sees the same arrivals and draws. One replication uses the scenario's own seed: today's run, exactly.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simulator.errors import StampedeError
from simulator.stats import HEADLINE_METRICS, headline_values, interval_block, mean_summary, not_reached_counts
from simulator.uncertain import SAMPLINGS

__all__ = ["ReplicationsError", "replication_count", "sequential_blocks", "PRECISION_START", "PRECISION_STEP",
           "check_options", "QUANTILE_LEVELS", "UNCERTAIN_STREAM",
           "ReplicationResult", "replication_seeds", "draw_rng",
           "replications_csv", "bands_csv", "replicated_summary", "metric_columns", "replicated_files",
           "single_run_files", "precision_note", "as_written"]

QUANTILE_LEVELS = tuple(i / 100 for i in range(101))  # time-to-created quantiles each replication reports
UNCERTAIN_STREAM = 2**32 - 1  # spawn key of the draws of [uncertain] inputs, apart from every replication's
BAND_PERCENTILES = (5, 50, 95)
UNCERTAIN_DEFAULT_REPLICATIONS = 30  # a scenario with [uncertain] and no --replications
PRECISION_START = 10  # --precision: replications run before the first look at the intervals
PRECISION_STEP = 5  # … and added between looks (fixed, so the answer never depends on the worker count)


class ReplicationsError(StampedeError, ValueError):
    """A --replications, --confidence, --precision or --sampling value is out of range."""


def replication_count(requested: int | None, uncertain: bool, precision: float | None = None) -> int:
    """How many replications to run: as asked, else 30 with uncertain inputs, else 1 (today's single run).
    ``--precision`` adds replications up to that count, so it needs 2 or more (ReplicationsError otherwise)."""
    n = requested if requested is not None else UNCERTAIN_DEFAULT_REPLICATIONS if uncertain else 1
    if precision is not None and n < 2:
        raise ReplicationsError(f"--precision {precision:g}: needs --replications 2 or more (the most it may run), "
                                f"e.g. --replications 50 --precision {precision:g}")
    return n


def sequential_blocks(n: int, start: int, step: int) -> list[int]:
    """The blocks a sequential run adds (``start``, then ``step`` at a time, up to ``n``): each is drawn as a
    Latin hypercube of its own, so the replications run when it stops early are stratified block by block."""
    blocks = [min(n, start)]
    while sum(blocks) < n:
        blocks.append(min(step, n - sum(blocks)))
    return blocks


def check_options(replications: int | None, confidence: float, precision: float | None,
                  workers: int | None = None, sampling: str = "lhs") -> None:
    """ReplicationsError naming the option and a good value."""
    if sampling not in SAMPLINGS:
        raise ReplicationsError(f"--sampling {sampling!r}: expected one of {', '.join(SAMPLINGS)}, e.g. lhs")
    if replications is not None and replications < 1:
        raise ReplicationsError(f"--replications {replications}: expected a whole number >= 1, e.g. 30")
    if not 0 < confidence < 1:
        raise ReplicationsError(f"--confidence {confidence:g}: expected a level between 0 and 1, e.g. 0.95")
    if precision is not None and not precision > 0:
        raise ReplicationsError(f"--precision {precision:g}: expected a relative half-width > 0, e.g. 0.02")
    if workers is not None and workers < 1:
        raise ReplicationsError(f"--workers {workers}: expected a whole number >= 1, e.g. 2")


@dataclass(frozen=True)
class ReplicationResult:
    """What one replication hands back (picklable, small): its summary, the series the report's bands need,
    and the run directory's per-bin/per-submission files only when asked for (``files``)."""

    variant: int
    replication: int
    seed: int
    drawn: dict[str, Any]
    summary: dict[str, Any]
    created_per_bin: tuple[int, ...]
    time_to_created_quantiles_s: tuple[float, ...]  # at QUANTILE_LEVELS; empty when nothing was created
    files: dict[str, str] = field(default_factory=dict)


def replication_seeds(seed: int, n: int) -> list[int]:
    """The integer seed of each of ``n`` replications (see the module docstring)."""
    if n == 1:
        return [seed]
    return [int(child.generate_state(1, np.uint32)[0]) for child in np.random.SeedSequence(seed).spawn(n)]


def draw_rng(seed: int) -> np.random.Generator:
    """The generator that draws the ``[uncertain]`` inputs of every replication (one stream per seed)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(UNCERTAIN_STREAM,)))


def metric_columns(results: Sequence[ReplicationResult], paths: Sequence[str] = HEADLINE_METRICS
                   ) -> dict[str, list[float]]:
    """``{path: [value of replication 0, 1, …]}``."""
    values = [headline_values(r.summary, paths) for r in results]
    return {path: [v[path] for v in values] for path in paths}


def as_written(value: float) -> float:
    """A figure as replications.csv holds it (six significant digits): the decision ``compare`` prints is made
    from these, so the report, re-made from the run directories, says the same digits."""
    text = _cell(float(value))
    return float(text) if text else math.nan


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    return str(value)


def replications_csv(results: Sequence[ReplicationResult], uncertain_keys: Sequence[str]) -> str:
    """One row per replication: ``replication, seed``, each uncertain key's drawn value, the headline metrics."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("replication", "seed", *uncertain_keys, *HEADLINE_METRICS))
    for result in results:
        metrics = headline_values(result.summary)
        writer.writerow((result.replication, result.seed, *(_cell(result.drawn.get(k, "")) for k in uncertain_keys),
                         *(_cell(metrics[p]) for p in HEADLINE_METRICS)))
    return out.getvalue()


def bands_csv(results: Sequence[ReplicationResult], bin_s: float) -> str:
    """Percentile bands across replications: created per second in each bin (``series = created_per_s``,
    ``x`` = the bin's start in seconds) and the time-to-created quantile at each level (``series =
    time_to_created_s``, ``x`` = the share of created registrations)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("series", "x", *(f"p{p:02d}" for p in BAND_PERCENTILES)))
    bins = max((len(r.created_per_bin) for r in results), default=0)
    if bins:
        created = np.zeros((len(results), bins))
        for row, result in enumerate(results):
            created[row, :len(result.created_per_bin)] = result.created_per_bin
        bands = np.percentile(created / bin_s, BAND_PERCENTILES, axis=0)
        for index in range(bins):
            writer.writerow(("created_per_s", f"{index * bin_s:g}", *(f"{b:.6g}" for b in bands[:, index])))
    quantiles = [r.time_to_created_quantiles_s for r in results if r.time_to_created_quantiles_s]
    if quantiles:
        bands = np.percentile(np.asarray(quantiles), BAND_PERCENTILES, axis=0)
        for index, level in enumerate(QUANTILE_LEVELS):
            writer.writerow(("time_to_created_s", f"{level:g}", *(f"{b:.6g}" for b in bands[:, index])))
    return out.getvalue()


def replicated_summary(results: Sequence[ReplicationResult], *, seed: int, confidence: float, sampling: str,
                       uncertain: dict[str, str], precision: float | None = None,
                       requested: int | None = None) -> dict[str, Any]:
    """summary.json of a replicated run: every existing key holds the mean across replications, and the
    ``replications`` block (fixed names, DESIGN.md) holds the intervals."""
    summary = mean_summary([r.summary for r in results])
    for reasons in ("rejected_by", "dead_letter_reasons"):  # mean counts per reason: a tenth is enough
        if isinstance(summary.get(reasons), dict):
            summary[reasons] = {k: round(v, 1) for k, v in summary[reasons].items()}
    columns = metric_columns(results)
    summary["seed"] = seed
    summary["wall_s"] = round(sum(r.summary.get("wall_s", 0.0) for r in results), 3)
    block: dict[str, Any] = {
        "n": len(results),
        "confidence": confidence,
        "sampling": sampling,
        "seeds": [r.seed for r in results],
        "uncertain": uncertain,
        "metrics": interval_block(columns, confidence),
    }
    # A figure no replication has (time to confirmed with the confirmation journey off) is not "not reached".
    not_reached = {path: count for path, count in not_reached_counts(columns).items()
                   if any(_has(r.summary, path) for r in results)}
    if not_reached:  # {path: replications that did not reach it}; those paths have no mean and no interval
        block["not_reached"] = not_reached
    if precision is not None:
        block["precision"] = precision
        block["requested"] = requested
        # Replications were added in blocks, each a design of its own (with lhs: its own Latin hypercube).
        block["blocks"] = sequential_blocks(len(results), PRECISION_START, PRECISION_STEP)
    summary["replications"] = block
    return summary


def _has(summary: dict[str, Any], path: str) -> bool:
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def replicated_files(results: Sequence[ReplicationResult], summary: dict[str, Any], scenario_toml: str,
                     uncertain_keys: Sequence[str]) -> dict[str, str]:
    """A replicated run directory's files as ``{name: text}``: the fixed four (``timeseries.csv`` and
    ``submissions.csv`` are replication 1's sample path; summary.json holds the means and intervals),
    ``replications.csv`` and ``bands.csv``."""
    return {
        "scenario.toml": scenario_toml,
        "summary.json": json.dumps(summary, indent=2) + "\n",
        **results[0].files,
        "replications.csv": replications_csv(results, uncertain_keys),
        "bands.csv": bands_csv(results, float(results[0].summary["bin_s"])),
    }


def single_run_files(result: ReplicationResult, scenario_toml: str) -> dict[str, str]:
    """The four files of a one-replication run, exactly as an unreplicated ``simulate`` writes them."""
    return {"scenario.toml": scenario_toml, "summary.json": json.dumps(result.summary, indent=2) + "\n",
            **result.files}


def precision_note(results: Sequence[Sequence[ReplicationResult]], precision: float, requested: int,
                   confidence: float, paths: Sequence[str] = HEADLINE_METRICS) -> str:
    """What ``--precision`` came to: how many replications were needed, or which interval was still wide."""
    from simulator.stats import precise_enough

    done = len(results[0])
    blocks = [interval_block(metric_columns(r, paths), confidence) for r in results]
    if all(precise_enough(block, precision, paths) for block in blocks):
        return (f"--precision {precision:g}: {done} replications were needed for every {confidence:.0%} "
                f"interval to be within ±{precision:.0%} of its mean")
    widest, relative = "", 0.0
    for block in blocks:
        for path, entry in block.items():
            half = (entry["ci_high"] - entry["ci_low"]) / 2
            share = half / abs(entry["mean"]) if entry["mean"] else math.inf
            if half > 0 and share > relative:
                widest, relative = path, share
    return (f"--precision {precision:g}: not reached within --replications {requested}; the widest interval is "
            f"{widest} at ±{relative:.1%} of its mean (raise --replications)")
