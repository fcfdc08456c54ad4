"""Runs on a Dask cluster: the executor behind ``--cluster tcp://HOST:PORT``.

Each run is one Dask task, :func:`simulator.engine.replicate.run_replication` on a picklable task; it returns
its summary and the few series a report needs (rows only when a run directory needs them). The tasks go
through the same seam as the local process pool (``run_tasks(executor=…, gather=…)``), so results come back
in task order and are identical to a local run of the same seeds; they are gathered as they complete
(``distributed.as_completed``), under the same progress bar.

Failures, and what the caller sees (every one a :class:`ClusterError`, one line)::

    ClusterError                 base (a RuntimeError)
      the extra is missing         "pip install 'stampede[cluster]'"
      bad address                  names the option and a good example
      unreachable scheduler        names the address, after CONNECT_TIMEOUT_S at most
      a task kept killing workers  names the task (Dask's KilledWorker, after its allowed failures)

A worker lost mid-sweep is Dask's to handle: the scheduler reruns its unfinished tasks on the workers left,
and each task's result is taken once (by its future), so nothing is missing or duplicated. Ctrl-C (or any
exception) while gathering cancels every task submitted and not yet finished.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import as_completed
from typing import Any

from simulator.engine.replicate import Submitter, build_tasks, run_tasks
from simulator.errors import StampedeError
from simulator.scenario import Scenario
from simulator.sweep import Slo

__all__ = ["CONNECT_TIMEOUT_S", "ClusterError", "Gather", "DaskSubmitter", "connect", "executor_for", "run_summary"]

CONNECT_TIMEOUT_S = 10.0  # how long an unreachable scheduler is tried before --cluster gives up
INSTALL_HINT = "pip install 'stampede[cluster]'"
_ADDRESS = re.compile(r"^tcp://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")

Gather = Callable[[Iterable[Any]], Iterator[Any]]


class ClusterError(StampedeError, RuntimeError):
    """``--cluster`` cannot be used as asked; the message is one line for the terminal."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--cluster needs Dask's distributed package: {INSTALL_HINT}") from None
    return distributed


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address`` (``tcp://HOST:PORT``), or ClusterError."""
    if not _ADDRESS.match(address):
        raise ClusterError(f"--cluster {address!r}: expected a Dask scheduler address like tcp://10.0.0.5:8786")
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClusterError(f"--cluster {address}: no Dask scheduler answered within {timeout_s:g} s ({reason}); "
                           "start one with `dask scheduler` and pass the address it prints") from None


class DaskSubmitter:
    """``submit(fn, *args)`` as the replication seam expects, on a Dask ``Client``; it remembers what it
    submitted so that an interrupted sweep can cancel it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.submitted: list[Any] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        # pure=False: every run is its own task, even if two had equal arguments (no hashing of scenarios)
        future = self.client.submit(fn, *args, pure=False)
        self.submitted.append(future)
        return future

    def gather(self, futures: Iterable[Any]) -> Iterator[Any]:
        """The futures as they finish; a task that killed worker after worker is one line, naming it."""
        distributed = _distributed()
        for future in distributed.as_completed(futures, loop=self.client.loop):
            if future.status == "error":
                error = future.exception()
                if type(error).__name__ == "KilledWorker":
                    raise ClusterError(f"--cluster: a run ({future.key}) was lost with every worker that took "
                                       f"it ({error}); check the workers' logs and memory")
            yield future

    def cancel(self) -> None:
        pending = [f for f in self.submitted if not f.done()]
        if pending:
            self.client.cancel(pending)


@contextlib.contextmanager
def executor_for(address: str | None) -> Iterator[tuple[Submitter | None, Gather]]:
    """``(executor, gather)`` for ``run_tasks``/``replicate``/``probe``: ``(None, as_completed)`` without an
    address (the local pool, as before), else a Dask client's, closed on exit. Ctrl-C cancels the tasks."""
    if address is None:
        yield None, as_completed
        return
    client = connect(address)
    submitter = DaskSubmitter(client)
    try:
        yield submitter, submitter.gather
    except BaseException:
        submitter.cancel()
        raise
    finally:
        client.close()


def run_summary(scenario: Scenario, overrides: list[str], executor: Submitter | None, gather: Gather,
                stop_failing: Sequence[Slo] = ()) -> dict[str, Any]:
    """One run of ``scenario`` with its own seed, as one task on ``executor`` (None: in this process): its
    summary (a `plan` probe; cut short once one of ``stop_failing`` can no longer hold)."""
    [task] = build_tasks([scenario], [overrides], [], 1, seed=scenario.seed, sampling="random", source="",
                         keep_files_of=None, stop_failing=stop_failing)
    [result] = run_tasks([task], executor=executor, gather=gather)
    return result.summary
