"""An independent ledger of a run: each submission's terminal state read from its own ``submissions.csv`` row.

The summary's ``pending`` is the recorder's accepted − created − dead-lettered, so a check of
accepted = created + dead-lettered + pending against it cannot fail. Here every figure is counted from the rows
as the run directory holds them (the CSV text, parsed back), and each row is checked on its own: an accepted
row is created (with a time), dead-lettered (with a time and a reason) or still pending; a rejected row was
never accepted. The tests compare these counts with the summary, and ask for no pending row where the run was
long enough for every registration to end.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from typing import Any

from simulator.records import submissions_csv


def _seconds(cell: str) -> float:
    return float(cell) if cell else math.nan


def ledger(recorder: Any) -> Counter[str]:
    """Counts by terminal state (``offered``, ``accepted``, ``rejected``, ``created``, ``dead_lettered``,
    ``pending``) from the rows of ``submissions.csv``; raises AssertionError on a row that contradicts itself."""
    counts: Counter[str] = Counter()
    for row in csv.DictReader(io.StringIO(submissions_csv(recorder))):
        outcome = row["outcome"]
        offered_s, accepted_s = _seconds(row["offered_s"]), _seconds(row["accepted_s"])
        created_s, dead_s = _seconds(row["created_s"]), _seconds(row["dead_lettered_s"])
        counts["offered"] += 1
        assert math.isfinite(offered_s), row
        if outcome == "rejected":
            assert math.isnan(accepted_s) and math.isnan(created_s) and math.isnan(dead_s) and row["reason"], row
        else:
            assert accepted_s >= offered_s, row
            counts["accepted"] += 1
            if outcome == "created":
                assert created_s >= accepted_s and math.isnan(dead_s), row
            elif outcome == "dead_lettered":
                assert dead_s >= accepted_s and math.isnan(created_s) and row["reason"], row
            else:
                assert outcome == "pending" and math.isnan(created_s) and math.isnan(dead_s), row
        counts[outcome] += 1
    return counts


def assert_ledger_matches(summary: dict[str, Any], recorder: Any) -> Counter[str]:
    """The summary's submission counts are the rows' counts, figure by figure; returns the ledger."""
    counts = ledger(recorder)
    figures = ("offered", "accepted", "rejected", "created", "dead_lettered", "pending")
    assert {name: summary["submissions"][name] for name in figures} == {name: counts[name] for name in figures}
    assert sum(summary["dead_letter_reasons"].values()) == counts["dead_lettered"]
    return counts


def assert_every_registration_ended(summary: dict[str, Any], recorder: Any) -> Counter[str]:
    """As :func:`assert_ledger_matches`, and no accepted registration is still pending: each was created or
    dead-lettered with a reason."""
    counts = assert_ledger_matches(summary, recorder)
    assert counts["pending"] == 0, f"{counts['pending']} of {counts['accepted']} accepted registrations pending"
    assert counts["accepted"] == counts["created"] + counts["dead_lettered"]
    return counts
