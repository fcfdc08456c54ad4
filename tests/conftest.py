"""Two things every test module shares: the inner loop does not import the modules that are slow as a whole, and
under xdist a test marked ``alone`` runs while no other worker runs a test.

With ``-m "not slow"`` (README's inner loop), a module whose ``pytestmark`` is ``slow`` has no test to run, yet
collecting it meant importing and assertion-rewriting it (the contract, Schemathesis, the report command): 12
modules, 3 s of the 14 s collection, paid by every xdist worker. They are skipped before import, for that exact
expression only (for any other, which tests remain depends on their other marks).

A test marked ``alone`` asserts a rate against the wall clock (Locust's achieved arrival rate, a live server keeping
pace with its simulation), and another worker's test beside it takes the CPU that rate needs: in a full run with two
workers, live-smoke created at 0.887 of the simulated rate beside another test (the bound is 0.9). Every test holds
a file lock while it is set up, run and torn down: shared, or exclusive when marked ``alone``. A turnstile lock
taken first keeps a waiting exclusive request from being starved by a stream of shared ones. Serially (``-n 0``)
there is no other worker and nothing is locked.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import pytest

WHOLLY_SLOW = re.compile(r"^pytestmark = \[?pytest\.mark\.slow\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if (config.option.markexpr or "").strip() != "not slow" or collection_path.suffix != ".py":
        return None  # None, not False: --ignore and the defaults still apply
    return True if WHOLLY_SLOW.search(collection_path.read_text(encoding="utf-8")) else None


@contextmanager
def _held(path: Path, mode: int) -> Generator[None, None, None]:
    with path.open("a") as handle:
        fcntl.flock(handle, mode)  # blocks until granted; released when the file closes
        yield


@contextmanager
def machine(run_dir: Path, alone: bool) -> Generator[None, None, None]:
    """The lock of one test run (``run_dir``, shared by its workers): exclusive if ``alone``, else shared."""
    turnstile, lock = run_dir / "machine.turnstile", run_dir / "machine.lock"
    with _held(turnstile, fcntl.LOCK_EX):
        held = _held(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        held.__enter__()
    try:
        yield
    finally:
        held.__exit__(None, None, None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    if not hasattr(item.config, "workerinput"):  # not an xdist worker
        return (yield)
    # a worker's basetemp is <the run's basetemp>/<worker id>: the parent is the run's, shared by its workers
    run_dir = Path(item.config.option.basetemp).parent
    with machine(run_dir, alone=item.get_closest_marker("alone") is not None):
        return (yield)
