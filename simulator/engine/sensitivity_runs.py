"""The runs of a sensitivity design: one task per point, through the replication seam (local pool or Dask)."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.engine.replicate import ReplicationTask
from simulator.scenario import Scenario
from simulator.sensitivity import Design, draws
from simulator.uncertain import Uncertain, apply_draw

__all__ = ["point_tasks"]  # run them with simulator.engine.replicate.run_tasks (results in design order)


def point_tasks(scenario: Scenario, overrides: Sequence[str], entries: Sequence[Uncertain], design: Design,
                source: str) -> list[ReplicationTask]:
    """One task per design point, every one with the scenario's own seed (common random numbers), each drawn
    scenario validated before anything runs (UncertainError naming the key)."""
    values = draws(entries, design.points)
    return [ReplicationTask(apply_draw(scenario, drawn, source, i), tuple(overrides), 0, i, tuple(drawn.items()))
            for i, drawn in enumerate(values)]

