"""The virtual-time driver: hours of traffic in seconds, deterministic by seed."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from simulator.arrivals import arrival_count
from simulator.engine.gc_policy import fewer_young_collections
from simulator.engine.model import Model, build_model
from simulator.engine.refusals import demand_cut_by
from simulator.engine.simpy_seams import events_scheduled
from simulator.engine.workload import workload
from simulator.journey import invitations_sent_per_bin
from simulator.levers import pool_figures, sending_figures
from simulator.plan import capacity, registration_summary
from simulator.records import STOPPED_AT_S, STOPPED_BECAUSE, Recorder, summarize
from simulator.scenario import Scenario
from simulator.stopping import FailureWatch
from simulator.sweep import Slo

__all__ = ["VirtualRun", "run_virtual", "summary_skeleton"]

Progress = Callable[[float, float], None]  # (simulated seconds done, horizon seconds)


@dataclass
class VirtualRun:
    scenario: Scenario
    recorder: Recorder
    summary: dict[str, Any]
    simulated_s: float
    wall_s: float
    events: int  # SimPy events scheduled: the model's work, for the benchmark


def run_virtual(scenario: Scenario, progress: Progress | None = None, *, overrides: list[str] | None = None,
                chunks: int = 200, summary_only: bool = False, stop_failing: Sequence[Slo] = ()) -> VirtualRun:
    """Run ``scenario`` until its horizon, or earlier once arrivals are over and nothing is pending.

    ``summary_only``: keep no row per submission (replications, probes, sensitivity points): the summary and
    the time series are identical to a full run's, but the recorder cannot render ``submissions.csv``.
    ``stop_failing`` (a `plan` probe's SLOs, summary-only): between chunks, stop once one of them can no longer
    hold (simulator/stopping.py); the summary then says when and why (``stopped_at_s``, ``stopped_because``)."""
    started = time.perf_counter()
    env = simpy.Environment()
    model: Model = build_model(env, scenario, summary_only=summary_only)
    model.start_faults()
    env.process(workload(env, model.pipeline, model.catalog, scenario, model.arrival_rng))
    horizon_s = scenario.horizon
    settled = model.pipeline.settled
    confirmation = model.confirmation

    def over() -> bool:  # nothing pending, and every confirmation on its way has gone out
        return settled.triggered and (confirmation is None or confirmation.in_flight == 0)

    watch = None
    if stop_failing and summary_only:
        at_start = random.Random()  # the arrival stream as the workload starts drawing it, counted if needed
        at_start.setstate(model.arrival_rng.getstate())
        watch = FailureWatch(stop_failing, lambda: arrival_count(scenario, model.catalog, at_start))
    stopped: tuple[float, str] | None = None
    step_s = max(horizon_s / chunks, scenario.bin)
    until = 0.0
    with fewer_young_collections():
        while until < horizon_s and not over():
            until = min(horizon_s, until + step_s)
            ends = settled if not settled.triggered or confirmation is None else confirmation.idle
            env.run(until=env.any_of([ends, env.timeout(until - env.now)]))
            if progress is not None:
                progress(env.now, horizon_s)
            if watch is not None and until < horizon_s and not over():
                because = watch.failed(model.recorder, env.now)
                if because is not None:
                    stopped = (float(env.now), because)
                    break
    simulated_s = float(env.now) if over() or stopped else horizon_s
    if scenario.workload.shape == "journey":
        model.recorder.add_counts("invitations_sent", invitations_sent_per_bin(scenario.journey, simulated_s,
                                                                               scenario.bin))
    wall_s = time.perf_counter() - started
    events = events_scheduled(env)  # the model's work
    summary = summarize(
        model.recorder, name=scenario.name, mode="simulated", seed=scenario.seed, simulated_s=simulated_s,
        wall_s=wall_s, capacity=capacity(scenario),
        extra={"overrides": list(overrides or []), "validating_at_end": model.pipeline.validating,
               "registration": registration_summary(scenario)},
        confirmation=confirmation.summary() if confirmation is not None else None,
    )
    requests = np.add(model.recorder.counts["dv_admitted"], model.recorder.counts["dv_throttled"])
    summary["demand_cut_by"] = demand_cut_by(scenario.catalog, summary["rejected_by"])
    summary["dataverse"].update(pool_figures(scenario.tenant, requests, scenario.bin))
    if scenario.workload.shape == "journey":
        summary["journey"] = sending_figures(scenario)
    if stopped is not None:
        summary[STOPPED_AT_S], summary[STOPPED_BECAUSE] = round(stopped[0], 3), stopped[1]
    return VirtualRun(scenario, model.recorder, summary, simulated_s, wall_s, events)


def summary_skeleton(scenario: Scenario) -> dict[str, Any]:
    """The summary of one bin of ``scenario``: every key its runs' summary.json will have (the engine's blocks
    — registration, the 24 h pool, the confirmation journey — included), to check a metric or SLO path before
    anything long runs."""
    return run_virtual(scenario.model_copy(update={"horizon": scenario.bin})).summary
