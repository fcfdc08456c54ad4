"""Replications: common random numbers, results independent of who ran them, today's run at N = 1."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from simulator.engine.replicate import ReplicationTask, build_tasks, replicate, run_replication, run_tasks
from simulator.engine.virtual import run_virtual
from simulator.replications import (
    PRECISION_START,
    PRECISION_STEP,
    replicated_summary,
    replication_seeds,
    replications_csv,
    sequential_blocks,
)
from simulator.scenario import parse_scenario
from simulator.uncertain import parse_uncertain

TINY = {
    "name": "tiny", "seed": 5, "horizon": "30m",
    "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
    "workload": {"shape": "constant", "rate": 4, "duration": "2m", "browse_per_submission": 1},
    "api": {"processors": 4},
}


def _without_wall(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "wall_s"}


def test_one_replication_is_todays_run_exactly() -> None:
    scenario = parse_scenario(TINY)
    [task] = build_tasks([scenario], [[]], [], 1, seed=scenario.seed, sampling="lhs", source="tiny")
    assert task.scenario.seed == scenario.seed == replication_seeds(scenario.seed, 1)[0]
    assert _without_wall(run_replication(task).summary) == _without_wall(run_virtual(scenario).summary)


def test_replication_seeds_are_the_seed_sequence_children() -> None:
    children = np.random.SeedSequence(7).spawn(5)
    assert replication_seeds(7, 5) == [int(c.generate_state(1, np.uint32)[0]) for c in children]
    assert replication_seeds(7, 8)[:5] == replication_seeds(7, 5)  # adding replications keeps the first ones
    assert len(set(replication_seeds(7, 50))) == 50


def test_every_variant_sees_the_same_arrivals_in_replication_i() -> None:
    """Common random numbers: a change to the system only (more processors) leaves the traffic alone."""
    base = parse_scenario(TINY)
    other = parse_scenario({**TINY, "api": {"processors": 8}})
    results = replicate([base, other], [[], ["api.processors=8"]], [], 3, sampling="lhs", source="tiny",
                        workers=1)
    for first, second in zip(*results, strict=True):
        assert first.seed == second.seed
        assert first.summary["submissions"]["offered"] == second.summary["submissions"]["offered"]
    assert len({r.summary["submissions"]["offered"] for r in results[0]}) > 1  # the replications differ


def _run_with(workers: int | None = None, executor: object | None = None) -> tuple[str, dict]:
    scenario = parse_scenario({**TINY, "uncertain": {"workload.rate": {"dist": "uniform", "low": 2, "high": 6}}})
    entries = parse_uncertain(scenario, "tiny")
    [results] = replicate([scenario], [[]], entries, 4, sampling="lhs", source="tiny", workers=workers,
                          executor=executor)  # type: ignore[arg-type]
    summary = replicated_summary(results, seed=scenario.seed, confidence=0.95, sampling="lhs",
                                 uncertain={e.key: e.describe() for e in entries})
    return replications_csv(results, ["workload.rate"]), _without_wall(summary)


@pytest.mark.slow  # process pools of 1, 2 and 4 workers
def test_results_are_identical_whatever_the_number_of_workers() -> None:
    one = _run_with(workers=1)
    assert _run_with(workers=2) == one
    assert _run_with(workers=4) == one


def test_any_executor_with_submit_can_run_the_replications() -> None:
    """The seam a Dask Client plugs into: submit() returning futures, gathered as they complete."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert _run_with(executor=pool) == _run_with(workers=1)


def test_a_task_and_its_result_are_picklable_and_small() -> None:
    import pickle

    scenario = parse_scenario(TINY)
    task = ReplicationTask(scenario, (), 0, 0)
    result = run_replication(pickle.loads(pickle.dumps(task)))
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.files == {}  # no per-submission rows unless asked for
    assert len(result.time_to_created_quantiles_s) == 101


def test_tasks_come_back_in_task_order() -> None:
    scenario = parse_scenario(TINY)
    tasks = build_tasks([scenario], [[]], [], 3, seed=scenario.seed, sampling="lhs", source="tiny")
    seen: list[int] = []
    results = run_tasks(tasks, workers=1, on_done=lambda r: seen.append(r.replication))
    assert [r.replication for r in results] == [0, 1, 2] and sorted(seen) == [0, 1, 2]


@pytest.mark.parametrize("n", [1, 7, 30])
def test_latin_hypercube_hits_every_stratum_exactly_once(n: int) -> None:
    """Each uncertain key's N draws fall one in each of its N equal-probability strata (by its CDF)."""
    spec = {
        "workload.rate": {"dist": "triangular", "low": 80, "mode": 120, "high": 200},
        "dataverse.latency.write.median": {"dist": "uniform", "low": "40ms", "high": "120ms"},
        "api.cache_ttl": {"dist": "lognormal", "median": "5m", "p95": "20m"},
        "retry.base": {"dist": "normal", "mean": "10s", "sd": "1s"},
    }
    scenario = parse_scenario({**TINY, "uncertain": spec})
    entries = parse_uncertain(scenario, "tiny")
    tasks = build_tasks([scenario], [[]], entries, n, seed=3, sampling="lhs", source="tiny")
    for entry in entries:
        draws = np.array([dict(t.drawn)[entry.key] for t in tasks])
        strata = np.floor(entry.frozen().cdf(draws) * n).astype(int)
        assert sorted(strata.tolist()) == list(range(n)), entry.key
    rates = [t.scenario.workload.rate for t in tasks]
    assert rates == [dict(t.drawn)["workload.rate"] for t in tasks]  # the drawn value is the one that runs
    assert all(math.isclose(t.scenario.dataverse.latency.write.median, dict(t.drawn)[
        "dataverse.latency.write.median"]) for t in tasks)


def test_sequential_replications_stay_stratified_block_by_block() -> None:
    """--precision (and a plan probe) stops after 10, 15, 20… replications: each block it adds is a Latin
    hypercube of its own, so whatever prefix runs hits every stratum of each block once (a prefix of one
    30-point hypercube hit 8 of 10 strata)."""
    scenario = parse_scenario({**TINY, "uncertain": {
        "dataverse.latency.write.median": {"dist": "uniform", "low": "40ms", "high": "120ms"}}})
    [entry] = parse_uncertain(scenario, "tiny")
    blocks = sequential_blocks(30, PRECISION_START, PRECISION_STEP)
    assert blocks == [10, 5, 5, 5, 5]
    tasks = build_tasks([scenario], [[]], [entry], 30, seed=3, sampling="lhs", source="tiny", blocks=blocks)
    draws = np.array([dict(t.drawn)[entry.key] for t in tasks])
    start = 0
    for size in blocks:
        strata = np.floor(entry.frozen().cdf(draws[start:start + size]) * size).astype(int)
        assert sorted(strata.tolist()) == list(range(size)), (start, size)
        start += size
    assert sequential_blocks(12, 10, 5) == [10, 2] and sequential_blocks(4, 10, 5) == [4]
