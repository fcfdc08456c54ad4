"""A summary.json figure's unit comes from its name: times print as durations, shares as percentages."""

from __future__ import annotations

import pytest

from simulator.units import metric_text, time_unit_s


@pytest.mark.parametrize(("path", "unit_s"), [
    ("time_to_created_s.p95", 1.0), ("time_to_created_s.max", 1.0), ("last_created_s", 1.0),
    ("throughput.drain_s", 1.0), ("load.latency_ms.registration.p99", 0.001),
    ("throughput.peak_created_per_s", None), ("submissions.created", None), ("cache.hit_ratio", None),
    ("time_to_created_s.not_reached", None),  # a count under a time's block
])
def test_the_unit_is_read_from_the_name(path: str, unit_s: float | None) -> None:
    assert time_unit_s(path) == unit_s


@pytest.mark.parametrize(("path", "value", "text"), [
    ("time_to_created_s.p95", 881.914, "14.7 min"), ("last_created_s", 8240.0, "2.29 h"),
    ("time_to_created_s.p50", 0.25, "250 ms"), ("load.latency_ms.registration.p99", 42.25, "42.2 ms"),
    ("cache.hit_ratio", 0.998, "99.8%"), ("submissions.created", 18118.0, "18,118"),
    ("attempts_per_created", 1.0625, "1.06"), ("time_to_created_s.p95", None, "not reached"),
])
def test_a_figure_is_printed_in_its_unit(path: str, value: float | None, text: str) -> None:
    assert metric_text(path, value) == text


@pytest.mark.parametrize(("path", "mean", "half", "text"), [
    # a replicated run's means, rounded as a single run's figures are, each with its unit
    ("submissions.created", 67954.633333, 4449.2, "67,955 ± 4,449"),
    ("cache.hits", 377584.633333, 1234.5, "377,585 ± 1,234"),
    ("capacity.keys", 1.0, 0.0, "1 ± 0"),
    ("last_created_s", 11700.0, 744.0, "3.25 h ± 12.4 min"),
    ("time_to_created_s.p95", 0.75, 0.198, "750 ms ± 198 ms"),
    ("throughput.mean_created_per_s", 5.8131, 0.0227, "5.81/s ± 0.023/s"),
    ("cache.hit_ratio", 0.99812, 0.0001, "99.8% ± 0.01 pts"),
    ("attempts_per_created", 1.0512, 0.00285, "1.05 ± 0.0029"),
])
def test_an_interval_is_printed_in_the_means_unit(path: str, mean: float, half: float, text: str) -> None:
    from simulator.units import interval_text

    assert interval_text(path, mean, half) == text


def test_a_rate_carries_its_unit() -> None:
    assert metric_text("throughput.peak_created_per_s", 53.2) == "53.2/s"
    assert metric_text("throughput.mean_created_per_s", 5.8131) == "5.81/s"
