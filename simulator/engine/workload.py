"""The workload process: each arrival (see simulator/arrivals.py) browses the catalog, then offers."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from simulator.arrivals import arrivals
from simulator.catalog import Catalog
from simulator.engine.pipeline import EventPipeline, Offer
from simulator.scenario import Workload

__all__ = ["workload"]


def workload(
    env: simpy.Environment, pipeline: EventPipeline, catalog: Catalog, workload: Workload, rng: random.Random
) -> Generator[Any, Any, None]:
    """A process: offer every arrival to the pipeline, then tell it arrivals are over."""
    mix = workload.mix
    event_share = mix.event
    session_share = mix.event + mix.session
    events = catalog.events
    browse_whole = int(workload.browse_per_submission)
    browse_fraction = workload.browse_per_submission - browse_whole
    want_sessions = workload.sessions_per_submission
    random = rng.random
    event_count = len(events)
    for t in arrivals(workload, rng):
        yield env.timeout(t - env.now)
        event = events[int(random() * event_count)]
        draw = random()
        pages = browse_whole + (1 if browse_fraction and random() < browse_fraction else 0)
        pipeline.browse(event.id, pages)
        if draw < event_share or (draw < session_share and not event.sessions):
            offer = Offer("event", event)
        elif draw < session_share:
            chosen = rng.sample(event.sessions, min(want_sessions, len(event.sessions)))
            offer = Offer("session", event, tuple(s.id for s in chosen))
        else:
            offer = Offer("waitlist", event, waitlisted=True)
        pipeline.offer(offer)
    pipeline.arrivals_over()
