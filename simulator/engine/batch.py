"""Many virtual runs in parallel processes (``stampede compare`` grids, ``stampede plan`` probes)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from simulator.engine.virtual import VirtualRun, run_virtual
from simulator.scenario import Scenario, load_scenario

__all__ = ["resolve_variants", "run_variants"]


def resolve_variants(path: Path, override_lists: list[list[str]], seed: int | None = None,
                     origins: list[str] | None = None, warn: Callable[[str], None] | None = None) -> list[Scenario]:
    """Load every variant first, so a bad value fails before any run starts (ScenarioError); ``origins[i]``
    says where variant i's overrides came from in its error ("--vary retry.policy=none")."""
    labels = origins or ["--set overrides"] * len(override_lists)
    return [load_scenario(path, overrides, seed, overrides_from=label, warn=warn)
            for overrides, label in zip(override_lists, labels, strict=True)]


def _run(scenario: Scenario, overrides: list[str]) -> VirtualRun:
    return run_virtual(scenario, overrides=overrides)


def run_variants(
    scenarios: list[Scenario],
    override_lists: list[list[str]],
    workers: int | None = None,
    on_done: Callable[[int, VirtualRun], None] | None = None,
) -> list[VirtualRun]:
    """Run each scenario (one process each, ``workers`` at a time); results in the input order."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(scenarios)))
    if workers == 1:
        results = []
        for index, (scenario, overrides) in enumerate(zip(scenarios, override_lists, strict=True)):
            results.append(_run(scenario, overrides))
            if on_done is not None:
                on_done(index, results[-1])
        return results
    done: dict[int, VirtualRun] = {}
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads (progress bars)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_run, s, o): i for i, (s, o) in enumerate(zip(scenarios, override_lists, strict=True))}
        for future in as_completed(futures):
            index = futures[future]
            done[index] = future.result()
            if on_done is not None:
                on_done(index, done[index])
    return [done[i] for i in range(len(scenarios))]
