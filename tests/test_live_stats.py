"""``/_harness/stats`` across a restart: this process's counts stay consistent (nothing created that was not
accepted here), the store's all-time counts are named as such, and the live counts come from the model
thread's tally (no SQLite read on the event loop) yet agree with the file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from live_support import live, person, query, registration, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_stats_after_a_restart_count_this_process_and_name_the_stores_totals(tmp_path: Path) -> None:
    scenario = {"catalog": {"events": 1}}
    async with live(tmp_path, scenario) as first:
        for i in range(3):
            assert (await first.register("launch-001", registration(person(f"p{i}@stats.example")))).status_code \
                == 202
        before = await first.settled()
    assert (before["accepted"], before["created"], before["stored_created"], before["pending"]) == (3, 3, 3, 0)

    async with live(tmp_path, scenario) as second:  # the same database file
        restarted = await second.stats()
        assert restarted["accepted"] == 0 and restarted["created"] == 0  # nothing happened in this process yet
        assert (restarted["stored"], restarted["stored_created"], restarted["pending"]) == (3, 3, 0)
        assert (await second.register("launch-001", registration(person("late@stats.example")))).status_code == 202
        after = await second.settled()
        count = (await second.client.get(second.api("events/launch-001/registrations/count"))).json()
    assert after["created"] <= after["accepted"] == 1
    assert (after["stored"], after["stored_created"], after["stored_dead_lettered"], after["pending"]) == (4, 4, 0, 0)
    assert count == 4 == query(second.db, "SELECT COUNT(*) FROM event_registrations")[0][0]


async def test_reads_answer_while_the_model_thread_holds_the_store_in_a_commit(tmp_path: Path) -> None:
    """Counts, stats and a submission's status never wait on the lock the model thread holds while it writes
    (the store's lock is held here from another thread for a bounded time, as a long commit would)."""
    async with live(tmp_path, {"catalog": {"events": 1}}) as mock:
        answer = await mock.register("launch-001", registration(person("ada@stats.example")))
        submission_id = answer.json()["submissionId"]
        await mock.settled()
        held, release = threading.Event(), threading.Event()

        def commit() -> None:
            with mock.served.store._lock:
                held.set()
                release.wait(3.0)  # bounded: a broken read is answered once this ends, and the test fails

        writer = threading.Thread(target=commit)
        writer.start()
        try:
            assert held.wait(5)
            count = await mock.client.get(mock.api("events/launch-001/registrations/count"))
            stats = await mock.stats()
            status = await mock.submission(submission_id)
            answered_while_held = not release.is_set() and writer.is_alive()
        finally:
            release.set()
            writer.join(5)
    assert answered_while_held
    assert count.json() == 1 and stats["stored_created"] == 1 and status["state"] == "created"


async def test_the_live_mock_sends_confirmations_and_counts_them_in_stats_and_metrics(tmp_path: Path) -> None:
    # at 600 simulated seconds per wall second, a 3-minute P90 is 0.3 s: every email is out within seconds
    async with live(tmp_path, {"catalog": {"events": 1}}) as mock:
        for i in range(5):
            assert (await mock.register("launch-001", registration(person(f"c{i}@stats.example")))).status_code \
                == 202
        stats = await wait_for(mock.stats, lambda s: s["confirmations_sent"] == 5, 30.0)
        metrics = (await mock.client.get("/metrics")).text
    assert (stats["created"], stats["confirmations_dropped"]) == (5, 0)
    assert "stampede_confirmations_sent_total 5.0" in metrics
    assert "stampede_confirmations_queued_max 0.0" in metrics


async def test_the_live_mock_refuses_registrations_after_the_window_closes(tmp_path: Path) -> None:
    async with live(tmp_path, {"catalog": {"events": 1}, "window": {"closes": "1s"}}) as mock:
        await wait_for(mock.stats, lambda s: s["sim_now_s"] >= 1.0, 10.0)
        answer = await mock.register("launch-001", registration(person("late@stats.example")))
    assert answer.status_code == 400
    assert answer.json()["type"] == "RegistrationClosed"
