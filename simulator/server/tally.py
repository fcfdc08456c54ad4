"""What the store holds, counted by the model thread as it writes, so the event loop never reads SQLite.

The live model's journal writes happen on the model thread; after each one it updates a :class:`StoreTally`.
HTTP handlers read it from the event loop without a lock and without touching SQLite: a per-event count is
one dict lookup, and the totals are one immutable :class:`StoredTotals` replaced whole (a snapshot: its numbers
always belong together). The tally starts from the store's own counts when the model starts, so it is
all-time, like the store; ``created_here``/``dead_lettered_here`` say what this process settled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

__all__ = ["StoreTally", "StoredTotals"]


@dataclass(frozen=True, slots=True)
class StoredTotals:
    """Submissions in the store (all-time) and what this process settled; ``pending`` is what a restart resumes."""

    submissions: int = 0  # every submission stored, in any state
    created: int = 0
    dead_lettered: int = 0
    created_here: int = 0  # of ``created``, those this process wrote (resumed ones included)
    dead_lettered_here: int = 0

    @property
    def pending(self) -> int:
        return self.submissions - self.created - self.dead_lettered


class StoreTally:
    """Counts kept by the one thread that writes the store; read from any thread."""

    def __init__(self, by_state: Mapping[str, int], registrations: Mapping[str, int],
                 session_registrations: Mapping[str, int], passes_sold: Mapping[str, int] | None = None) -> None:
        self.totals = StoredTotals(submissions=sum(by_state.values()), created=by_state.get("created", 0),
                                   dead_lettered=by_state.get("dead_lettered", 0))
        self.registrations: Counter[str] = Counter(registrations)  # event id -> event registrations stored
        self.session_registrations: Counter[str] = Counter(session_registrations)
        self.passes_sold: Counter[str] = Counter(passes_sold or {})  # pass id -> confirmed purchases' attendees

    # --- the writer (model thread) ---------------------------------------------------------------------------
    def accepted(self, new: int) -> None:
        if new:
            self.totals = replace(self.totals, submissions=self.totals.submissions + new)

    def created(self, event_id: str, registrations: int, session_ids: Iterable[str]) -> None:
        """One submission marked created, with the registrations it wrote (none for a repeat)."""
        if registrations:
            self.registrations[event_id] += registrations
        for session_id in session_ids:
            self.session_registrations[session_id] += 1
        totals = self.totals
        self.totals = replace(totals, created=totals.created + 1, created_here=totals.created_here + 1)

    def sold(self, pass_ids: Iterable[str]) -> None:
        """A purchase was confirmed: its attendees' passes are sold."""
        self.passes_sold.update(pass_ids)

    def dead_lettered(self) -> None:
        totals = self.totals
        self.totals = replace(totals, dead_lettered=totals.dead_lettered + 1,
                              dead_lettered_here=totals.dead_lettered_here + 1)

    # --- readers (any thread: one lookup, or one snapshot) -----------------------------------------------------
    def registration_count(self, event_id: str) -> int:
        return self.registrations.get(event_id, 0)

    def session_registration_count(self, session_id: str) -> int:
        return self.session_registrations.get(session_id, 0)

    def passes_sold_count(self, pass_id: str) -> int:
        return self.passes_sold.get(pass_id, 0)
