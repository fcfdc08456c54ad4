"""Uncertain inputs: a scenario's ``[uncertain]`` section maps dotted scenario keys to distributions, and each
replication draws every key once. Pure (numpy + scipy.stats); the rng is passed in.

```toml
[uncertain]
"workload.rate" = { dist = "triangular", low = 80, mode = 120, high = 200 }
"dataverse.latency.write.median" = { dist = "uniform", low = "40ms", high = "120ms" }
"api.cache_ttl" = { dist = "choice", values = ["5m", "10m"], weights = [0.3, 0.7] }
```

Distributions: ``uniform(low, high)``, ``triangular(low, mode, high)``, ``normal(mean, sd)``,
``lognormal(median, p95)`` and ``choice(values, weights)``. Duration keys take durations with units. An
integer key draws uniformly over the integers low..high: a uniform or triangular is spread over [low, high + 1)
(a triangular's mode + 0.5) and floored, so every integer owns an equal slice and the strata are kept; a normal
or lognormal is rounded to the nearest integer. ``low == high`` is that value, every time.
Every draw is the inverse CDF (scipy's ``ppf``) of a point in [0, 1): Latin hypercube
points (``sampling = "lhs"``, scipy.stats.qmc) put exactly one of N replications in each of a key's N
equal-probability strata; ``"random"`` draws the points independently.

Errors::

    UncertainError      (a ScenarioError) one line: the file, the key, what is wrong and a good example
"""

from __future__ import annotations

import difflib
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError
from scipy import stats
from scipy.stats import qmc

from simulator.scenario import DURATION_EXAMPLE, Scenario, ScenarioError, format_duration, parse_duration_s

__all__ = ["DISTRIBUTIONS", "SAMPLINGS", "Uncertain", "UncertainError", "parse_uncertain", "draw", "points",
           "apply_draw", "drawn_scenarios", "check_not_uncertain", "certain_by_set", "central_values",
           "at_central_values"]

DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "p95"),
    "choice": ("values", "weights"),
}
SAMPLINGS = ("lhs", "random")
Kind = Literal["int", "float", "duration", "other"]
_EXAMPLE = '"workload.rate" = { dist = "triangular", low = 80, mode = 120, high = 200 }'


class UncertainError(ScenarioError):
    """An ``[uncertain]`` entry is invalid, or a draw makes the scenario invalid."""


@dataclass(frozen=True)
class Uncertain:
    """One uncertain key: its distribution (parameters in the key's own unit: seconds for durations) and the
    key's kind, which decides how a draw is written into the scenario."""

    key: str
    dist: str
    params: tuple[tuple[str, Any], ...]
    kind: Kind

    def param(self, name: str) -> Any:
        return dict(self.params)[name]

    def ppf(self, u: np.ndarray) -> list[Any]:
        """The draws at points ``u`` in [0, 1): the distribution's inverse CDF, rounded for integer keys."""
        if self.dist == "choice":
            values, weights = self.param("values"), np.asarray(self.param("weights"), dtype=float)
            cumulative = np.cumsum(weights / weights.sum())
            index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(values) - 1)
            return [values[i] for i in index]
        p = dict(self.params)
        if self.dist in ("uniform", "triangular") and p["low"] == p["high"]:
            return [int(p["low"]) if self.kind == "int" else float(p["low"])] * len(u)  # a constant
        if self.kind == "int" and self.dist in ("uniform", "triangular"):
            # Each integer in [low, high] owns the unit interval [k, k + 1): draw over [low, high + 1) and
            # floor, so the end values are as likely as the inner ones and every stratum stays in its integer.
            spread = self.frozen(integer_span=True).ppf(u)
            return [min(int(math.floor(float(x))), int(p["high"])) for x in spread]
        drawn = self.frozen().ppf(u)
        if self.kind == "int":
            return [int(round(float(x))) for x in drawn]  # unbounded (normal, lognormal): the nearest integer
        return [float(x) for x in drawn]

    def frozen(self, integer_span: bool = False) -> Any:
        """The scipy.stats frozen distribution (not for ``choice``); ``integer_span``: a uniform or triangular
        stretched to [low, high + 1) (mode + 0.5), whose floor is the integer draw."""
        p = dict(self.params)
        if integer_span:
            p = {**p, "high": p["high"] + 1, **({"mode": p["mode"] + 0.5} if "mode" in p else {})}
        if self.dist == "uniform":
            return stats.uniform(loc=p["low"], scale=p["high"] - p["low"])
        if self.dist == "triangular":
            width = p["high"] - p["low"]
            return stats.triang(c=(p["mode"] - p["low"]) / width if width else 0.5, loc=p["low"], scale=width)
        if self.dist == "normal":
            return stats.norm(loc=p["mean"], scale=p["sd"])
        # lognormal from its median and 95th percentile: sigma = ln(p95 / median) / z(0.95)
        sigma = math.log(p["p95"] / p["median"]) / float(stats.norm.ppf(0.95))
        return stats.lognorm(s=sigma, scale=p["median"])

    def central(self) -> tuple[Any, str]:
        """The distribution's central value and what it is: the median (the draw at 0.5), or for a choice the
        mode (the value of the largest weight, the first on a tie)."""
        if self.dist == "choice":
            return self.param("values")[int(np.argmax(self.param("weights")))], "mode"
        return self.ppf(np.array([0.5]))[0], "median"

    def describe(self) -> str:
        shown = {k: (format_duration(v) if self.kind == "duration" and isinstance(v, float) else v)
                 for k, v in self.params}
        return f"{self.dist}(" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"


# --- parsing ------------------------------------------------------------------------------------------------


def _field_kind(key: str, source: str) -> Kind:
    """Walk the Scenario model along ``key``; the kind of the value it names, or UncertainError."""
    model: type[BaseModel] = Scenario
    parts = key.split(".")
    for depth, part in enumerate(parts):
        fields = {field.alias or name: field for name, field in model.model_fields.items()}  # quiet's from/to
        if part not in fields or part == "uncertain":
            known = [f for f in fields if f != "uncertain"]
            close = difflib.get_close_matches(part, known, n=1)
            prefix = ".".join(parts[:depth])
            hint = (f'did you mean "{".".join([*parts[:depth], close[0]])}"?' if close
                    else f"known keys{' in ' + prefix if prefix else ''}: {', '.join(known)}")
            raise UncertainError(f'{source}: [uncertain] "{key}" is not a scenario key — {hint}')
        field = fields[part]
        annotation = field.annotation
        subs = [a for a in (annotation, *typing.get_args(annotation))
                if isinstance(a, type) and issubclass(a, BaseModel)]
        sub = subs[0] if subs else None
        if depth < len(parts) - 1:
            if sub is None or typing.get_origin(annotation) is list:
                raise UncertainError(f'{source}: [uncertain] "{key}": {".".join(parts[:depth + 1])} is a value or '
                                     f'a list, not a section — name one value, e.g. "workload.rate"')
            # a union of sections (a latency's distributions): the one that has the next key
            model = next((m for m in subs if parts[depth + 1] in m.model_fields), sub)
            continue
        if sub is not None:
            raise UncertainError(f'{source}: [uncertain] "{key}" is a section — name one value in it, e.g. '
                                 f'"{key}.{next(iter(sub.model_fields))}"')
        if any(getattr(m, "func", None) is parse_duration_s for m in field.metadata):
            return "duration"
        if annotation is bool:
            return "other"
        if annotation is int:
            return "int"
        if annotation is float:
            return "float"
        return "other"
    raise AssertionError("unreachable")  # pragma: no cover


def _number(value: Any, kind: Kind, where: str) -> float:
    if kind == "duration":
        try:
            return parse_duration_s(value)
        except ValueError:
            raise UncertainError(f"{where} = {value!r} — expected {DURATION_EXAMPLE}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UncertainError(f"{where} = {value!r} — expected a number like 120")
    return float(value)


def _parse_entry(key: str, spec: Any, source: str) -> Uncertain:
    where = f'{source}: [uncertain] "{key}"'
    if not isinstance(spec, dict) or "dist" not in spec:
        raise UncertainError(f"{where} — expected a table with dist, e.g. {_EXAMPLE}")
    dist = spec["dist"]
    if dist not in DISTRIBUTIONS:
        close = difflib.get_close_matches(str(dist), DISTRIBUTIONS, n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        raise UncertainError(f"{where}: dist = {dist!r} is not a distribution — {hint}expected one of "
                             f"{', '.join(DISTRIBUTIONS)}")
    kind = _field_kind(key, source)
    names = DISTRIBUTIONS[dist]
    unknown = sorted(set(spec) - {"dist", *names})
    required = [n for n in names if n not in spec and not (dist == "choice" and n == "weights")]
    usage = f"{dist}({', '.join(names)})"
    if unknown or required:
        problem = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(required)}"
        raise UncertainError(f"{where}: {problem} — {dist} takes {', '.join(names)}, e.g. {_EXAMPLE}")
    if dist == "choice":
        return _parse_choice(key, spec, kind, where)
    if kind not in ("int", "float", "duration"):
        raise UncertainError(f"{where}: {usage} needs a numeric key, and {key} is not one — use "
                             f'dist = "choice", e.g. {{ dist = "choice", values = [...] }}')
    params = {n: _number(spec[n], kind, f"{where}.{n}") for n in names}
    if dist in ("uniform", "triangular"):
        low, high = params["low"], params["high"]
        if low > high:
            raise UncertainError(f"{where}: low ({spec['low']}) > high ({spec['high']}) — swap them")
        if dist == "triangular" and not low <= params["mode"] <= high:
            raise UncertainError(f"{where}: mode ({spec['mode']}) must lie within low..high "
                                 f"({spec['low']}..{spec['high']})")
    elif dist == "normal":
        if params["sd"] <= 0:
            raise UncertainError(f"{where}: sd ({spec['sd']}) must be > 0, e.g. sd = 10")
    elif not 0 < params["median"] < params["p95"]:
        raise UncertainError(f"{where}: lognormal needs 0 < median < p95 (got median {spec['median']}, "
                             f"p95 {spec['p95']})")
    return Uncertain(key, dist, tuple(params.items()), kind)


def _parse_choice(key: str, spec: dict[str, Any], kind: Kind, where: str) -> Uncertain:
    values = spec["values"]
    if not isinstance(values, list) or not values:
        raise UncertainError(f'{where}: values must be a non-empty list, e.g. values = ["5m", "10m"]')
    weights = spec.get("weights", [1.0] * len(values))
    if (not isinstance(weights, list) or len(weights) != len(values)
            or any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights)
            or sum(weights) <= 0):
        raise UncertainError(f"{where}: weights must be {len(values)} non-negative numbers, one per value, "
                             "not all 0, e.g. weights = [0.3, 0.7]")
    if kind == "duration":
        values = [_number(v, kind, f"{where}.values") for v in values]
    elif kind in ("int", "float"):
        values = [_number(v, kind, f"{where}.values") for v in values]
        values = [int(v) if kind == "int" and float(v).is_integer() else v for v in values]
    return Uncertain(key, "choice", (("values", tuple(values)), ("weights", tuple(float(w) for w in weights))),
                     kind)


def parse_uncertain(scenario: Scenario, source: str) -> list[Uncertain]:
    """The scenario's ``[uncertain]`` entries in file order; UncertainError (one line) on the first bad one."""
    return [_parse_entry(key, spec, source) for key, spec in scenario.uncertain.items()]


# --- drawing ------------------------------------------------------------------------------------------------


def points(n: int, dims: int, sampling: str, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in [0, 1)^dims: a Latin hypercube (one point per 1/n stratum in every dimension), or
    independent uniforms."""
    if sampling not in SAMPLINGS:
        raise UncertainError(f"--sampling {sampling!r}: expected one of {', '.join(SAMPLINGS)}")
    if dims == 0:
        return np.zeros((n, 0))
    if sampling == "lhs":
        return np.asarray(qmc.LatinHypercube(d=dims, rng=rng).random(n))
    return rng.random((n, dims))


def draw(entries: list[Uncertain], n: int, sampling: str, rng: np.random.Generator,
         blocks: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One ``{key: value}`` per replication (n of them), values in the key's unit (seconds for durations).
    ``blocks`` (sizes summing to n): each block's points are a design of their own — with ``lhs``, a Latin
    hypercube per block, for a run that may stop after any block."""
    sizes = list(blocks) if blocks is not None else [n]
    if sum(sizes) != n:
        raise ValueError(f"blocks {sizes} do not add up to {n}")
    u = np.concatenate([points(size, len(entries), sampling, rng) for size in sizes])
    columns = [entry.ppf(u[:, j]) for j, entry in enumerate(entries)]
    return [{entry.key: columns[j][i] for j, entry in enumerate(entries)} for i in range(n)]


def apply_draw(scenario: Scenario, drawn: dict[str, Any], source: str, replication: int) -> Scenario:
    """``scenario`` with the drawn values in place, validated like any scenario; a draw outside a key's valid
    range (a normal's tail below 0, say) is refused naming the key."""
    if not drawn:
        return scenario
    raw = scenario.model_dump()
    for key, value in drawn.items():
        node = raw
        *sections, last = key.split(".")
        for part in sections:
            node = node[part]
        node[last] = value
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:  # the drawn value broke a constraint of the key (or of its section)
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        key = where if where in drawn else next(iter(drawn))
        message = str(first.get("msg", exc)).removeprefix("Value error, ")
        raise UncertainError(f'{source}: [uncertain] "{key}" drew {drawn.get(key, "?")!r} in replication '
                             f"{replication + 1}, outside the key's valid range ({message}) — narrow the "
                             "distribution or use a bounded one (uniform, triangular, lognormal)") from None


def check_not_uncertain(keys: list[str], entries: list[Uncertain], option: str) -> None:
    """A key that is both searched or varied (``option``) and uncertain would have its value drawn over."""
    for key in keys:
        if any(entry.key == key for entry in entries):
            raise UncertainError(f"{option} {key}: {key} is also in [uncertain] — vary it or draw it, not both "
                                 f"(remove it from one)")


def _value_at(scenario: Scenario, key: str) -> Any:
    node: Any = scenario.model_dump(by_alias=True)
    for part in key.split("."):
        node = node[part]
    return node


def _shown(key: str, value: Any) -> str:
    if _field_kind(key, "") == "duration" and isinstance(value, int | float):
        return format_duration(float(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def certain_by_set(scenario: Scenario, overrides: Sequence[str]) -> tuple[Scenario, dict[str, dict[str, Any]]]:
    """A ``--set`` on a key that ``[uncertain]`` draws makes that key certain for the run: the scenario without
    those entries, and each such key's value set (``{"value": in the key's unit, seconds for durations,
    "shown": as a person reads it}``)."""
    set_keys = {item.partition("=")[0].strip() for item in overrides}
    certain = {key: {"value": (value := _value_at(scenario, key)), "shown": _shown(key, value)}
               for key in scenario.uncertain if key in set_keys}
    if not certain:
        return scenario, {}
    kept = {key: spec for key, spec in scenario.uncertain.items() if key not in certain}
    return scenario.model_copy(update={"uncertain": kept}), certain


def central_values(entries: Sequence[Uncertain]) -> dict[str, dict[str, Any]]:
    """Each key's central value (``{"value": ..., "shown": ..., "statistic": "median" | "mode"}``): what one
    replication of an uncertain scenario runs, rather than one random draw."""
    return {entry.key: {"value": (central := entry.central())[0], "shown": _shown(entry.key, central[0]),
                        "statistic": central[1]} for entry in entries}


def at_central_values(scenario: Scenario, central: dict[str, dict[str, Any]], source: str) -> Scenario:
    """``scenario`` run at the central values (:func:`central_values`), with no ``[uncertain]`` left to draw."""
    return apply_draw(scenario.model_copy(update={"uncertain": {}}),
                      {key: c["value"] for key, c in central.items()}, source, 0)


def drawn_scenarios(scenario: Scenario, entries: list[Uncertain], n: int, sampling: str,
                    rng: np.random.Generator, source: str) -> tuple[list[Scenario], list[dict[str, Any]]]:
    """The n drawn scenarios (all validated before anything runs) and the drawn values of each."""
    values = draw(entries, n, sampling, rng)
    return [apply_draw(scenario, v, source, i) for i, v in enumerate(values)], values
