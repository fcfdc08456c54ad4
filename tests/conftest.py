"""Two things every test module shares: the inner loop does not import the modules that are slow as a whole, and
under xdist a test marked ``alone`` runs while no other worker runs a test.

With ``-m "not slow"`` (README's inner loop), a module whose ``pytestmark`` is ``slow`` has no test to run, yet
collecting it meant importing and assertion-rewriting it (the contract, Schemathesis, the report command): 12
modules, 3 s of the 14 s collection, paid by every xdist worker. They are skipped before import, for that exact
expression only (for any other, which tests remain depends on their other marks).

A test marked ``alone`` asserts a rate against the wall clock (Locust's achieved arrival rate, a live server keeping
pace with its simulation), and another worker's test beside it takes the CPU that rate needs: in a full run with two
workers, live-smoke created at 0.887 of the simulated rate beside another test (the bound is 0.9). Every module
holds a file lock from its first test's setup to its last test's teardown (its fixtures run between its tests too):
shared, or exclusive when marked ``alone``. A turnstile lock taken first keeps a waiting exclusive request from
being starved by a stream of shared ones. Serially (``-n 0``) there is no other worker and nothing is locked.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Generator
from contextlib import ExitStack, contextmanager
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


class Machine:
    """One worker's hold on the run's lock (in ``run_dir``, shared by the run's workers), kept from a module's
    first test to its last one's teardown: the module's fixtures (a live model's thread, a server) use the CPU
    between its tests too, so an ``alone`` test waits until the other workers are between modules."""

    def __init__(self, run_dir: Path) -> None:
        self.turnstile, self.lock = run_dir / "machine.turnstile", run_dir / "machine.lock"
        self.held: ExitStack | None = None
        self.alone = False

    def take(self, alone: bool) -> None:
        if self.held is not None and self.alone == alone:
            return
        self.give_back()
        held = ExitStack()
        with _held(self.turnstile, fcntl.LOCK_EX):
            held.enter_context(_held(self.lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH))
        self.held, self.alone = held, alone

    def give_back(self) -> None:
        if self.held is not None:
            self.held.close()
            self.held = None


MACHINE: list[Machine] = []  # this worker's, made at its first test


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, object, object]:
    if not hasattr(item.config, "workerinput"):  # not an xdist worker
        return (yield)
    if not MACHINE:  # a worker's basetemp is <the run's basetemp>/<worker id>: the parent is shared
        MACHINE.append(Machine(Path(item.config.option.basetemp).parent))
    machine = MACHINE[0]
    machine.take(alone=item.get_closest_marker("alone") is not None)
    try:
        return (yield)
    finally:  # the module's fixtures are torn down in its last test's teardown (nextitem elsewhere, or none)
        if nextitem is None or getattr(nextitem, "module", None) is not getattr(item, "module", None):
            machine.give_back()
