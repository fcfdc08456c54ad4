"""The wall-clock driver runs the same model: injected offers are answered, processed and created."""

from __future__ import annotations

import time
from concurrent.futures import Future

import simpy

from simulator.engine.model import build_model
from simulator.engine.pipeline import Accepted, Offer, Rejected, RejectionCode
from simulator.engine.realtime import RealtimeDriver, _settle
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
