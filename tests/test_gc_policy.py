"""The drivers tune the cycle collector only while a model runs: a program that calls them keeps its own settings."""

from __future__ import annotations

import gc

import pytest

from simulator.engine.gc_policy import YOUNG_ALLOCATIONS, fewer_young_collections
from simulator.engine.virtual import run_virtual
from simulator.scenario import parse_scenario


def test_a_virtual_run_leaves_the_callers_thresholds_as_they_were() -> None:
    before = gc.get_threshold()
    gc.set_threshold(123, 4, 5)
    try:
        run_virtual(parse_scenario({"name": "tiny", "horizon": "2m", "workload": {"duration": "1m", "rate": 2}}))
        assert gc.get_threshold() == (123, 4, 5)
    finally:
        gc.set_threshold(*before)


def test_the_threshold_is_raised_inside_and_restored_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_young_collections():
        assert gc.get_threshold()[0] >= YOUNG_ALLOCATIONS
        raise RuntimeError("the model thread died")
    assert gc.get_threshold() == before
