"""Offers from an event loop to the model thread, and answers back, handed over in batches.

An event loop iteration reads every request that arrived together; :class:`LoopOffers` hands the offers it made
to the model thread in one injection at the end of the iteration (one wake-up of the model thread, one turn,
one commit), instead of one per request.

The model thread answers a turn's registrations together (after its group commit). Waking the event loop once
per answer (``call_soon_threadsafe``: a write to the loop's self-pipe, which lets go of the GIL and wakes the
other thread) cost about a tenth of the model thread's time in benchmarks/e2e.py. A :class:`LoopAnswers` wakes
its loop once for everything queued until the loop gets round to it.

Ordering: the model thread appends, then schedules a drain unless one is pending; the loop clears "pending"
before it takes anything, so an answer appended while the flag was set is always taken by the drain that was
pending (the GIL makes each step atomic).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

Done = Callable[[Any, BaseException | None], None]

__all__ = ["LoopAnswers", "LoopOffers"]


class LoopAnswers:
    """Futures of one event loop, resolved in batches from another thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queued: deque[tuple[asyncio.Future[Any], Any, BaseException | None]] = deque()
        self._pending = False

    def put(self, future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        """(any thread) Resolve ``future`` with ``result``, or fail it with ``error``, on its loop, soon."""
        self._queued.append((future, result, error))
        if not self._pending:
            self._pending = True
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._pending = False  # first: what is appended from now on schedules another drain
        queued = self._queued
        while queued:
            future, result, error = queued.popleft()
            if future.done():  # the caller went away (cancelled request)
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)


class LoopOffers:
    """Offers made during one iteration of an event loop, handed to ``submit`` together at its end (on the loop);
    if ``submit`` refuses them (the model stopped), each offer's ``answered`` hears why."""

    def __init__(self, loop: asyncio.AbstractEventLoop, submit: Callable[[Sequence[tuple[Any, Done]]], None]
                 ) -> None:
        self._loop = loop
        self._submit = submit
        self._queued: list[tuple[Any, Done]] = []

    def put(self, offer: Any, answered: Done) -> None:
        """(the loop's thread) Offer at the end of this iteration."""
        self._queued.append((offer, answered))
        if len(self._queued) == 1:
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """(the loop's thread) Hand over what is queued now."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        try:
            self._submit(queued)
        except Exception as exc:  # every caller is answered, whatever refused the offers
            for _, answered in queued:
                answered(None, exc)
