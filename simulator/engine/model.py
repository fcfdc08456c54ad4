"""Assemble the model — Dataverse, event pipeline, level sampling — on a SimPy environment; the same
assembly serves the virtual driver and the realtime one."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import simpy

from simulator import plan as plans
from simulator.catalog import Catalog, build_catalog
from simulator.engine.dataverse import DataverseModel
from simulator.engine.pipeline import EventPipeline, Journal
from simulator.records import Recorder
from simulator.scenario import Scenario

__all__ = ["Model", "build_model", "capacity"]


@dataclass
class Model:
    env: simpy.Environment
    scenario: Scenario
    catalog: Catalog
    recorder: Recorder
    dataverse: DataverseModel
    pipeline: EventPipeline
    arrival_rng: random.Random

    def start_faults(self) -> None:
        """Schedule the scenario's faults (each a process that waits until its ``at``)."""
        for fault in self.scenario.faults:
            self.env.process(self._fault_at(fault))

    def _fault_at(self, fault: Any) -> Any:
        yield self.env.timeout(max(0.0, fault.at - self.env.now))
        yield from self.dataverse.fault(fault)


def build_model(env: simpy.Environment, scenario: Scenario, journal: Journal | None = None) -> Model:
    """The whole model for ``scenario``; separate seeded streams keep arrivals identical across variants
    that change only the system (retry policy, cache, limits), so comparisons see the same traffic."""
    seed = scenario.seed
    recorder = Recorder(scenario.bin)
    catalog = build_catalog(scenario.catalog, seed)
    dataverse = DataverseModel(env, scenario.dataverse, random.Random(f"{seed}-latency"), recorder)
    pipeline = EventPipeline(env, scenario, catalog, recorder, dataverse, random.Random(f"{seed}-pipeline"),
                             journal)
    env.process(pipeline.sample_levels())
    return Model(env, scenario, catalog, recorder, dataverse, pipeline, random.Random(f"{seed}-arrivals"))


def capacity(scenario: Scenario) -> dict[str, float]:
    """The analytic ceiling: keys × requests_limit / window ÷ Dataverse calls per registration (cache reads
    counted only when there is no cache: with one, they are rare)."""
    dv = scenario.dataverse
    keys = dv.app_users if dv.affinity else dv.app_users * dv.web_servers
    requests_per_s = keys * dv.requests_limit / dv.window
    calls = plans.mean_calls_per_submission(scenario)
    if scenario.api.cache == "none":
        calls += plans.mean_reads_per_submission(scenario)
    return {
        "keys": keys,
        "requests_per_s_ceiling": round(requests_per_s, 6),
        "calls_per_registration": round(calls, 6),
        "ceiling_created_per_s": round(requests_per_s / calls, 6) if calls else 0.0,
    }
