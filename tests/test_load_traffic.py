"""The load generator's traffic and bookkeeping, without sockets: the journeys are the simulator's, each process
gets its share, the bodies pass the server's checks, the tallies add up across workers, and the live server
charges the pages visitors load to the model's read cache as the simulator does."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from loadtests import outcome, traffic
from loadtests.tally import Tally, percentiles_ms, round_ms
from loadtests.traffic import Schedule
from simulator.engine.virtual import run_virtual
from simulator.plan import browse_keys
from simulator.scenario import Scenario, load_scenario, scenario_to_toml
from simulator.server.contract import RegistrationRequest
from simulator.server.model import entity_refusal
from simulator.server.serve import build_served

SMOKE = Path(__file__).resolve().parent.parent / "scenarios" / "live-smoke.toml"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def smoke() -> Scenario:
    return load_scenario(SMOKE)


def test_the_schedule_is_the_simulators_traffic(smoke: Scenario) -> None:
    """Same arrival times and the same kinds as the virtual run's offers: live and simulated see one workload."""
    schedule = list(Schedule(smoke, time_scale=30))
    run = run_virtual(smoke)
    recorder = run.recorder
    simulated = sorted(zip(recorder.offered_s, recorder.kind, strict=True))
    scheduled = sorted((journey.t_s, traffic.registration_kind(journey)) for _, _, journey in schedule)
    assert len(scheduled) == run.summary["submissions"]["offered"] > 500
    assert [kind for _, kind in scheduled] == [kind for _, kind in simulated]
    assert [t for t, _ in scheduled] == pytest.approx([t for t, _ in simulated])
    assert [offset for _, offset, _ in schedule] == pytest.approx([j.t_s / 30 for _, _, j in schedule])


def test_processes_share_the_arrivals_without_overlap(smoke: Scenario) -> None:
    whole = [k for k, _, _ in Schedule(smoke, 30)]
    shares = [[k for k, _, _ in Schedule(smoke, 30, index, 3)] for index in range(3)]
    assert sorted(k for share in shares for k in share) == whole
    assert all(abs(len(share) - len(whole) / 3) <= 1 for share in shares)
    assert Schedule(smoke, 30, 1, 3).peak_rate_per_s == pytest.approx(4 * 30 / 3)
    with pytest.raises(ValueError, match="index 3"):
        Schedule(smoke, 30, 3, 3)


def test_a_trace_travels_to_workers_as_the_same_steps() -> None:
    trace = load_scenario(SMOKE.parent / "trace.toml", ["workload.duration=20m"])
    folded = traffic.portable(trace)
    assert folded.workload.shape == "steps" and not folded.workload.trace
    plan = traffic.Plan(scenario_to_toml(folded), 60.0, "tok")
    original = [(k, j.t_s, j.event.id, j.kind, j.session_ids) for k, _, j in Schedule(trace, 60)]
    assert [(k, j.t_s, j.event.id, j.kind, j.session_ids) for k, _, j in Schedule(plan.scenario(), 60)] == original
    assert len(original) > 1000


def test_attendees_are_unique_but_for_a_share_of_repeats() -> None:
    emails = [traffic.attendee(7, k, 0.05)[2] for k in range(4000)]
    repeats = len(emails) - len(set(emails))
    assert 0.03 * len(emails) < repeats < 0.07 * len(emails)
    assert traffic.attendee(7, 123, 0.05) == traffic.attendee(7, 123, 0.05)  # whichever process sends it
    assert len({traffic.attendee(7, k, 0.0)[2] for k in range(4000)}) == 4000


def test_every_body_passes_the_servers_contract_and_catalog_checks(smoke: Scenario) -> None:
    kinds: Counter[str] = Counter()
    for k, _, journey in Schedule(smoke, 30):
        body = traffic.registration_body(journey, k, smoke.seed, smoke.load.repeat_share)
        request = RegistrationRequest.model_validate_json(traffic.encode(body))
        assert entity_refusal(journey.event, request) is None, (k, body)
        person = body["attendees"][0]
        assert ("passId" in person) == journey.event.paid
        assert person["waitlisted"] == (journey.kind == "waitlist")
        assert [s["sessionId"] for s in person["attendeeSessions"]] == list(journey.session_ids)
        kinds[traffic.registration_kind(journey)] += 1
    assert set(kinds) == {"event", "session", "waitlist", "paid"}


def test_a_visit_loads_the_simulators_browsing_pages_plus_what_a_browser_fetches(smoke: Scenario) -> None:
    for k, _, journey in list(Schedule(smoke, 30))[:200]:
        pages = traffic.visit(journey, k, smoke.seed, "org", "tok")
        browsed = [p for p in pages if p.name in ("GET /events/published", "GET /events/{id}",
                                                  "GET /events/{id}/sessions", "GET /events/{id}/speakers",
                                                  "GET /events/{id}/sponsorships")]
        assert len(browsed) == journey.pages  # the model charges exactly these
        assert browsed[0].name == "GET /events/published"
        assert all(p.path.endswith("?emApplicationtoken=tok") for p in pages)


@pytest.mark.parametrize(("status", "expected"), [(202, "accepted"), (200, "accepted"), (429, "throttled"),
                                                  (409, "refused"), (503, "unavailable"), (422, "failed"),
                                                  (500, "failed"), (0, "failed")])
def test_a_429_is_throttled_not_failed(status: int, expected: str) -> None:
    assert traffic.classify(status) == expected


def test_submission_id_from_location() -> None:
    assert traffic.submission_id_from("/_harness/submissions/abc-1") == "abc-1"
    assert traffic.submission_id_from(None) is None


def test_tallies_shipped_by_workers_add_up_as_one() -> None:
    single, first, second, master = Tally(), Tally("0"), Tally("1"), Tally("total")
    for i in range(300):
        worker = first if i % 2 else second
        for tally in (single, worker):
            tally.count("scheduled")
            tally.registration("throttled" if i % 7 == 0 else "accepted", i % 50, i % 50 + i % 3, f"id-{i}")
        if i == 150:  # a periodic report in the middle, the rest in the "done" message
            master.merge(first.take())
    master.merge(first.take())
    master.merge(second.take())
    assert master.all_counts() == single.all_counts()
    assert master.latency_ms == single.latency_ms
    assert sorted(master.accepted_ids) == sorted(single.accepted_ids)
    assert sum(row["scheduled"] for row in master.by_worker.values()) == 300
    assert set(master.by_worker) == {"0", "1"}
    assert Tally.from_data(master.to_data()).all_counts() == master.all_counts()  # through the totals file


def test_latency_buckets_and_percentiles() -> None:
    assert [round_ms(x) for x in (3.4, 99.6, 123, 4567, 23456)] == [3, 100, 120, 4600, 23000]
    histogram = Counter({10: 90, 200: 9, 3000: 1})
    assert percentiles_ms(histogram) == {"p50": 10.0, "p95": 200.0, "p99": 200.0, "max": 3000.0, "count": 100.0}
    assert percentiles_ms(Counter())["p99"] == 0.0


def test_lost_counts_accepted_ids_the_server_does_not_hold() -> None:
    tally = Tally("0")
    for i in range(5):
        tally.count("scheduled")
        tally.count("sent")
        tally.count("sent_in_window")
        tally.registration("accepted", 5, 6, f"s{i}")
    totals = {"tally": tally.to_data(), "processes": 1, "processes_done": ["0"], "window_s": 2.0,
              "time_scale": 30.0, "mean_rate_per_s": 2.4}
    held = {"s0": "created", "s1": "dead_lettered", "s2": "pending", "s3": "rejected"}  # s4 unknown to the server
    block = outcome.load_block(totals, held, settled=True, settle_wall_s=0.5, locust_exit_code=0)
    assert block["lost"] == 2
    assert block["target_rate_per_s"] == block["achieved_rate_per_s"] == 2.5
    assert block["accepted_held_as"] == {"created": 1, "dead_lettered": 1, "pending": 1, "rejected": 1, "missing": 1}


@pytest.mark.anyio
async def test_the_live_server_charges_browsed_pages_to_the_read_cache(tmp_path: Path, smoke: Scenario) -> None:
    """As the simulator's visitors do: a catalog page of the browsing set is a cache lookup (a miss a Dataverse
    read); a page outside it (tracks) is served without one."""
    served = build_served(smoke, db_path=tmp_path / "live.db", time_scale=30, token="tok")
    event = served.model.catalog.events[0]
    base = served.app.state.base_path
    served.model.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served.app), base_url="http://mock") as client:
            async def lookups() -> int:
                stats = (await client.get("/_harness/stats")).json()
                return int(stats["cache_hits"] + stats["cache_misses"])

            before = await lookups()
            for tail in ("events/published", f"events/{event.readable_id}", f"events/{event.readable_id}/sessions",
                         f"events/{event.readable_id}/speakers", f"events/{event.readable_id}/sponsorships",
                         f"events/{event.readable_id}/tracks"):
                assert (await client.get(f"{base}{tail}?emApplicationtoken=tok")).status_code == 200
            served.model.driver.call(lambda m: None).result(timeout=5)  # the batch is charged on the model thread
            assert await lookups() - before == 5
    finally:
        served.model.stop()
        served.store.close()
    assert {("published", ""), ("event", event.id)} <= set(browse_keys(event.id))


def test_bodies_answer_each_consent_purpose_and_keep_their_other_answers(smoke: Scenario) -> None:
    from simulator import consent

    purposes = consent.purpose_ids(2)
    for k, _, journey in list(Schedule(smoke, 30))[:100]:
        plain = traffic.registration_body(journey, k, smoke.seed, smoke.load.repeat_share)
        body = traffic.registration_body(journey, k, smoke.seed, smoke.load.repeat_share, consent_purposes=2)
        person, before = body["attendees"][0], plain["attendees"][0]
        assert person["responses"][:len(before["responses"])] == before["responses"]
        assert {key: value for key, value in person.items() if key != "responses"} == \
            {key: value for key, value in before.items() if key != "responses"}
        answers = consent.consent_answers(person["responses"], purposes)
        assert set(answers) == set(purposes) and None not in answers.values()
        RegistrationRequest.model_validate_json(traffic.encode(body))  # still within the contract
