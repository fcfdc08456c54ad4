"""Replications in parallel: picklable tasks in, small results out, run by any executor.

A :class:`ReplicationTask` is everything one replication needs (the drawn scenario with its replication
seed); :func:`run_replication` is a module-level function, so a process pool or a remote worker (Dask) can
call it and send back a :class:`~simulator.replications.ReplicationResult` — a summary and two short series,
never per-submission rows unless the task asks for the run directory's files.

:func:`run_tasks` is the seam: give it any ``executor`` with ``submit(fn, *args)`` returning futures, and a
``gather`` that yields them as they finish (``concurrent.futures.as_completed`` by default; Dask's
``distributed.as_completed`` for a ``Client``). Without one it runs in-process (one worker) or in a spawned
process pool. Results come back in task order, so they are the same whatever ran them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from simulator.engine.virtual import run_virtual
from simulator.records import run_files
from simulator.replications import (
    PRECISION_START,
    PRECISION_STEP,
    QUANTILE_LEVELS,
    ReplicationResult,
    draw_rng,
    metric_columns,
    replication_seeds,
    sequential_blocks,
)
from simulator.scenario import Scenario
from simulator.stats import HEADLINE_METRICS, interval_block, precise_enough
from simulator.sweep import Slo
from simulator.uncertain import Uncertain, apply_draw, draw

__all__ = ["Interrupted", "ReplicationTask", "Submitter", "run_replication", "run_tasks", "build_tasks",
           "local_pool", "replicate"]

ROW_FILES = ("timeseries.csv", "submissions.csv")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while replications ran: the pool's workers are stopped and the unstarted tasks cancelled at once;
    ``finished`` holds every result that came back before it (task order), ``total`` how many were asked for.
    A KeyboardInterrupt, so whoever does not look for it still stops."""

    def __init__(self, finished: list[ReplicationResult], total: int) -> None:
        super().__init__(f"{len(finished)} of {total} replications done")
        self.finished = finished
        self.total = total


class Submitter(Protocol):
    """Anything that runs ``fn(*args)`` somewhere and returns a future: a ProcessPoolExecutor, a Dask Client."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any: ...


@dataclass(frozen=True)
class ReplicationTask:
    """One replication of one variant: the drawn scenario (its seed is the replication's), the overrides that
    made the variant (echoed into summary.json), whether to render the run directory's row files, and a `plan`
    probe's SLOs, to stop the run once one can no longer hold (``stop_failing``; simulator/stopping.py)."""

    scenario: Scenario
    overrides: tuple[str, ...]
    variant: int
    replication: int
    drawn: tuple[tuple[str, Any], ...] = ()
    keep_files: bool = False
    stop_failing: tuple[Slo, ...] = ()


def run_replication(task: ReplicationTask) -> ReplicationResult:
    """Run one replication in virtual time; picklable in and out."""
    # Summary-only unless the run directory's rows are wanted: the summary and series are the same either way.
    run = run_virtual(task.scenario, overrides=list(task.overrides), summary_only=not task.keep_files,
                      stop_failing=task.stop_failing)
    recorder = run.recorder
    bins = recorder.bins_until(run.simulated_s)
    created_per_bin = tuple(recorder.counts["created"][:bins])
    quantiles: tuple[float, ...] = ()
    if recorder.created_count:
        waits = np.frombuffer(recorder.times_to_created_s, dtype=float)
        quantiles = tuple(round(float(q), 3) for q in np.quantile(waits, QUANTILE_LEVELS))
    files: dict[str, str] = {}
    if task.keep_files:
        rendered = run_files(recorder, run.summary, "")
        files = {name: rendered[name] for name in ROW_FILES}
    return ReplicationResult(task.variant, task.replication, task.scenario.seed, dict(task.drawn), run.summary,
                             created_per_bin, quantiles, files)


def _run_inline(tasks: Sequence[ReplicationTask], on_done: Callable[[ReplicationResult], None] | None
                ) -> list[ReplicationResult]:
    """Each task in turn in this process (one worker: no pickling, no process start-up)."""
    finished: list[ReplicationResult] = []
    try:
        for task in tasks:
            finished.append(run_replication(task))
            if on_done is not None:
                on_done(finished[-1])
    except KeyboardInterrupt:
        raise Interrupted(finished, len(tasks)) from None
    return finished


def run_tasks(
    tasks: Sequence[ReplicationTask],
    *,
    workers: int | None = None,
    executor: Submitter | None = None,
    gather: Callable[[Iterable[Any]], Iterator[Any]] = as_completed,
    on_done: Callable[[ReplicationResult], None] | None = None,
) -> list[ReplicationResult]:
    """Run every task; results in task order. ``executor`` (owned by the caller) takes precedence over
    ``workers`` (default: one process per core; 1 runs in this process)."""
    if not tasks:
        return []
    if executor is not None:
        return _gather(tasks, executor, gather, on_done)
    workers = max(1, min(workers or os.cpu_count() or 1, len(tasks)))
    if workers == 1:
        return _run_inline(tasks, on_done)
    with _spawned_pool(workers) as pool:
        return _gather(tasks, pool, as_completed, on_done, spawning=True)


@contextlib.contextmanager
def _spawned_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads (progress bars)
    before = set(multiprocessing.active_children())
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        try:
            yield pool
        except BaseException:
            # Ctrl-C (or a failed task): cancel what has not started and stop the workers now, not after the
            # runs they hold (the pool's own shutdown would wait for them)
            pool.shutdown(wait=False, cancel_futures=True)
            for process in set(multiprocessing.active_children()) - before:
                process.terminate()
            raise


@contextlib.contextmanager
def local_pool(workers: int | None) -> Iterator[Submitter | None]:
    """A process pool of ``workers`` (default: one per core) for a caller that submits tasks a few at a time
    (`plan`'s probes), started once, its processes up before this yields; None for one worker (run in this
    process). A running task is left to finish when the caller stops early; Ctrl-C stops the processes."""
    workers = max(1, workers or os.cpu_count() or 1)
    if workers == 1:
        yield None
        return
    with _spawned_pool(workers) as pool:
        with _sigint_ignored(True):  # each submission while every worker is busy starts one more process
            for warm in [pool.submit(os.getpid) for _ in range(workers)]:
                warm.result()
        yield pool


@contextlib.contextmanager
def _sigint_ignored(spawning: bool) -> Iterator[None]:
    """While a spawning pool's processes start: they inherit an ignored SIGINT, so a terminal's Ctrl-C (sent to
    the whole process group) interrupts only this process, which stops them — no traceback from each worker."""
    if not spawning or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _gather(tasks: Sequence[ReplicationTask], executor: Submitter,
            gather: Callable[[Iterable[Any]], Iterator[Any]],
            on_done: Callable[[ReplicationResult], None] | None, spawning: bool = False) -> list[ReplicationResult]:
    futures: dict[Any, int] = {}
    done: dict[int, ReplicationResult] = {}
    try:
        with _sigint_ignored(spawning):  # a spawning pool starts its workers as tasks are submitted
            for index, task in enumerate(tasks):
                futures[executor.submit(run_replication, task)] = index
        for future in gather(list(futures)):
            result = future.result()
            done[futures[future]] = result
            if on_done is not None:
                on_done(result)
    except KeyboardInterrupt:
        raise Interrupted([done[i] for i in sorted(done)], len(tasks)) from None
    return [done[i] for i in range(len(tasks))]


def build_tasks(
    variants: Sequence[Scenario],
    override_lists: Sequence[Sequence[str]],
    entries: Sequence[Uncertain],
    n: int,
    *,
    seed: int,
    sampling: str,
    source: str,
    replications: range | None = None,
    keep_files_of: int | None = 0,
    blocks: Sequence[int] | None = None,
    stop_failing: Sequence[Slo] = (),
) -> list[ReplicationTask]:
    """Tasks for replications ``replications`` (default all n) of every variant, variant-major. Replication i
    of every variant gets the same seed and the same drawn inputs (common random numbers); every drawn
    scenario is validated here, before anything runs (UncertainError naming the key). ``stop_failing``: a
    `plan` probe's SLOs, to cut each run short once one can no longer hold."""
    seeds = replication_seeds(seed, n)
    values = draw(list(entries), n, sampling, draw_rng(seed), blocks) if entries else [{} for _ in range(n)]
    wanted = replications if replications is not None else range(n)
    tasks = []
    for v, (variant, overrides) in enumerate(zip(variants, override_lists, strict=True)):
        for i in wanted:
            drawn = apply_draw(variant, values[i], source, i)
            scenario = drawn.model_copy(update={"seed": seeds[i]}, deep=True)
            tasks.append(ReplicationTask(scenario, tuple(overrides), v, i, tuple(values[i].items()),
                                         keep_files=i == keep_files_of, stop_failing=tuple(stop_failing)))
    return tasks


def replicate(
    variants: Sequence[Scenario],
    override_lists: Sequence[Sequence[str]],
    entries: Sequence[Uncertain],
    n: int,
    *,
    sampling: str,
    source: str,
    confidence: float = 0.95,
    precision: float | None = None,
    paths: Sequence[str] = HEADLINE_METRICS,
    workers: int | None = None,
    executor: Submitter | None = None,
    gather: Callable[[Iterable[Any]], Iterator[Any]] = as_completed,
    on_done: Callable[[ReplicationResult], None] | None = None,
) -> list[list[ReplicationResult]]:
    """``n`` replications of every variant (``results[variant][replication]``), on common random numbers.

    With ``precision`` (e.g. 0.02), replications are added in fixed steps, up to ``n``, until every variant's
    interval on each of ``paths`` has a half-width within ``precision`` × its mean. Every drawn scenario is
    validated before the first replication runs."""
    seed = variants[0].seed
    blocks = sequential_blocks(n, PRECISION_START, PRECISION_STEP) if precision is not None else [n]
    everything = build_tasks(variants, override_lists, entries, n, seed=seed, sampling=sampling, source=source,
                             blocks=blocks)
    by_replication = {(t.variant, t.replication): t for t in everything}
    results: list[list[ReplicationResult]] = [[] for _ in variants]
    done = 0
    target = n if precision is None else min(n, PRECISION_START)
    while True:
        batch = [by_replication[(v, i)] for v in range(len(variants)) for i in range(done, target)]
        try:
            finished = run_tasks(batch, workers=workers, executor=executor, gather=gather, on_done=on_done)
        except Interrupted as interrupted:
            earlier = [result for runs in results for result in runs]
            raise Interrupted(earlier + interrupted.finished, len(variants) * n) from None
        for result in finished:
            results[result.variant].append(result)
        done = target
        if done >= n or precision is None or all(
            precise_enough(interval_block(metric_columns(r, paths), confidence), precision, paths) for r in results
        ):
            return results
        target = min(n, done + PRECISION_STEP)
