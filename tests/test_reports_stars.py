"""The comparison report's stars: never for a variant that lost registrations, never for noise."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from fixtures_runs import make_run

from reports.comparison import _log_percent, comparison_table
from reports.rundata import load_run
from reports.stars import difference_sentences
from simulator.stats import HEADLINE_METRICS


def _columns(table) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {metric.key: c for c, metric in enumerate(table.metrics)}


def test_a_variant_that_loses_registrations_is_never_starred_on_latency(tmp_path: Path) -> None:
    """policy=none dead-letters most of its submissions and so "finishes" fastest; it must be flagged on the
    time, rate and attempts columns, and the variant that kept everything starred there."""
    keeps = load_run(make_run(tmp_path, "exponential", policy="exponential", dead_share=0.0, slowdown=3))
    loses = load_run(make_run(tmp_path, "none", policy="none", dead_share=0.8, slowdown=1))
    table = comparison_table([keeps, loses], ["exponential", "none"])
    column = _columns(table)
    assert keeps.summary_value("time_to_created_s.p95") > loses.summary_value("time_to_created_s.p95")
    for key in ("p95", "p50", "p99", "drain"):
        assert table.best[column[key]] == {0}, key
        assert table.flagged[column[key]] == {1}, key
    assert table.best[column["created"]] == {0} and table.best[column["dead_lettered"]] == {0}
    assert table.flagged[column["created"]] == {1}  # out of every column's ranking: lost registrations


def test_a_variant_that_lost_a_single_registration_earns_no_star_in_any_column(tmp_path: Path) -> None:
    """"Lost nothing", not "lost under 1 %": a variant that dead-lettered a few registrations in 3,000 and was
    faster gets no star anywhere; the same turn-aways in both (same seed) are nobody's fault."""
    keeps = load_run(make_run(tmp_path, "keeps", dead_share=0.0, slowdown=3))
    loses = load_run(make_run(tmp_path, "loses", dead_share=0.002, slowdown=1))
    assert 0 < loses.summary_value("submissions.dead_lettered") < 0.01 * keeps.summary_value("submissions.created")
    assert keeps.summary_value("submissions.rejected") == loses.summary_value("submissions.rejected") > 0
    table = comparison_table([keeps, loses], ["keeps", "loses"])
    column = _columns(table)
    assert all(1 not in best for best in table.best)
    for key in ("p95", "p50", "created", "dead_lettered"):
        assert table.best[column[key]] == {0}, key


def _replicate(run_dir: Path, created: list[float], seeds: list[int], confidence: float = 0.95) -> None:
    """Give a synthetic run directory the replication files a replicated run writes."""
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["submissions"]["created"] = float(np.mean(created))
    # lost nothing (the created figure stands for any figure compared across variants that all kept everything)
    summary["submissions"].update(dead_lettered=0, pending=0, rejected=0)
    summary["replications"] = {"n": len(created), "confidence": confidence, "sampling": "lhs", "uncertain": {},
                               "metrics": {}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with (run_dir / "replications.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("replication", "seed", *HEADLINE_METRICS))
        for i, (seed, value) in enumerate(zip(seeds, created, strict=True)):
            row = {p: summary["submissions"]["offered"] for p in HEADLINE_METRICS} | {"submissions.created": value}
            writer.writerow((i, seed, *(row[p] for p in HEADLINE_METRICS)))


def test_a_value_is_starred_only_where_it_beats_the_runner_up_beyond_the_interval(tmp_path: Path) -> None:
    seeds = [11, 12, 13, 14, 15]
    base = [2900.0, 2950.0, 2920.0, 2980.0, 2940.0]
    a, b, c = (make_run(tmp_path, name, submissions=3000) for name in ("a", "b", "c"))
    _replicate(a, [v + 3 for v in base], seeds)  # 3 more on every replication: a real, paired difference
    _replicate(b, base, seeds)
    noisy = [v + d for v, d in zip(base, [40.0, -35.0, 25.0, -30.0, 12.0], strict=True)]  # mean +2.4, noise ±40
    _replicate(c, noisy, seeds)
    runs = [load_run(p) for p in (a, b, c)]
    table = comparison_table(runs[:2], ["a", "b"])
    assert table.best[_columns(table)["created"]] == {0}  # 3 more than b on every replication: starred
    table = comparison_table(runs, ["a", "b", "c"])
    assert table.best[_columns(table)["created"]] == set()  # the runner-up c is within a's noise: no star
    table = comparison_table(runs[1:], ["b", "c"])
    assert table.best[_columns(table)["created"]] == set()  # nor is c's lead over b
    [noise] = [s for s in difference_sentences([runs[1], runs[2]], ["b", "c"]) if "registrations created" in s]
    assert noise.startswith("c and b are indistinguishable on registrations created (+2 ± ")
    [real] = [s for s in difference_sentences([runs[1], runs[0]], ["b", "a"]) if "registrations created" in s]
    assert real.startswith("a against b: registrations created +3 ± 0 ")


def test_stars_and_sentences_use_the_runs_own_confidence(tmp_path: Path) -> None:
    """Paired differences of 1, 2, 0.2, 1.5, 0.8 (mean 1.1, sd 0.69): the 95 % interval (±0.85) excludes 0,
    the 99 % one (±1.41) does not — so a run made with --confidence 0.99 gets no star and says 99 %."""
    seeds = [11, 12, 13, 14, 15]
    base = [2900.0, 2950.0, 2920.0, 2980.0, 2940.0]
    ahead = [v + d for v, d in zip(base, [1.0, 2.0, 0.2, 1.5, 0.8], strict=True)]
    for level in (0.95, 0.99):
        a, b = make_run(tmp_path / str(level), "a", submissions=3000), make_run(tmp_path / str(level), "b",
                                                                              submissions=3000)
        _replicate(a, ahead, seeds, level)
        _replicate(b, base, seeds, level)
        runs = [load_run(a), load_run(b)]
        table = comparison_table(runs, ["a", "b"])
        assert table.best[_columns(table)["created"]] == ({0} if level == 0.95 else set()), level
        [sentence] = [s for s in difference_sentences([runs[1], runs[0]], ["b", "a"]) if "registrations created" in s]
        assert f"{level:.0%}" in sentence
        assert ("indistinguishable" in sentence) is (level == 0.99)


def test_the_attempts_log_axis_labels_small_shares_with_their_digits() -> None:
    assert [_log_percent(v) for v in (1.0, 0.1, 0.01, 0.001, 0.0001)] == ["100%", "10%", "1%", "0.1%", "0.01%"]


def test_the_page_opens_with_the_decision_and_sorts_rows_by_it(tmp_path: Path) -> None:
    """A disaster listed first still comes last, marked † like the console marks it, with no star in any column;
    the "#" column counts the rows as they stand."""
    import re

    from reports import write_report

    loses = make_run(tmp_path, "none", policy="none", dead_share=0.8, slowdown=1)
    keeps = make_run(tmp_path, "exponential", policy="exponential", dead_share=0.0, slowdown=3)
    html = write_report([loses, keeps], tmp_path / "cmp").read_text(encoding="utf-8")
    assert html.index('id="decision"') < html.index('id="headline"')
    decision = html[html.index('id="decision"'):html.index("</section>", html.index('id="decision"'))]
    assert "1 of 2 variants lost registrations" in decision and "none (" in decision
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    rows = body.split("<tr>")[1:]
    assert [re.search(r'class="rank">(\d+)<', row).group(1) for row in rows] == ["1", "2"]  # type: ignore[union-attr]
    assert "exponential" in rows[0] and "none †" in rows[1] and 'class="best"' not in rows[1]
