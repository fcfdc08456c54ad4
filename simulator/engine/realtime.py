"""The wall-clock driver: the same model, run in real time (× ``time_scale``) on its own thread, with work
injected by other threads (HTTP handlers).

Simulated now = (wall now − start) × time_scale. The thread loops: run everything due up to simulated now,
take what callers queued in a thread-safe inbox and run it on the model (at simulated now), then wait on the
inbox until the next scheduled event's wall time (``env.peek()``). SimPy's own RealtimeEnvironment sleeps
inside ``step()`` and cannot take injected work while it sleeps, which is why this loop owns the waiting.
Callers hand in a callback the model thread calls with the answer (an asyncio caller passes one that does
``loop.call_soon_threadsafe``); ``call`` wraps that in a :class:`concurrent.futures.Future` for plain threads.

Every caller is answered, whatever ends the thread. Exceptions::

    RuntimeError
     └─ DriverStopped          submit/call/offer after stop (raised at once), or work that was queued when the
         │                     thread ended (given to its callback)
         └─ DriverStuck        stop() waited ``timeout_s`` and the model thread is still running: whatever it
                               uses (the store) must not be closed under it
"""

from __future__ import annotations

import functools
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from simulator.engine.model import Model
from simulator.engine.pipeline import Offer, Outcome

__all__ = ["RealtimeDriver", "DriverStopped", "DriverStuck"]

T = TypeVar("T")
Done = Callable[[Any, BaseException | None], None]  # (result, None) or (None, error)


class DriverStopped(RuntimeError):
    """The model thread is stopped (or stopping): nothing submitted now will run."""


class DriverStuck(DriverStopped):
    """``stop()`` timed out: the model thread is still running."""


def _settle(future: Future[Any], result: Any, error: BaseException | None) -> None:
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
_MAX_WAIT_S = 0.25  # wake at least this often so stop() and clock drift are noticed


class RealtimeDriver:
    """Drive ``model`` in wall-clock time; thread-safe entry points: :meth:`submit`, :meth:`call`, :meth:`offer`,
    :meth:`stop`."""

    def __init__(self, model: Model, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 flush: Callable[[], None] | None = None) -> None:
        """``flush`` makes the journal durable; it runs after each turn of the loop (each batch of injected work)
        and before the pipeline's answers are released (group commit: one durable write for everything a turn
        accepted and created); it must be cheap when there is nothing to write."""
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, e.g. 60 (one wall second = one simulated minute); "
                             f"got {time_scale!r}")
        self.model = model
        self.time_scale = time_scale
        self._clock = clock
        self._inbox: queue.SimpleQueue[tuple[Callable[[Model], Any], Done] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._gate = threading.Lock()  # submit and stop: nothing enters the inbox once stopping is set
        self._start_wall = 0.0
        self._start_sim = model.env.now
        self._flush = flush
        self._answers: list[tuple[Done, Outcome]] = []  # held until the batch is flushed
        self._outstanding: dict[object, Done] = {}  # offers not answered yet (validating, or held for a flush)
        self.error: BaseException | None = None

    # --- clock ---------------------------------------------------------------------------------------------
    @property
    def sim_now_s(self) -> float:
        """Simulated seconds now, by the wall clock (the model catches up to it on its thread)."""
        return self._start_sim + (self._clock() - self._start_wall) * self.time_scale

    def _wall_of(self, sim_s: float) -> float:
        return self._start_wall + (sim_s - self._start_sim) / self.time_scale

    # --- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        self._start_wall = self._clock()
        self._start_sim = self.model.env.now
        self._thread = threading.Thread(target=self._loop, name="stampede-model", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the model thread; what is queued is answered with :class:`DriverStopped`, and what the model
        accepted but had not released is flushed and answered. Raises :class:`DriverStuck` if the thread is
        still running after ``timeout_s`` (the caller must then keep what the thread uses open)."""
        with self._gate:
            self._stopping.set()
            self._inbox.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise DriverStuck(f"the model thread did not stop within {timeout_s} s")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- injection (any thread) ----------------------------------------------------------------------------
    def submit(self, fn: Callable[[Model], Any], done: Done) -> None:
        """Run ``fn(model)`` on the model thread at simulated now, then ``done(result, None)`` or
        ``done(None, error)`` on the model thread (keep ``done`` short: hand over to your own thread)."""
        with self._gate:
            if self._stopping.is_set():
                raise DriverStopped("the model is stopped") from self.error
            self._inbox.put((fn, done))

    def call(self, fn: Callable[[Model], T]) -> Future[T]:
        """Run ``fn(model)`` on the model thread at simulated now; the future gets its result or exception."""
        future: Future[T] = Future()
        self.submit(fn, functools.partial(_settle, future))
        return future

    def offer(self, offer: Offer, answered: Done) -> None:
        """Offer a registration; ``answered(outcome, None)`` once the pipeline answers and what it accepted is
        durable (or ``answered(None, error)``), on the model thread. Exactly one answer, whatever happens: if
        the model thread ends first, the offer is answered with an error rather than left waiting."""
        self.offer_many([(offer, answered)])

    def offer_many(self, offers: Sequence[tuple[Offer, Done]]) -> None:
        """Offer several registrations in one injection (one wake-up of the model thread), each answered as
        :meth:`offer` answers it; in the order given."""
        keyed = []
        for offer, answered in offers:
            key = object()
            once = functools.partial(self._once, key, answered)
            self._outstanding[key] = once
            keyed.append((key, offer, once))

        def inject(model: Model) -> None:
            for _, offer, once in keyed:
                try:
                    model.pipeline.offer(offer, reply=functools.partial(self._hold_answer, once))
                except Exception as exc:  # this offer's caller hears it; the others were offered
                    once(None, exc)

        def failed(_: Any, error: BaseException | None) -> None:
            if error is not None:
                for _, _, once in keyed:
                    once(None, error)

        try:
            self.submit(inject, failed)
        except DriverStopped:
            for key, _, _ in keyed:
                self._outstanding.pop(key, None)
            raise

    def _once(self, key: object, answered: Done, outcome: Any, error: BaseException | None) -> None:
        if self._outstanding.pop(key, None) is not None:  # atomic: only the first answer goes through
            answered(outcome, error)

    def _hold_answer(self, once: Done, outcome: Outcome) -> None:
        self._answers.append((once, outcome))  # released after the next flush

    # --- the model thread ----------------------------------------------------------------------------------
    def _loop(self) -> None:
        env = self.model.env
        try:
            while not self._stopping.is_set():
                self._advance()
                self._drain_inbox()
                next_sim = env.peek()
                wait_s = _MAX_WAIT_S if math.isinf(next_sim) else self._wall_of(next_sim) - self._clock()
                if wait_s > 0:
                    self._wait(min(wait_s, _MAX_WAIT_S))
        except BaseException as exc:  # a crash (or a cancel): keep the error for callers, answer them all
            self.error = exc
            with self._gate:
                self._stopping.set()
            stopped = DriverStopped(f"the model stopped: {exc!r}")
            self._fail_pending(stopped)
            self._fail_outstanding(stopped)
            raise
        # a normal stop: what the model accepted is flushed and answered, what is queued is refused
        try:
            self._release_answers()
        finally:
            stopped = DriverStopped("the model is stopped")
            self._fail_pending(stopped)
            self._fail_outstanding(stopped)

    def _advance(self) -> None:
        """Fire everything due up to simulated now."""
        env = self.model.env
        now_sim = self.sim_now_s
        if now_sim > env.now:
            env.run(until=now_sim)
        # SimPy re-queues the event that stopped run() (a no-op now); step past it and anything else due now,
        # or peek() keeps saying "due now" and the loop spins instead of waiting.
        while env.peek() <= env.now:
            env.step()

    def _wait(self, timeout_s: float) -> None:
        try:
            item = self._inbox.get(timeout=timeout_s)
        except queue.Empty:
            self._release_answers()  # answers the model gave on its own time (after validation reads)
            return
        if item is not None:
            self._run_item(*item)
        self._drain_inbox()

    def _drain_inbox(self) -> None:
        """Run everything queued now as one batch, then flush the journal and release the answers."""
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self._run_item(*item)
        self._release_answers()

    def _release_answers(self) -> None:
        """Flush the journal (every turn: it also writes what the processors finished), then answer."""
        answers, self._answers = self._answers, []
        try:
            if self._flush is not None:
                self._flush()
        except Exception as exc:  # not durable: no caller may be told "accepted" (the journal logs its failure)
            for answered, _ in answers:
                answered(None, exc)
            return
        for answered, outcome in answers:
            answered(outcome, None)

    def _run_item(self, fn: Callable[[Model], Any], done: Done) -> None:
        try:
            self._advance()  # injected work happens at simulated now, not when the loop last looked
            result = fn(self.model)
        except Exception as exc:  # reported to the caller through ``done``, not swallowed
            done(None, exc)
        except BaseException as exc:  # it ends the thread (the loop answers the others); this caller hears it too
            done(None, DriverStopped(f"the model stopped: {exc!r}"))
            raise
        else:
            done(result, None)

    def _fail_outstanding(self, error: BaseException) -> None:
        """Answer every offer still waiting (mid-validation, or held for a flush): no model thread is left to
        answer it, and an HTTP handler awaiting it would otherwise hang."""
        for once in list(self._outstanding.values()):
            try:
                once(None, error)
            except Exception:  # swallowed on purpose: one caller's broken callback must not leave the rest waiting
                continue

    def _fail_pending(self, error: DriverStopped) -> None:
        """Answer everything still in the inbox (stopping is set: nothing more can enter it)."""
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                try:
                    item[1](None, error)
                except Exception:  # swallowed on purpose, as in _fail_outstanding
                    continue
