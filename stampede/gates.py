"""``--fail-on EXPR``: a gate for CI, in the language of ``--slo`` (``PATH OP THRESHOLD`` over summary.json,
durations where the figure is a time). The command exits 1 when a gate holds. Over a comparison's variants
a gate may say ``any:`` (the default: it holds for some variant) or ``all:`` (it holds for every one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import typer

from simulator.sweep import Slo, SweepError, parse_slo

__all__ = ["FailOn", "Gate", "enforce", "parse_gates", "tripped"]

FailOn = typer.Option(help='Exit 1 when this holds over summary.json, e.g. "time_to_created_s.p95>20m" or '
                           '"submissions.dead_lettered>0" (repeatable; the --slo language). Over compare\'s '
                           'variants: "any:EXPR" (default) or "all:EXPR".')


@dataclass(frozen=True)
class Gate:
    mode: Literal["any", "all"]
    slo: Slo

    def __str__(self) -> str:
        return f"{self.mode}:{self.slo}"


def parse_gates(texts: Sequence[str] | None) -> list[Gate]:
    """SweepError (naming --fail-on) for a malformed expression."""
    gates = []
    for text in texts or []:
        mode, sep, expression = text.partition(":")
        if not sep or mode.strip() not in ("any", "all"):
            mode, expression = "any", text
        try:
            gates.append(Gate("all" if mode.strip() == "all" else "any", parse_slo(expression.strip())))
        except SweepError as exc:
            raise SweepError(str(exc).replace("--slo", "--fail-on")) from None
    return gates


def tripped(gates: Sequence[Gate], summaries: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """One line per gate that holds: the gate and the variants it holds for (``summaries``: label, summary)."""
    lines = []
    for gate in gates:
        try:
            holding = [label for label, summary in summaries if gate.slo.holds(summary)]
        except SweepError as exc:
            raise SweepError(str(exc).replace("--slo", "--fail-on")) from None
        if (gate.mode == "any" and holding) or (gate.mode == "all" and holding and len(holding) == len(summaries)):
            where = f" ({', '.join(holding)})" if len(summaries) > 1 else ""
            lines.append(f"{gate.slo if len(summaries) == 1 else gate}{where}")
    return lines


def enforce(gates: Sequence[Gate], summaries: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Say which gates hold, in one line on stderr, and exit 1 if any does (a path summary.json lacks: exit 2)."""
    from stampede import console

    try:
        held = tripped(gates, summaries)
    except SweepError as exc:
        console.fail(str(exc))
    if held:
        console.err.print(f"--fail-on: {'; '.join(held)}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(1)
