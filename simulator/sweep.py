"""Experiments over scenarios, pure: a grid of ``--vary`` overrides, SLO expressions over summary.json, and
the search for the smallest setting that meets them.

Errors::

    SweepError      base (a ValueError): names the option, the bad text and a good example
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["SweepError", "Vary", "parse_vary", "grid", "Slo", "parse_slo", "Search", "parse_search",
           "smallest_meeting"]


class SweepError(ValueError):
    """A --vary, --slo or --search value is malformed."""


@dataclass(frozen=True)
class Vary:
    key: str
    values: tuple[str, ...]


def parse_vary(text: str) -> Vary:
    """``"retry.policy=none,exponential"`` → Vary("retry.policy", ("none", "exponential"))."""
    key, sep, values = text.partition("=")
    parts = tuple(v.strip() for v in values.split(",") if v.strip())
    if not sep or not key.strip() or not parts:
        raise SweepError(f"--vary {text!r}: expected key=v1,v2[,...], e.g. --vary retry.policy=none,full-jitter")
    return Vary(key.strip(), parts)


def grid(varies: list[Vary]) -> list[list[str]]:
    """Every combination as a list of ``key=value`` overrides (first --vary varies slowest)."""
    return [
        [f"{vary.key}={value}" for vary, value in zip(varies, combo, strict=True)]
        for combo in itertools.product(*(vary.values for vary in varies))
    ]


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}


@dataclass(frozen=True)
class Slo:
    """``path op threshold`` over summary.json, e.g. ``time_to_created_s.p95<=900``."""

    path: str
    op: str
    threshold: float

    def metric(self, summary: dict[str, Any]) -> float:
        node: Any = summary
        for part in self.path.split("."):
            if not isinstance(node, dict) or part not in node:
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "(a value)"
                raise SweepError(f"--slo {self}: summary.json has no {self.path!r} (at {part!r}; known: {known})")
            node = node[part]
        if isinstance(node, bool) or not isinstance(node, int | float):
            raise SweepError(f"--slo {self}: {self.path} is not a number (got {node!r})")
        return float(node)

    def holds(self, summary: dict[str, Any]) -> bool:
        return _OPERATORS[self.op](self.metric(summary), self.threshold)

    def __str__(self) -> str:
        return f"{self.path}{self.op}{self.threshold:g}"


def parse_slo(text: str) -> Slo:
    for op in ("<=", ">=", "==", "!=", "<", ">"):  # two-character operators first
        path, sep, value = text.partition(op)
        if sep:
            try:
                return Slo(path.strip(), op, float(value))
            except ValueError:
                break
    raise SweepError(
        f"--slo {text!r}: expected PATH OP NUMBER over summary.json keys, e.g. \"time_to_created_s.p95<=900\" "
        "or \"submissions.dead_lettered==0\""
    )


@dataclass(frozen=True)
class Search:
    key: str
    low: int
    high: int


def parse_search(text: str) -> Search:
    """``"dataverse.app_users=1..16"`` → Search("dataverse.app_users", 1, 16)."""
    key, sep, span = text.partition("=")
    low, dots, high = span.partition("..")
    try:
        search = Search(key.strip(), int(low), int(high))
    except ValueError:
        search = None
    if not sep or not dots or search is None or not search.key or search.low > search.high:
        raise SweepError(f"--search {text!r}: expected key=LOW..HIGH with whole numbers, "
                         "e.g. --search dataverse.app_users=1..16")
    return search


def smallest_meeting(low: int, high: int, meets: Callable[[int], bool]) -> int | None:
    """The smallest value in [low, high] for which ``meets`` holds, by bisection — which assumes more of the
    searched resource never hurts (true for app users, web servers, processors, limits). None if even
    ``high`` does not meet it."""
    if not meets(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle + 1
    return low
