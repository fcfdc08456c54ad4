"""The decision a comparison opens with: lossy variants out (never best), the rest by p95, differences
beyond the paired interval, identical runs said as such."""

from __future__ import annotations

from typing import Any

from simulator.decision import Candidate, decide


def summary(created: float, dead: float, p95_s: float | None, rejected: float = 0, pending: float = 0
            ) -> dict[str, Any]:
    return {"submissions": {"created": created, "dead_lettered": dead, "rejected": rejected, "pending": pending},
            "time_to_created_s": {"p95": p95_s}}


def test_a_disaster_is_out_however_fast_it_finished_what_it_kept() -> None:
    decision = decide([Candidate("none · RA on", summary(1_687, 25_811, 16.9)),
                       Candidate("exponential · RA on", summary(27_498, 0, 4_236.0)),
                       Candidate("exponential · RA off", summary(27_498, 0, 7_848.0))])
    assert decision.lossy == {0} and decision.order == [1, 2, 0]
    first, second = decision.sentences[:2]
    assert first.startswith("1 of 3 variants lost registrations") and "none · RA on (25,811 dead-lettered)" in first
    assert second.startswith("exponential · RA on has the lowest p95 time to created: 60.2 min lower than "
                             "exponential · RA off, of 70.6 min")


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
    assert beyond.sentences[1].startswith("shared is best on p95 time to created: 5.2 s ± 335 ms lower than ttl, "
                                          "of 2.39 h (95% paired interval over 5 replications)")
    within = decide([Candidate("shared", summary(18_118, 0, mean(shared)), (seeds, shared)),
                     Candidate("noisy", summary(18_118, 0, mean(noisy)), (seeds, noisy))])
    assert "but not beyond the noise: noisy is " in within.sentences[1]
    assert len(within.sentences) == 2


def test_identical_single_runs_are_said_to_be_identical() -> None:
    decision = decide([Candidate(f"{policy} · RA on", summary(27_498, 0, 4_236.0))
                       for policy in ("exponential", "full-jitter", "decorrelated-jitter")])
    assert decision.order == [0, 1, 2]
    assert decision.sentences == ["No variant lost a registration: none dead-lettered, left one pending, or turned "
                                  "away more than the others.",
                                  "exponential · RA on, full-jitter · RA on and decorrelated-jitter · RA on give "
                                  "identical runs on p95 time to created (70.6 min)."]


def test_one_lost_registration_is_out_however_small_the_share() -> None:
    """The issue's rule: "lost nothing", not "lost under 1 %". One dead-letter in 27,498, one registration still
    pending at the horizon, or 3 more turned away than the fewest each put a variant out, however fast it was."""
    for lossy, words in ((summary(27_497, 1, 3_000.0, rejected=64), "1 dead-lettered"),
                         (summary(27_497, 0, 3_000.0, rejected=64, pending=1), "1 not created at the end"),
                         (summary(27_495, 0, 3_000.0, rejected=67), "3 more turned away than the fewest")):
        decision = decide([Candidate("slow", summary(27_498, 0, 4_236.0, rejected=64)), Candidate("fast", lossy)])
        assert decision.lossy == {1} and decision.order == [0, 1], words
        assert f"fast ({words})" in decision.sentences[0], decision.sentences
        assert "slow is the only variant that lost nothing" in decision.sentences[-1]


def test_turn_aways_every_variant_shares_are_the_scenarios_not_a_variants() -> None:
    decision = decide([Candidate("a", summary(27_000, 0, 4_236.0, rejected=498)),
                       Candidate("b", summary(27_000, 0, 4_000.0, rejected=498))])
    assert decision.lossy == set() and decision.order == [1, 0]
    assert decision.sentences[1] == "The 498 turned away by every variant that lost nothing are the scenario's, " \
                                    "held against none."


def test_a_variant_that_dead_letters_most_sets_no_bar_for_turn_aways() -> None:
    """The README's full example: policy=none dead-letters 50,562 and so frees the limit for validation reads,
    turning away only 6; the retrying variants turn away 178 (Retry-After honoured) or more. The bar is the fewest
    among variants that dead-lettered nothing — 178 — or every variant would be out."""
    throttled = {"validation read throttled: 429 requests limit (0x80072322)": 178}
    on = {**summary(62_066, 0, 8_640.0, rejected=178), "rejected_by": throttled}
    decision = decide([Candidate("none · RA on", summary(11_676, 50_562, None, rejected=6)),
                       Candidate("exponential · RA on", on),
                       Candidate("exponential · RA off", summary(54_545, 0, 7_884.0, rejected=7_699))])
    assert decision.lossy == {0, 2} and decision.order == [1, 2, 0]
    assert "exponential · RA off (7,521 more turned away than the fewest)" in decision.sentences[0]
    assert decision.sentences[1] == ('The 178 turned away by every variant that lost nothing (mostly "validation '
                                     'read throttled") are the scenario\'s, held against none.')


def test_with_replications_a_loss_in_any_replication_counts() -> None:
    """Means over 20 replications: one dead-letter in one of them is a mean of 0.05 — out."""
    seeds = tuple(range(20))
    values = tuple(4_000.0 + i for i in range(20))
    decision = decide([Candidate("kept", summary(27_498, 0, 4_009.5), (seeds, values)),
                       Candidate("lost one", summary(27_497.95, 0.05, 4_000.0), (seeds, tuple(v - 9 for v in values)))])
    assert decision.lossy == {1}
    assert decision.sentences[0] == ("1 of 2 variants lost registrations and are out (†, never starred; means over "
                                     "the replications, so a loss in any replication counts): lost one "
                                     "(0.05 dead-lettered).")


def test_the_decision_is_three_to_five_sentences_on_a_thirty_variant_grid() -> None:
    candidates = [Candidate(f"v{i}", summary(27_498 - (i % 6 == 0) * 25_000, (i % 6 == 0) * 25_000, 4_000.0 + i))
                  for i in range(30)]
    decision = decide(candidates)
    assert 2 <= len(decision.sentences) <= 5 and decision.lossy == {0, 6, 12, 18, 24}
    assert decision.sentences[-1] == "Slower than v1: v3 +2.0 s; v4 +3.0 s; v5 +4.0 s; and 20 more (in the table)."


def test_the_console_keeps_a_lossy_variants_differences_and_marks_it_the_same_way() -> None:
    """The † added to a lossy row's label must not lose its paired differences (they are keyed by the label)."""
    from rich.console import Console

    from simulator.comparison import ComparisonRow
    from stampede.compare_table import print_comparison

    rows = [("exponential", summary(27_498, 0, 4_236.0)), ("none", summary(27_497, 1, 30.0))]
    differences = [ComparisonRow("none", path, 1.0, 1.0, 1.0, diff, diff - 1, diff + 1, 5)
                   for path, diff in (("submissions.created", -1.0), ("time_to_created_s.p95", -4_206.0),
                                      ("last_created_s", -60.0))]
    console = Console(width=80, record=True)
    print_comparison(rows, differences, 0, 5, decision=decide([Candidate(label, s) for label, s in rows]),
                     target=console)
    text = console.export_text()
    assert " ".join(text.split()).startswith("1 of 2 variants lost registrations and are out (†, never starred): "
                                             "none (1 dead-lettered).")
    [diff_row] = [line for line in text.splitlines() if line.strip().startswith("none †") and "−" in line]
    assert "−70.1m±" in diff_row and "—" not in diff_row
