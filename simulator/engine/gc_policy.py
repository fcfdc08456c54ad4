"""How often Python's cycle collector runs while a model runs, for both clocks (no SimPy here).

Every SimPy step allocates an event, and every registration POST a request's worth of objects; nearly all of
them die young, freed by reference counting. At Python's default threshold (700 allocations) the collector
scans the young generation every couple of hundred steps and finds nothing to free. With a larger threshold
more of those objects are already gone when it runs, and fewer survivors are promoted to the older generations
(whose full collections were the server's pauses). Cycles are still collected, only less often.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["YOUNG_ALLOCATIONS", "fewer_young_collections"]

#: Allocations (net of frees) between young-generation collections while a model runs. For the registration
#: POST under ``benchmarks/api.py``: −12 % CPU per request against the default (a collection also holds the GIL
#: the other thread waits for).
YOUNG_ALLOCATIONS = 50_000


@contextlib.contextmanager
def fewer_young_collections(allocations: int = YOUNG_ALLOCATIONS) -> Iterator[None]:
    """Raise the young generation's threshold to at least ``allocations`` inside the block; restore it after."""
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], allocations), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
