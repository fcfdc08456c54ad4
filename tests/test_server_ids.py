"""Submission ids: RFC 9562 version-7 UUIDs, unique, in the order they were drawn (the store's id index then
grows at its end), and that order survives a clock set back."""

from __future__ import annotations

import uuid

import pytest

from simulator.server import ids
from simulator.server.ids import SubmissionIds


def test_ids_are_version_7_uuids_unique_and_in_the_order_drawn() -> None:
    source = SubmissionIds()
    drawn = [source.next() for _ in range(1000)]
    parsed = [uuid.UUID(i) for i in drawn]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 and str(u) == i
               for u, i in zip(parsed, drawn, strict=True))
    assert len(set(drawn)) == len(drawn)
    timestamps = [u.int >> 80 for u in parsed]  # the first 48 bits: milliseconds
    assert timestamps == sorted(timestamps)


def test_a_clock_set_back_does_not_reorder_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    source = SubmissionIds()
    monkeypatch.setattr(ids.time, "time_ns", lambda: 2_000_000_000_000_000_000)
    later = source.next()
    monkeypatch.setattr(ids.time, "time_ns", lambda: 1_000_000_000_000_000_000)  # an hour-long jump back
    after = source.next()
    assert uuid.UUID(after).int >> 80 == uuid.UUID(later).int >> 80 == 2_000_000_000_000
