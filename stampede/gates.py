"""``--fail-on EXPR``: a gate for CI, in the language of ``--slo`` (``PATH OP THRESHOLD`` over summary.json,
durations where the figure is a time), on ``simulate``, ``compare``, ``plan`` and ``load``. The command exits 1
when a gate holds, and says so in one line naming the figure it saw. A figure that is null (a percentile not
reached: registrations never created) trips the gate: it is no evidence that the condition does not hold. Over
a comparison's variants a gate may say ``any:`` (the default: it holds for some variant) or ``all:`` (it holds
for every one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import typer

from simulator.sweep import Slo, SweepError, parse_slo
from simulator.units import metric_text

__all__ = ["FailOn", "Gate", "check_paths", "enforce", "parse_gates", "tripped"]

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
    """SweepError (naming --fail-on, with a good example) for a malformed expression."""
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


def check_paths(gates: Sequence[Gate], skeleton: dict[str, Any]) -> None:
    """SweepError (naming --fail-on) for a gate whose path names nothing in ``skeleton`` — a summary with every
    key the run's will have — before anything long runs."""
    for gate in gates:
        try:
            gate.slo.metric(skeleton)
        except SweepError as exc:
            raise SweepError(str(exc).replace("--slo", "--fail-on")) from None


def _trips(slo: Slo, summary: dict[str, Any]) -> bool:
    return slo.metric(summary) is None or slo.holds(summary)  # null: not reached, no evidence it is fine


def tripped(gates: Sequence[Gate], summaries: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """One line per gate that holds: the gate and the figure it saw ("time_to_created_s.p95>20m: 24.1 min"),
    or over variants the ones it holds for (``summaries``: label, summary)."""
    lines = []
    for gate in gates:
        try:
            holding = [(label, summary) for label, summary in summaries if _trips(gate.slo, summary)]
        except SweepError as exc:
            raise SweepError(str(exc).replace("--slo", "--fail-on")) from None
        if not holding or (gate.mode == "all" and len(holding) < len(summaries)):
            continue
        if len(summaries) == 1:
            lines.append(f"{gate.slo}: {metric_text(gate.slo.path, gate.slo.metric(summaries[0][1]))}")
        else:
            lines.append(f"{gate} ({', '.join(label for label, _ in holding)})")
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
