"""The test suite's own settings keep every test running: xdist must hand tests out by index, not by node id."""

from __future__ import annotations

import re

import pytest


def test_xdist_hands_out_tests_by_index_so_no_operation_of_the_contract_is_dropped(
        pytestconfig: pytest.Config) -> None:
    # Schemathesis 4.32 on pytest 9 gives all 19 operations of test_conformance's contract test one node id.
    # xdist's scope modes (loadscope, loadfile, loadgroup) key their queue by node id: they ran one operation of
    # the 19 and reported it passed (checked: an assertion failing on 3 operations gave "1 passed", exit 0).
    # load and worksteal schedule by index and run all 19; worksteal hands each worker a contiguous half, so a
    # module's costly module-scoped fixture is paid once per worker at most.
    addopts = pytestconfig.getini("addopts")  # a worker's own --dist is "no": read the configured one
    dist = re.search(r"--dist[= ](\w+)", " ".join(addopts))
    assert dist is not None and dist.group(1) in ("load", "worksteal"), addopts
