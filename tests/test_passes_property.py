"""A property of the passes a portal reads: whatever buys, payments, cancellations, payment timeouts and restarts
happen, in any order, for every pass of a paid event at every step

    numberOfPassesSold + held + numberOfPassesLeft == the pass's quantity, numberOfPassesLeft >= 0,

where the sold and held counts are read independently of the numbers shown: from the store's purchases (the
attendees of confirmed and of held purchases, by pass), and the shown numbers are what the passes page renders
(``api.live_counts``). The real live model runs on its own thread with its SQLite store, as in
``test_seats_property.py``; a payment timeout of 20 model minutes at a time scale of 1,200 is one wall second.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.engine.model import Model
from simulator.scenario import parse_scenario
from simulator.server.api import live_counts
from simulator.server.contract import RegistrationRequest
from simulator.server.live import LiveEventModel
from simulator.server.livepages import PASSES_LEFT, PASSES_SOLD
from simulator.server.store import Store

pytestmark = pytest.mark.slow  # real threads, SQLite files and a second of wall time per timeout

TIME_SCALE = 1200.0
steps = st.lists(st.one_of(
    st.tuples(st.just("buy"), st.integers(0, 1)),  # which pass
    st.tuples(st.just("pay"), st.integers(0, 5)),  # which of the purchases made so far
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("timeout"), st.just(0)),
    st.tuples(st.just("restart"), st.just(0)),
), min_size=1, max_size=10)


def check(live: LiveEventModel) -> None:
    event = live.catalog.events[0]
    count = live_counts(live.catalog, live)

    def on_model_thread(model: Model) -> list[tuple[int, int, int, int, int]]:
        live.flush()  # what the model did this turn is in the store before it is compared
        by_pass = live.store.purchases_by_pass()
        return [(by_pass.get((p.id, "confirmed"), 0), by_pass.get((p.id, "held"), 0),
                 count(PASSES_SOLD + p.id) or 0, count(PASSES_LEFT + p.id) or 0, p.quantity or 0)
                for p in event.passes]

    for sold, held, shown_sold, left, quantity in live.driver.call(on_model_thread).result(timeout=10):
        assert shown_sold == sold
        assert left >= 0 and sold + held + left == quantity, (sold, held, left, quantity)


def until(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)  # polling a condition (bounded), not ordering events


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps, capacity=st.integers(1, 4))
def test_passes_sold_held_and_left_add_up_to_each_pass_at_every_step(plan: list[tuple[str, int]],
                                                                      capacity: int) -> None:
    setup = parse_scenario({"name": "passes", "catalog": {"events": 1, "paid_events": 1, "capacity": capacity,
                                                          "waitlist": True},
                            "payment": {"timeout": "20m"}})
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "passes.db") as store:
        live = LiveEventModel(setup, store, time_scale=TIME_SCALE)
        live.start()
        event = live.catalog.events[0]
        bought: list[str] = []
        try:
            check(live)
            for number, (step, which) in enumerate(plan):
                if step == "buy":
                    body = RegistrationRequest.model_validate({"attendees": [{
                        "firstName": "A", "lastName": "B", "email": f"p{number}@passes.example",
                        "passId": event.passes[which].id}]})
                    outcome = asyncio.run(live.register(event, body))
                    if not getattr(outcome, "waitlisted", True):
                        bought.append(outcome.submission_id)  # type: ignore[union-attr]
                elif step in ("pay", "cancel") and bought:
                    purchase_id = bought[which % len(bought)]
                    act = live.finalize if step == "pay" else live.cancel
                    asyncio.run(act(event, purchase_id))
                elif step == "timeout":  # every hold ends, paid or not (a second of wall time at most)
                    until(lambda: store.purchase_counts()["held"] == 0)
                elif step == "restart":
                    live.stop()
                    live = LiveEventModel(setup, store, time_scale=TIME_SCALE)
                    live.start()
                check(live)
        finally:
            live.stop()
