"""Stopping the live server: a model thread that does not stop is an error, and the store stays open under it."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import pytest

from simulator.engine.realtime import DriverStuck, RealtimeDriver
from simulator.scenario import parse_scenario
from simulator.server.serve import build_served

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_model_thread_that_does_not_stop_is_reported_and_its_store_stays_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    served = build_served(parse_scenario({"name": "stuck", "catalog": {"events": 1}}), db_path=tmp_path / "s.db")
    driver = served.model.driver
    monkeypatch.setattr(driver, "stop", functools.partial(RealtimeDriver.stop, driver, timeout_s=0.2))
    release = threading.Event()
    try:
        with pytest.raises(DriverStuck):
            async with served.app.router.lifespan_context(served.app):
                busy = driver.call(lambda m: release.wait(10))  # the model thread is busy past the stop timeout
        assert "did not stop" in caplog.text
        assert served.store.counts()["submissions"]["accepted"] == 0  # still open: the thread may write to it
    finally:
        release.set()
        assert busy.result(timeout=5) is True
        RealtimeDriver.stop(driver)
        served.store.close()
