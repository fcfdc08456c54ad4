"""The wall-clock driver runs the same model: injected offers are answered, processed and created."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from concurrent.futures import Future

import pytest
import simpy

from simulator.engine.model import build_model
from simulator.engine.pipeline import Accepted, Offer, Rejected, RejectionCode
from simulator.engine.realtime import DriverStopped, DriverStuck, RealtimeDriver, _settle
from simulator.scenario import parse_scenario


def offered(driver: RealtimeDriver, offer: Offer) -> Future[object]:
    future: Future[object] = Future()
    driver.offer(offer, lambda outcome, error: _settle(future, outcome, error))
    return future


def live_model(**dataverse: object):  # type: ignore[no-untyped-def]
    scenario = parse_scenario({
        "name": "live", "bin": "10s",
        "catalog": {"events": 1, "capacity": 3, "waitlist": False},
        "dataverse": {"requests_limit": 30, "window": "60s", **dataverse},
    })
    return build_model(simpy.Environment(), scenario)


def test_offers_injected_from_another_thread_are_accepted_then_created() -> None:
    model = live_model()
    driver = RealtimeDriver(model, time_scale=100)
    driver.start()
    try:
        event = model.catalog.events[0]
        answers = [offered(driver, Offer("event", event, submission_id=f"s{i}")).result(timeout=5) for i in range(4)]
        assert [type(a) for a in answers] == [Accepted, Accepted, Accepted, Rejected]
        assert answers[3].code is RejectionCode.EVENT_FULL  # capacity 3, no waitlist
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            outcome = driver.call(lambda m: list(m.recorder.outcome)).result(timeout=5)
            if outcome.count("created") == 3:
                break
            time.sleep(0.05)
        assert outcome.count("created") == 3
        assert driver.sim_now_s > 0
    finally:
        driver.stop()
    assert not driver.running


def test_simulated_time_follows_the_wall_clock_times_the_scale() -> None:
    wall = [0.0]
    model = live_model()
    driver = RealtimeDriver(model, time_scale=60, clock=lambda: wall[0])
    driver.start()
    try:
        wall[0] = 2.0
        assert driver.sim_now_s == 120.0
        now = driver.call(lambda m: m.env.now).result(timeout=5)
        assert now == 120.0  # injected work runs at simulated now
    finally:
        driver.stop()


def test_an_error_in_injected_work_reaches_the_caller_and_the_model_keeps_running() -> None:
    driver = RealtimeDriver(live_model(), time_scale=10)
    driver.start()
    try:
        failing = driver.call(lambda m: 1 / 0)
        try:
            failing.result(timeout=5)
        except ZeroDivisionError:
            pass
        else:
            raise AssertionError("the error was swallowed")
        assert driver.call(lambda m: "alive").result(timeout=5) == "alive"
    finally:
        driver.stop()


# --- stopping: every caller is answered, and a stop that cannot finish says so ----------------------------------


def test_a_submit_after_stop_raises_at_once() -> None:
    driver = RealtimeDriver(live_model(), time_scale=10)
    driver.start()
    driver.stop()
    with pytest.raises(DriverStopped):
        driver.call(lambda m: "never runs")
    answers: list[object] = []
    with pytest.raises(DriverStopped):
        driver.offer(Offer("event", driver.model.catalog.events[0]), lambda *answer: answers.append(answer))
    assert answers == [] and driver._outstanding == {}  # nothing left waiting for an answer that cannot come


class _LateInbox:
    """The inbox, with the first item's ``put`` held until the model thread has ended (or ``hold_s`` passed):
    the interleaving in which a caller saw "not stopping", then the thread stopped, then the caller enqueued."""

    def __init__(self, inner: queue.SimpleQueue, thread_ended: threading.Event, hold_s: float) -> None:
        self.inner, self.thread_ended, self.hold_s = inner, thread_ended, hold_s
        self.entered = threading.Event()

    def put(self, item: object) -> None:
        if item is not None and not self.entered.is_set():
            self.entered.set()
            self.thread_ended.wait(self.hold_s)
        self.inner.put(item)

    def get(self, timeout: float | None = None) -> object:
        return self.inner.get(timeout=timeout)

    def get_nowait(self) -> object:
        return self.inner.get_nowait()


def test_a_call_racing_with_stop_is_answered() -> None:
    driver = RealtimeDriver(live_model(), time_scale=10)
    driver.start()
    thread_ended = threading.Event()
    late = _LateInbox(driver._inbox, thread_ended, hold_s=5.0)
    driver._inbox = late  # type: ignore[assignment]
    futures: list[Future[object]] = []
    caller = threading.Thread(target=lambda: futures.append(driver.call(lambda m: "ran")))
    caller.start()
    assert late.entered.wait(5)  # the caller is inside submit, past the "stopping?" check
    stopper = threading.Thread(target=driver.stop)
    stopper.start()
    driver._thread.join(1.5)  # type: ignore[union-attr]  # ends here only if stop did not wait for the caller
    thread_ended.set()
    caller.join(10)
    stopper.join(10)
    assert len(futures) == 1
    with contextlib.suppress(DriverStopped):  # refused is an answer too; hanging is not
        assert futures[0].result(timeout=5) == "ran"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the crash is the point
def test_a_crash_answers_what_is_queued_and_what_is_validating() -> None:
    model = live_model(latency={"read": {"median": "30s", "p99": "30s"}})
    driver = RealtimeDriver(model, time_scale=1)
    driver.start()
    release = threading.Event()
    validating = offered(driver, Offer("event", model.catalog.events[0], submission_id="s1"))
    blocked = driver.call(lambda m: release.wait(5))  # holds the model thread while more is queued

    def crash(m: object) -> None:
        raise SystemExit("the model thread is cancelled")  # not an Exception: it ends the thread

    crashing = driver.call(crash)
    queued = [driver.call(lambda m: "never runs") for _ in range(3)]
    release.set()
    assert blocked.result(timeout=5) is True
    for future in [crashing, *queued, validating]:
        with pytest.raises(DriverStopped):
            future.result(timeout=5)
    driver._thread.join(5)  # type: ignore[union-attr]
    assert not driver.running
    with pytest.raises(DriverStopped):
        driver.call(lambda m: None)


def test_a_stop_that_times_out_is_an_error() -> None:
    driver = RealtimeDriver(live_model(), time_scale=10)
    driver.start()
    release = threading.Event()
    busy = driver.call(lambda m: release.wait(10))
    with pytest.raises(DriverStuck):
        driver.stop(timeout_s=0.2)
    assert driver.running
    release.set()
    assert busy.result(timeout=5) is True
    driver.stop()
    assert not driver.running
