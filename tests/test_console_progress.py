"""Progress bars with known totals: plan's probes and conform's scenarios count up to a stated total, never
"0/None", and an estimated total is never overshot."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from conformance.generate import CONTRACT_PATH
from conformance.runner import contract_operations
from simulator.sweep import parse_search
from stampede import conform_cmd, console


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    screen = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=screen, force_terminal=True, width=100))
    return screen


def test_a_count_bar_stops_at_its_total(terminal: io.StringIO) -> None:
    with console.count_progress("probes", 3) as advance:
        for _ in range(5):
            advance()
    shown = terminal.getvalue()
    assert "3/3" in shown and "4/3" not in shown and "5/3" not in shown and "None" not in shown


def test_a_bar_without_a_total_counts_up_and_never_prints_none(terminal: io.StringIO) -> None:
    with console.count_progress("steps", None) as advance:
        for _ in range(3):
            advance()
    frames = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", frame) for frame in terminal.getvalue().split("\r")]
    last = [frame for frame in frames if "steps" in frame][-1]  # the bar's final frame, before it is cleared
    assert re.search(r"steps ━+ 3 \d:\d\d:\d\d", last), last
    assert "None" not in terminal.getvalue() and "/" not in last


def test_without_a_terminal_a_count_without_a_total_says_how_many_are_done(
        monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=log, force_terminal=False, width=100))
    monkeypatch.setattr(console, "LINE_EVERY_S", 0.0)
    with console.count_progress("steps", None) as advance:
        advance()
        advance()
    assert log.getvalue().splitlines() == ["  steps: 1 done", "  steps: 2 done"]


def test_conform_counts_three_phases_per_operation_and_the_stateful_run() -> None:
    operations = contract_operations(json.loads(CONTRACT_PATH.read_text(encoding="utf-8")))
    assert len(operations) == 19
    assert conform_cmd._scenario_count(CONTRACT_PATH) == 19 * 3 + 1


@pytest.mark.parametrize(("search", "tolerance", "probes"), [
    ("dataverse.app_users=1..16", None, 5), ("dataverse.app_users=3..3", None, 1),
    ("retry.cap=1m..10m", "30s", 2 + 5), ("retry.base=1..1", None, 1),
])
def test_plan_knows_how_many_probes_it_may_run(search: str, tolerance: str | None, probes: int) -> None:
    assert parse_search(search, tolerance).max_probes == probes
