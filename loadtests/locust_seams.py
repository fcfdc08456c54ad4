"""The one place the load tests reach inside Locust (tested with locust 2.47.0; pyproject pins ``<2.48``).

Three things Locust does not publish:

- ``MasterRunner.clients.ready``: the workers connected and ready; the master hands each its share of the plan
  by client id.
- the order in which it dispatches users: round-robin over its class sequence, where a class with a
  ``fixed_count`` is handed out first, all in a row, and the last class (``fixed_count = 0``) fills the rest.
  ``pin_users_per_class`` relies on it to give every process its share of each class.
- ``MasterRunner.server.port`` (``rpc.Server``): the port the master bound, the one the system chose when asked
  for port 0; and ``MasterRunner.master_bind_port``, which ``reset_connection`` binds again after a broken
  connection (left at 0 it would bind a new random port the workers do not know).

If a Locust release changes either, only this module changes (and ``tests/test_load_distributed.py`` says so).
"""

from __future__ import annotations

from typing import Any

from locust.runners import MasterRunner, Runner

__all__ = ["ready_worker_ids", "pin_users_per_class", "pin_bound_master_port"]


def ready_worker_ids(runner: MasterRunner) -> list[str]:
    """The ids of the workers connected to the master and ready, sorted (a stable order to number them by)."""
    return sorted(client.id for client in runner.clients.ready)


def pin_bound_master_port(runner: MasterRunner) -> int:
    """The port the master's RPC server bound; a later reset of its connection binds the same one again."""
    port = int(runner.server.port)
    runner.master_bind_port = port
    return port


def pin_users_per_class(runner: Runner, per_class: int) -> int:
    """Run ``per_class`` users of each of the runner's user classes, spread over every process; the user count.

    Two classes interleaved (weights, or several fixed counts) run in step with two workers and give one worker
    every user of one class and the other every user of the other. One class with a fixed count is handed out
    first, all in a row, and the last class fills the rest, so every process gets its share of each class,
    whatever the worker count.
    """
    classes: list[Any] = list(runner.user_classes)
    for user_class in classes:
        user_class.fixed_count = per_class if user_class is not classes[-1] else 0
    return per_class * len(classes)
