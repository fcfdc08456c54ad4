"""The decision a comparison opens with: lossy variants out (never best), the rest by p95, differences
beyond the paired interval, identical runs said as such."""

from __future__ import annotations

from typing import Any

from simulator.decision import Candidate, decide


def summary(created: int, dead: int, p95_s: float | None) -> dict[str, Any]:
    return {"submissions": {"created": created, "dead_lettered": dead, "rejected": 0, "pending": 0},
            "time_to_created_s": {"p95": p95_s}}


def test_a_disaster_is_out_however_fast_it_finished_what_it_kept() -> None:
    decision = decide([Candidate("none · RA on", summary(1_687, 25_811, 16.9)),
                       Candidate("exponential · RA on", summary(27_498, 0, 4_236.0)),
                       Candidate("exponential · RA off", summary(27_498, 0, 7_848.0))])
    assert decision.lossy == {0} and decision.order == [1, 2, 0]
    first, second = decision.sentences[:2]
    assert first.startswith("1 of 3 variants lost registrations") and "none · RA on (25,811 dead-lettered)" in first
    assert second.startswith("exponential · RA on has the lowest p95 time to created: 70.6 min, 60.2 min lower")


def test_replicated_variants_are_better_only_beyond_the_paired_interval() -> None:
    seeds = (1, 2, 3, 4, 5)
    base = (8_600.0, 8_640.0, 8_610.0, 8_650.0, 8_620.0)
    shared = tuple(v - 5.3 + d for v, d in zip(base, (0.2, -0.3, 0.1, -0.1, 0.4), strict=True))
    noisy = tuple(v + d for v, d in zip(shared, (40.0, -40.0, 30.0, -35.0, 5.5), strict=True))

    def mean(values: tuple[float, ...]) -> float:
        return sum(values) / len(values)

    beyond = decide([Candidate("ttl", summary(18_118, 0, mean(base)), (seeds, base)),
                     Candidate("shared", summary(18_118, 0, mean(shared)), (seeds, shared))])
    assert beyond.order == [1, 0]
    assert beyond.sentences[1].startswith("shared is best on p95 time to created: 2.39 h, 5.2 s ± 335 ms below ttl")
    within = decide([Candidate("shared", summary(18_118, 0, mean(shared)), (seeds, shared)),
                     Candidate("noisy", summary(18_118, 0, mean(noisy)), (seeds, noisy))])
    assert "but not beyond the noise" in within.sentences[1]
    assert within.sentences[2] == "noisy is indistinguishable from it on p95 time to created."


def test_identical_single_runs_are_said_to_be_identical() -> None:
    decision = decide([Candidate(f"{policy} · RA on", summary(27_498, 0, 4_236.0))
                       for policy in ("exponential", "full-jitter", "decorrelated-jitter")])
    assert decision.order == [0, 1, 2]
    assert decision.sentences == ["No variant lost registrations: every one created within 1 % of the most.",
                                  "exponential · RA on, full-jitter · RA on and decorrelated-jitter · RA on tie for "
                                  "the lowest p95 time to created (70.6 min; one run each)."]
