"""The workload process: each arrival (see simulator/arrivals.py) browses the catalog, then offers."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from simulator.arrivals import journeys
from simulator.catalog import Catalog
from simulator.engine.pipeline import EventPipeline, Offer
from simulator.scenario import Scenario

__all__ = ["workload"]


def workload(
    env: simpy.Environment, pipeline: EventPipeline, catalog: Catalog, scenario: Scenario, rng: random.Random
) -> Generator[Any, Any, None]:
    """A process: offer every arrival to the pipeline, then tell it arrivals are over. The journeys are those
    a Locust run of the same scenario sends over HTTP (``loadtests``)."""
    for arrival, (t, event, kind, session_ids, pages) in enumerate(journeys(scenario, catalog, rng)):
        yield env.timeout(t - env.now)
        pipeline.browse(event.id, pages)
        if kind == "event":
            offer = Offer("event", event, arrival=arrival)
        elif kind == "session":
            offer = Offer("session", event, session_ids, arrival=arrival)
        else:
            offer = Offer("waitlist", event, waitlisted=True, arrival=arrival)
        pipeline.offer(offer)
    pipeline.arrivals_over()
