"""Statistics over replications: intervals that cover, paired differences on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.comparison import comparison_rows
from simulator.engine.replicate import replicate
from simulator.scenario import parse_scenario
from simulator.stats import interval, interval_block, mean_summary, not_reached_counts, paired, wilson

ARRIVALS_ONLY = {
    "name": "arrivals", "horizon": "10m",
    "catalog": {"events": 1, "capacity": 0, "session_capacity": 0, "sessions_per_event": 0,
                "speakers_per_event": 0, "sponsors_per_event": 0},
    "workload": {"shape": "constant", "rate": 0.5, "duration": "2m", "browse_per_submission": 0,
                 "mix": {"event": 1, "session": 0, "waitlist": 0}},
    "api": {"processors": 2},
}
THROTTLED = {
    "name": "throttled", "horizon": "1h",
    "catalog": {"events": 1, "capacity": 0, "session_capacity": 0},
    "workload": {"shape": "constant", "rate": 6, "duration": "4m", "browse_per_submission": 0,
                 "mix": {"event": 1, "session": 0, "waitlist": 0}},
    "api": {"processors": 8},
    "retry": {"policy": "none"},
    "dataverse": {"requests_limit": 600},
}


def test_interval_is_student_t() -> None:
    values = [3.0, 5.0, 4.0, 6.0]
    found = interval(values, 0.9)
    half = stats.t.ppf(0.95, 3) * np.std(values, ddof=1) / 2
    assert found.mean == 4.5 and found.low == pytest.approx(4.5 - half) and found.high == pytest.approx(4.5 + half)
    assert interval([7.0], 0.95).half_width == 0.0 and interval([2.0, 2.0], 0.95).half_width == 0.0


@pytest.mark.slow
def test_the_95_percent_interval_covers_the_true_mean_in_95_percent_of_repetitions() -> None:
    """Offered submissions of a constant open workload are Poisson with mean rate × duration = 60, known
    exactly. 200 repetitions of 10 replications each (seeds 1..200): the count of intervals that contain 60
    is Binomial(200, 0.95) when the intervals are right. The accepted range is that binomial's central
    1 − 1e-4, so a correct implementation fails this test about once in 10,000 runs (a wrong one — a
    z instead of a t, sd instead of sd/√n — lands far outside it)."""
    scenario = parse_scenario(ARRIVALS_ONLY)
    true_mean = scenario.workload.rate * scenario.workload.duration
    covered = 0
    for repetition in range(1, 201):
        [results] = replicate([scenario.model_copy(update={"seed": repetition})], [[]], [], 10, sampling="lhs",
                              source="test", workers=1)
        found = interval([r.summary["submissions"]["offered"] for r in results], 0.95)
        covered += found.contains(true_mean)
    low, high = stats.binom.ppf(0.5e-4, 200, 0.95), stats.binom.isf(0.5e-4, 200, 0.95)
    assert low <= covered <= high, f"{covered}/200 intervals covered the true mean (expected {low:g}..{high:g})"


def test_a_no_op_variant_differs_by_exactly_zero_with_a_zero_width_interval() -> None:
    scenario = parse_scenario(THROTTLED)
    same = parse_scenario({**THROTTLED, "api": {"processors": 8}})  # the override that changes nothing
    results = replicate([scenario, same], [[], ["api.processors=8"]], [], 4, sampling="lhs", source="t",
                        workers=1)
    rows = [r for r in comparison_rows(["base", "no-op"], results) if r.variant == "no-op"]
    assert rows and all(r.diff == 0.0 and r.diff_ci_low == 0.0 and r.diff_ci_high == 0.0 for r in rows)
    assert all(r.indistinguishable for r in rows)


def test_a_variant_better_on_every_replication_has_an_interval_that_excludes_zero() -> None:
    """Two app users double the requests budget (two keys), so under throttling every replication creates
    more than with one, on the same arrivals."""
    one = parse_scenario(THROTTLED)
    two = parse_scenario({**THROTTLED, "dataverse": {**THROTTLED["dataverse"], "app_users": 2}})
    results = replicate([one, two], [[], ["dataverse.app_users=2"]], [], 5, sampling="lhs", source="t",
                        workers=1)
    created = [[r.summary["submissions"]["created"] for r in variant] for variant in results]
    assert all(b > a for a, b in zip(*created, strict=True))  # better on every replication
    [row] = [r for r in comparison_rows(["one", "two"], results) if r.variant == "two"
             and r.metric == "submissions.created"]
    assert row.diff_ci_low > 0 and not row.indistinguishable
    assert row.diff == pytest.approx(np.mean(created[1]) - np.mean(created[0]))


def test_paired_interval_is_the_interval_of_the_differences() -> None:
    a, b = [10.0, 12.0, 11.0, 15.0], [9.0, 10.0, 10.5, 13.0]
    assert paired(a, b, 0.95) == interval(np.subtract(a, b), 0.95)


def test_wilson_interval_matches_scipy_and_brackets_the_share() -> None:
    low, high = wilson(38, 40, 0.95)
    z, share, n = stats.norm.ppf(0.975), 38 / 40, 40  # Wilson's score interval, written out
    centre = (share + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(share * (1 - share) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    assert low == pytest.approx(centre - half) and high == pytest.approx(centre + half)
    assert 0.83 < low < 38 / 40 < high < 0.99  # "meets in 38/40 (95 %, CI 83–99 %)"
    assert wilson(30, 30, 0.95)[1] == 1.0


def test_mean_summary_keeps_every_key_and_averages_numbers() -> None:
    summaries = [{"name": "x", "submissions": {"created": 10}, "binding": "requests", "last_created_s": 7.0},
                 {"name": "x", "submissions": {"created": 13}, "binding": "requests", "last_created_s": 5.0}]
    assert mean_summary(summaries) == {"name": "x", "submissions": {"created": 11.5}, "binding": "requests",
                                       "last_created_s": 6.0}


def test_a_reason_missing_from_a_replication_counts_zero_in_the_mean() -> None:
    # The case: one replication with 30 deadline dead-letters, 29 with none.
    summaries = [{"submissions": {"dead_lettered": 30}, "dead_letter_reasons": {"deadline": 30},
                  "rejected_by": {"429": 4}}]
    summaries += [{"submissions": {"dead_lettered": 0}, "dead_letter_reasons": {}, "rejected_by": {}}] * 29
    merged = mean_summary(summaries)
    assert merged["submissions"]["dead_lettered"] == pytest.approx(1.0)
    assert merged["dead_letter_reasons"] == {"deadline": pytest.approx(1.0)}
    assert merged["rejected_by"] == {"429": pytest.approx(4 / 30, abs=1e-6)}


def test_a_figure_not_reached_in_one_replication_is_not_reached_in_the_mean() -> None:
    reached = {"last_created_s": 5.0, "time_to_created_s": {"p95": 3.0, "not_reached": False}}
    lost = {"last_created_s": None, "time_to_created_s": {"p95": None, "not_reached": True}}
    merged = mean_summary([reached, lost, reached])
    assert merged["last_created_s"] is None
    assert merged["time_to_created_s"] == {"p95": None, "not_reached": True}
    assert mean_summary([reached, reached])["time_to_created_s"] == {"p95": 3.0, "not_reached": False}


def test_the_interval_block_leaves_out_a_metric_some_replication_did_not_reach() -> None:
    columns = {"a": [1.0, 2.0, 3.0], "b": [1.0, float("nan"), 3.0], "c": [float("nan")] * 3}
    block = interval_block(columns, 0.95)
    assert set(block) == {"a"}
    assert not_reached_counts(columns) == {"b": 1, "c": 3}
