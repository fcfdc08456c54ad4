"""The one place the engine reaches inside SimPy (tested with simpy 4.1.2; pyproject pins ``<4.2``).

SimPy has no public count of the events it scheduled; ``Environment._eid`` is the ``itertools.count`` that
numbers them (its queue's tie-breaker). If a SimPy release renames it, only this module changes.
"""

from __future__ import annotations

import simpy

__all__ = ["events_scheduled"]


def events_scheduled(env: simpy.Environment) -> int:
    """How many events ``env`` has scheduled so far (the model's work); taking the count uses one id."""
    return next(env._eid)
