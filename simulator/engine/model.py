"""Assemble the model — Dataverse, event pipeline, level sampling — on a SimPy environment; the same
assembly serves the virtual driver and the realtime one."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import simpy

from simulator.catalog import Catalog, build_catalog
from simulator.engine.confirmation import ConfirmationStage
from simulator.engine.dataverse import DataverseModel
from simulator.engine.payments import PaymentDesk
from simulator.engine.pipeline import EventPipeline, Journal
from simulator.records import Recorder
from simulator.scenario import Scenario

__all__ = ["Model", "build_model", "new_model"]


@dataclass
class Model:
    env: simpy.Environment
    scenario: Scenario
    catalog: Catalog
    recorder: Recorder
    dataverse: DataverseModel
    pipeline: EventPipeline
    arrival_rng: random.Random
    confirmation: ConfirmationStage | None = None

    def start_faults(self) -> None:
        """Schedule the scenario's faults (each a process that waits until its ``at``)."""
        for fault in self.scenario.faults:
            self.env.process(self._fault_at(fault))

    def _fault_at(self, fault: Any) -> Any:
        yield self.env.timeout(max(0.0, fault.at - self.env.now))
        self.dataverse.start_fault(fault)


def build_model(env: simpy.Environment, scenario: Scenario, journal: Journal | None = None, *,
                summary_only: bool = False) -> Model:
    """The whole model for ``scenario``; separate seeded streams keep arrivals identical across variants
    that change only the system (retry policy, cache, limits), so comparisons see the same traffic.
    ``summary_only``: the recorder keeps no row per submission (the summary and the time series are the same)."""
    seed = scenario.seed
    recorder = Recorder(scenario.bin, keep_submissions=not summary_only, keep_times=summary_only)
    catalog = build_catalog(scenario.catalog, seed)
    dataverse = DataverseModel(env, scenario.dataverse, random.Random(f"{seed}-latency"), recorder)
    pipeline = EventPipeline(env, scenario, catalog, recorder, dataverse, random.Random(f"{seed}-pipeline"),
                             journal)
    pipeline.payments = PaymentDesk(env, scenario.payment, f"{seed}-payments",
                                    admit=pipeline.paid, expire=pipeline.expire_purchase,
                                    journal=journal if hasattr(journal, "held") else None)  # type: ignore[arg-type]
    confirmation = None
    if scenario.confirmation.enabled:
        confirmation = ConfirmationStage(env, scenario.confirmation, recorder, random.Random(f"{seed}-confirmation"))
        pipeline.on_created = confirmation.trigger
    env.process(pipeline.sample_levels())
    return Model(env, scenario, catalog, recorder, dataverse, pipeline, random.Random(f"{seed}-arrivals"),
                 confirmation)


def new_model(scenario: Scenario, journal: Journal | None = None, start_s: float = 0.0) -> Model:
    """The model for ``scenario`` on its own environment, its clock starting at ``start_s`` (a restarted live
    server resumes at the latest time its journal stored): the HTTP face builds its model without SimPy."""
    return build_model(simpy.Environment(initial_time=start_s), scenario, journal)
