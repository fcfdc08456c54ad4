"""[uncertain] inputs: parsing, drawing, and every bad entry refused in one line before anything runs."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simulator.scenario import parse_scenario
from simulator.uncertain import UncertainError, apply_draw, draw, parse_uncertain

ROOT = Path(__file__).resolve().parents[1]
STAMPEDE = Path(sys.executable).with_name("stampede")
BASE = """
name = "u"
horizon = "10m"
[catalog]
events = 1
capacity = 0
[workload]
shape = "constant"
rate = 1
duration = "1m"
[uncertain]
"""


def _entries(spec: dict) -> list:
    return parse_uncertain(parse_scenario({"uncertain": spec}), "x.toml")


def test_durations_take_units_and_integer_keys_are_rounded() -> None:
    entries = _entries({
        "dataverse.latency.write.median": {"dist": "uniform", "low": "40ms", "high": "120ms"},
        "dataverse.app_users": {"dist": "uniform", "low": 1, "high": 4},
        "api.cache_ttl": {"dist": "choice", "values": ["5m", "10m"], "weights": [0.3, 0.7]},
    })
    drawn = draw(entries, 200, "random", np.random.default_rng(1))
    medians = [d["dataverse.latency.write.median"] for d in drawn]
    assert min(medians) >= 0.040 and max(medians) <= 0.120
    assert {type(d["dataverse.app_users"]) for d in drawn} == {int}
    # 200 independent draws over 4 equally likely integers: each count is Binomial(200, 1/4) = 50 ± 6.1; the
    # band 25..75 is ±4 sd, so it fails by chance about once in 16,000 runs (and the seed is fixed).
    counts = Counter(d["dataverse.app_users"] for d in drawn)
    assert set(counts) == {1, 2, 3, 4} and all(25 <= c <= 75 for c in counts.values())
    ttls = [d["api.cache_ttl"] for d in drawn]
    assert set(ttls) == {300.0, 600.0} and 0.55 < ttls.count(600.0) / 200 < 0.85  # weight 0.7; ±4 sd
    scenario = apply_draw(parse_scenario({}), drawn[0], "x.toml", 0)
    assert scenario.api.cache_ttl == drawn[0]["api.cache_ttl"]


@pytest.mark.parametrize("dist", [{"dist": "uniform", "low": 1, "high": 4},
                                  {"dist": "triangular", "low": 1, "mode": 2.5, "high": 4}])
def test_integer_draws_are_uniform_over_the_integers_and_keep_the_strata(dist: dict) -> None:
    # The case: uniform(1, 4) over 4,000 Latin-hypercube draws. Each integer owns a quarter of the
    # probability (the draw is floored over [low, high + 1)), so the strata give exactly 1,000 each; the
    # symmetric triangular gives each integer its exact share of the probability, to the stratum.
    [entry] = _entries({"dataverse.app_users": dist})
    drawn = [d["dataverse.app_users"] for d in draw([entry], 4000, "lhs", np.random.default_rng(5))]
    counts = Counter(drawn)
    if dist["dist"] == "uniform":
        assert counts == {1: 1000, 2: 1000, 3: 1000, 4: 1000}
    else:
        shares = np.diff(stats.triang(c=0.5, loc=1, scale=4).cdf([1, 2, 3, 4, 5]))
        assert all(abs(counts[k] - 4000 * shares[k - 1]) <= 1 for k in (1, 2, 3, 4))


@pytest.mark.parametrize("key", ["dataverse.app_users", "workload.rate", "retry.base"])
def test_low_equal_to_high_is_a_constant(key: str) -> None:
    value = "2s" if key == "retry.base" else 3
    [entry] = _entries({key: {"dist": "uniform", "low": value, "high": value}})
    drawn = {d[key] for d in draw([entry], 20, "lhs", np.random.default_rng(1))}
    assert drawn == {2.0 if key == "retry.base" else 3}


def test_lognormal_has_the_given_median_and_p95() -> None:
    [entry] = _entries({"workload.rate": {"dist": "lognormal", "median": 100, "p95": 180}})
    assert entry.frozen().median() == pytest.approx(100) and entry.frozen().ppf(0.95) == pytest.approx(180)


def test_random_and_lhs_differ_but_each_is_reproducible() -> None:
    entries = _entries({"workload.rate": {"dist": "uniform", "low": 1, "high": 2}})
    first = draw(entries, 5, "lhs", np.random.default_rng(3))
    assert first == draw(entries, 5, "lhs", np.random.default_rng(3))
    assert first != draw(entries, 5, "random", np.random.default_rng(3))


BAD = [
    ('"workload.rat" = { dist = "uniform", low = 1, high = 2 }', ['"workload.rat"', 'did you mean "workload.rate"']),
    ('"workload.rate" = { dist = "gaussian", mean = 1, sd = 2 }',
     ['"workload.rate"', "gaussian", "uniform, triangular, normal, lognormal, choice"]),
    ('"workload.rate" = { dist = "uniform", low = 200, high = 80 }', ['"workload.rate"', "low (200) > high (80)"]),
    ('"retry.policy" = { dist = "uniform", low = 1, high = 2 }',
     ['"retry.policy"', "numeric key", 'dist = "choice"']),
    ('"api.processors" = { dist = "normal", mean = 2, sd = 40 }',
     ['"api.processors"', "outside the key's valid range", "bounded one"]),
    ('"retry.base" = { dist = "uniform", low = "2 sec", high = "5s" }',
     ['"retry.base".low', "'2 sec'", "a duration like"]),
    ('"workload.rate" = { dist = "triangular", low = 1, high = 2 }', ['"workload.rate"', "missing mode"]),
]


@pytest.mark.slow  # stampede in a subprocess, per entry
@pytest.mark.parametrize(("entry", "expected"), BAD, ids=[b[0].split("=")[0].strip() + "-" + str(i)
                                                         for i, b in enumerate(BAD)])
def test_each_bad_entry_is_refused_in_one_line_and_nothing_runs(tmp_path: Path, entry: str,
                                                              expected: list[str]) -> None:
    path = tmp_path / "u.toml"
    path.write_text(BASE + entry + "\n")
    out = tmp_path / "run"
    result = subprocess.run([str(STAMPEDE), "simulate", str(path), "--out", str(out), "--replications", "5",
                             "--workers", "1"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{path}: [uncertain]" in lines[0]
    for text in expected:
        assert text in lines[0], lines[0]
    assert not out.exists()


def test_a_bad_entry_is_refused_by_the_parser_too() -> None:
    with pytest.raises(UncertainError, match="is a section"):
        _entries({"dataverse.latency": {"dist": "uniform", "low": 1, "high": 2}})
    with pytest.raises(UncertainError, match="mode"):
        _entries({"workload.rate": {"dist": "triangular", "low": 1, "mode": 5, "high": 2}})
