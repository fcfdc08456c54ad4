"""Who counts as the same person: the tenant's matching rule, pure — one key function for the live store and
the simulator's own record of people.

Customer Insights – Journeys processes an event API submission with the default matching rule of its *Event
registration settings* (Settings > Event management). A matching rule's main condition is a direct,
exact query on the attributes it names; no match creates a new record, a match updates it (sources in
scenarios/README.md, ``[registration]``). The rules modelled:

- ``email``: the same email address is the same person. RTM's default for contacts ("Update contact using
  email").
- ``email+name``: email, first name and last name all equal (outbound marketing's default strategy).
- ``none``: never matched; every registration creates a new record. RTM's default for leads ("Always create a
  new record").

Comparisons are case-insensitive (Dataverse's default collation is) and ignore whitespace around an email and
inside it (an address has none), and around and between the words of a name — an assumption for what the
real query does with stray spaces a portal sends.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["MatchingRule", "RULES", "normalize_email", "normalize_name", "person_key", "People"]

MatchingRule = Literal["email", "email+name", "none"]
RULES: tuple[str, ...] = get_args(MatchingRule)
_SEPARATOR = "\x1f"  # a unit separator: no email or name typed into a form contains it


def normalize_email(email: str) -> str:
    """The email as the store keeps and compares it: lower case, no whitespace anywhere."""
    return "".join(email.split()).lower()


def normalize_name(name: str) -> str:
    """A first or last name as compared: lower case, outer whitespace gone, inner runs of it one space."""
    return " ".join(name.split()).lower()


def person_key(rule: str, email: str, first_name: str, last_name: str) -> str | None:
    """The key two attendees share exactly when ``rule`` makes them the same person; None under ``none``
    (nobody is ever matched)."""
    if rule == "email":
        return normalize_email(email)
    if rule == "email+name":
        return _SEPARATOR.join((normalize_email(email), normalize_name(first_name), normalize_name(last_name)))
    if rule == "none":
        return None
    raise ValueError(f"matching rule {rule!r}: expected one of {', '.join(RULES)}")


class People:
    """The people registrations have matched or created so far under one rule (contacts or leads).

    ``match`` returns the person's number and whether the registration created them; under ``none`` every
    registration creates a new person."""

    def __init__(self, rule: str) -> None:
        person_key(rule, "", "", "")  # refuse an unknown rule now, not at the first registration
        self.rule = rule
        self._numbers: dict[str, int] = {}
        self.count = 0

    def match(self, email: str, first_name: str, last_name: str) -> tuple[int, bool]:
        key = person_key(self.rule, email, first_name, last_name)
        if key is not None:
            number = self._numbers.get(key)
            if number is not None:
                return number, False
            self._numbers[key] = self.count
        self.count += 1
        return self.count - 1, True

    def __len__(self) -> int:
        return self.count
