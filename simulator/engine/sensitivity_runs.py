"""The runs of a sensitivity design: one task per point, through the replication seam (local pool or Dask)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import as_completed
from typing import Any

from simulator.engine.replicate import ReplicationTask, Submitter, run_tasks
from simulator.replications import ReplicationResult
from simulator.scenario import Scenario
from simulator.sensitivity import Design, draws
from simulator.uncertain import Uncertain, apply_draw

__all__ = ["point_tasks", "run_points"]


def point_tasks(scenario: Scenario, overrides: Sequence[str], entries: Sequence[Uncertain], design: Design,
                source: str) -> list[ReplicationTask]:
    """One task per design point, every one with the scenario's own seed (common random numbers), each drawn
    scenario validated before anything runs (UncertainError naming the key)."""
    values = draws(entries, design.points)
    return [ReplicationTask(apply_draw(scenario, drawn, source, i), tuple(overrides), 0, i, tuple(drawn.items()))
            for i, drawn in enumerate(values)]


def run_points(
    tasks: Sequence[ReplicationTask],
    *,
    workers: int | None = None,
    executor: Submitter | None = None,
    gather: Callable[[Iterable[Any]], Iterator[Any]] = as_completed,
    on_done: Callable[[ReplicationResult], None] | None = None,
) -> list[ReplicationResult]:
    """Every point's result (summary-only runs), in design order."""
    return run_tasks(tasks, workers=workers, executor=executor, gather=gather, on_done=on_done)
