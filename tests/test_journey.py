"""Arrivals made by an invitation journey (simulator/journey.py): entry limits, entry days, quiet times, and only
the registrants drawn."""

from __future__ import annotations

import datetime
import random

import numpy as np
import pytest
from scipy import stats

from simulator.arrivals import arrival_times
from simulator.journey import HOUR_S, invitations_sent_per_bin, registration_times, sending
from simulator.scenario import InvitationJourney, ScenarioError, parse_scenario

INSTANT = {"dist": "uniform", "low": "0s", "high": "1s"}  # a near-zero response delay


def journey(**keys: object) -> InvitationJourney:
    return parse_scenario({"journey": keys}).journey


@pytest.mark.parametrize(("keys", "says"), [
    ({"entry_days": ["mon", "funday"]}, "journey.entry_days = ['mon', 'funday'] — 'funday' is not a day"),
    ({"entry_interval": "2h"}, "journey.entry_interval = '2h' — expected '1h' or '1d'"),
    ({"audience": 10_000_001}, "journey.audience = 10000001 — a segment-based journey holds at most 10,000,000"),
    ({"quiet": {"from": "25:00", "to": "08:00"}}, "journey.quiet.from = '25:00' — expected a time of day"),
    ({"start": "next monday"}, "journey.start = 'next monday' — expected a local date and time"),
    ({"response_delay": {"dist": "lognormal", "median": "3h", "low": "1h"}}, "low is not a parameter of lognormal"),
])
def test_each_bad_key_is_one_line_naming_it(keys: dict[str, object], says: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"journey": keys}, "x.toml")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("x.toml: journey.") and says in message


def test_an_hourly_entry_limit_makes_hourly_bursts_of_about_limit_times_share() -> None:
    # 20 hours of 2,000 members entering on the hour, sent at 140,000/h (a 2,000-member burst takes 51.4 s),
    # answering within a second: every registration lies in the first 53 s of an hour, and each hour's count is
    # Binomial(2000, 0.3). The test fails by chance only if some hour's count is outside mean ± 5.5 sd:
    # 20 × 2 × P(Z > 5.5) ≈ 1.5e-6 (normal approximation, n p (1-p) = 420).
    limit, share = 2000, 0.3
    plan = journey(audience=40_000, entry_limit=limit, response_share=share, response_delay=INSTANT)
    times = registration_times(plan, 30 * HOUR_S, np.random.default_rng(21))
    into_hour_s = times % HOUR_S
    burst_s = limit * HOUR_S / plan.send_rate_per_h + 1.0
    assert into_hour_s.max() <= burst_s + 1e-6  # none between bursts
    per_hour = np.bincount((times // HOUR_S).astype(int), minlength=20)
    assert len(per_hour) == 20
    sd = np.sqrt(limit * share * (1 - share))
    assert np.all(np.abs(per_hour - limit * share) <= 5.5 * sd), per_hour
    assert stats.norm.sf(5.5) * 2 * 20 < 2e-6


def test_no_entries_on_days_left_out() -> None:
    # Friday 2027-03-05 09:00, weekdays only, 10,000 an hour for 200,000: Friday takes 15 hours (09:00-23:00),
    # then nobody enters until Monday 00:00.
    plan = journey(audience=200_000, entry_limit=10_000, start="2027-03-05T09:00", response_share=0.5,
                   response_delay=INSTANT, entry_days=["mon", "tue", "wed", "thu", "fri"])
    times = registration_times(plan, 10 * 24 * HOUR_S, np.random.default_rng(3))
    start = datetime.datetime(2027, 3, 5, 9)
    weekdays = {(start + datetime.timedelta(seconds=float(t))).strftime("%a") for t in times}
    assert weekdays == {"Fri", "Mon"}
    entered_on_monday = sending(plan, 10 * 24 * HOUR_S).entry_s[15:]
    assert entered_on_monday[0] == (2 * 24 + 15) * HOUR_S  # Monday 00:00 is 63 h after Friday 09:00


def test_a_quiet_time_releases_its_queue_in_one_burst_when_it_ends() -> None:
    # 100 an hour from 09:00, quiet 20:00-08:00: the 12 hourly batches entering 20:00..07:00 (1,200 members)
    # go out back to back from 08:00 — one burst of 1,200 × 3600/140,000 = 30.9 s — followed at once by the 100
    # entering at 08:00, and nothing in the quiet.
    plan = journey(audience=5000, entry_limit=100, quiet={"from": "20:00", "to": "08:00"},
                   response_share=1.0, response_delay={"dist": "choice", "values": ["0s"]})
    sent = sending(plan, 3 * 24 * HOUR_S)
    times = registration_times(plan, 3 * 24 * HOUR_S, np.random.default_rng(5))
    local_h = (9 + times / HOUR_S) % 24
    assert not np.any((local_h >= 20) | (local_h < 8))
    released = times[(times >= 23 * HOUR_S) & (times < 24 * HOUR_S)]  # Tuesday 08:00-09:00
    assert len(released) == 1300
    assert np.allclose(np.diff(released), 3600 / 140_000)  # one burst at the sending rate, no gap
    assert released[0] == pytest.approx(23 * HOUR_S + 3600 / 140_000)
    assert released[-1] == pytest.approx(23 * HOUR_S + 1300 * 3600 / 140_000)
    assert sent.end_s() == pytest.approx(times[-1])


def test_sent_series_counts_every_member_once_at_the_right_time() -> None:
    plan = journey(audience=50_000, entry_limit=20_000, quiet={"from": "10:00", "to": "11:00"})
    per_bin = invitations_sent_per_bin(plan, 6 * HOUR_S, 60.0)
    assert per_bin.sum() == 50_000
    everyone = sending(plan, 6 * HOUR_S).sent_s(np.arange(50_000))
    counted = np.bincount((everyone // 60).astype(int), minlength=len(per_bin))
    # the same cumulative counts, give or take the one member sent exactly on a bin's edge
    assert np.abs(np.cumsum(per_bin) - np.cumsum(counted)).max() <= 1
    assert per_bin[60:66].sum() == 0  # 10:00-11:00 quiet: nothing sent


def test_only_registrants_are_drawn_and_the_count_is_binomial() -> None:
    # 10,000,000 members at 0.6 %: the count is Binomial(1e7, 0.006), sd 244; ± 6 sd fails by chance < 2e-9.
    plan = journey(audience=10_000_000, response_share=0.006, response_delay=INSTANT)
    times = registration_times(plan, 400 * HOUR_S, np.random.default_rng(11))
    assert abs(len(times) - 60_000) <= 6 * np.sqrt(10_000_000 * 0.006 * 0.994)
    assert np.all(np.diff(times) >= 0)


def test_arrivals_are_deterministic_by_seed_and_end_at_the_horizon() -> None:
    raw = {"horizon": "6h", "workload": {"shape": "journey"}, "journey": {"audience": 20_000}}
    scenario = parse_scenario(raw)
    first = list(arrival_times(scenario, random.Random("7-arrivals")))
    again = list(arrival_times(scenario, random.Random("7-arrivals")))
    other = list(arrival_times(scenario, random.Random("8-arrivals")))
    assert first == again and first != other
    assert max(first) < 6 * HOUR_S


def test_a_window_spike_starts_when_registration_opens() -> None:
    scenario = parse_scenario({"workload": {"shape": "window", "rate": 50, "half_life": "1m", "duration": "10m"},
                               "window": {"opens": "30m", "closes": "35m"}})
    times = list(arrival_times(scenario, random.Random(1)))
    assert min(times) >= 1800 and max(times) < 2400


def test_every_journey_key_can_be_uncertain() -> None:
    from simulator.uncertain import drawn_scenarios, parse_uncertain
    keys = {
        "journey.audience": {"dist": "uniform", "low": 100_000, "high": 500_000},
        "journey.send_rate_per_h": {"dist": "triangular", "low": 100_000, "mode": 140_000, "high": 500_000},
        "journey.entry_limit": {"dist": "uniform", "low": 10_000, "high": 50_000},
        "journey.entry_interval": {"dist": "choice", "values": ["1h", "1d"]},
        "journey.entry_days": {"dist": "choice", "values": [["mon", "tue"], ["mon", "tue", "wed", "thu", "fri"]]},
        "journey.start": {"dist": "choice", "values": ["2027-03-01T09:00", "2027-03-05T09:00"]},
        "journey.quiet.from": {"dist": "choice", "values": ["19:00", "21:00"]},
        "journey.response_share": {"dist": "triangular", "low": 0.1, "mode": 0.15, "high": 0.35},
        "journey.response_delay.median": {"dist": "uniform", "low": "3h", "high": "6h"},
        "journey.response_delay.p95": {"dist": "uniform", "low": "7d", "high": "8d"},
    }
    scenario = parse_scenario({"workload": {"shape": "journey"}, "uncertain": keys,
                               "journey": {"quiet": {"from": "20:00", "to": "08:00"}}})
    drawn, values = drawn_scenarios(scenario, parse_uncertain(scenario, "x.toml"), 4, "lhs",
                                    np.random.default_rng(1), "x.toml")
    for variant, value in zip(drawn, values, strict=True):
        assert variant.journey.quiet is not None and variant.journey.quiet.begins == value["journey.quiet.from"]
        assert variant.journey.entry_days == value["journey.entry_days"]
        assert variant.journey.response_delay.median == value["journey.response_delay.median"]
        assert 100_000 <= variant.journey.audience <= 500_000
