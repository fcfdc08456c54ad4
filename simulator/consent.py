"""Consent under the tenant's default compliance profile, pure: the profile's purposes and the answers an
attendee's ``responses`` carry.

In Customer Insights – Journeys consent is kept per contact point (an email address) and per purpose, in the
``msdynmkt_contactpointconsent4`` table; a compliance profile groups purposes (by default a commercial, a
transactional and a tracking one). An RTM form maps a consent checkbox to the Dataverse field
``msdynmkt_purposeid;channels;optinwhenchecked`` with the value ``"<purpose id>;Email;true"`` (the form-capture
documentation's example). The event API's documentation shows no consent field in ``responses``; the mock
assumes a portal sends the same mapping as a response (sources in scenarios/README.md, ``[registration]``)::

    {"id": "msdynmkt_purposeid;channels;optinwhenchecked", "value": "<purpose id>;Email;true"}

``true`` opts the attendee's email in to that purpose, ``false`` opts it out. Each registration writes one
consent record per purpose of the profile (``registration.consent_purposes``): the answer given, or none when
the attendee gave none for that purpose. An answer naming a purpose the profile does not have, or a value of
another shape, is kept as an ordinary response and writes no consent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CONSENT_FIELD_ID", "CONSENT_TABLE", "purpose_ids", "consent_answers", "consent_response"]

CONSENT_FIELD_ID = "msdynmkt_purposeid;channels;optinwhenchecked"
CONSENT_TABLE = "msdynmkt_contactpointconsent4"
_NAMESPACE = uuid.UUID("8d6f4a2e-3b1c-4f5e-9a7d-2c6b1e0f4a93")  # fixed: purpose ids are the same in every run


def purpose_ids(count: int) -> tuple[str, ...]:
    """The ids of the profile's ``count`` purposes: fixed GUIDs, so a portal can be written against them."""
    return tuple(str(uuid.uuid5(_NAMESPACE, f"purpose-{i + 1}")) for i in range(count))


def consent_response(purpose_id: str, opted_in: bool, channel: str = "Email") -> dict[str, str]:
    """The response an attendee sends to answer one purpose (what a portal puts in ``responses``)."""
    return {"id": CONSENT_FIELD_ID, "value": f"{purpose_id};{channel};{'true' if opted_in else 'false'}"}


def consent_answers(responses: Iterable[Mapping[str, Any]], purposes: Iterable[str]) -> dict[str, bool | None]:
    """For each purpose, the attendee's answer (True opted in, False opted out) or None when none was given;
    the last answer for a purpose wins."""
    answers: dict[str, bool | None] = dict.fromkeys(purposes)
    for response in responses:
        if response.get("id") != CONSENT_FIELD_ID or not isinstance(response.get("value"), str):
            continue
        parts = [part.strip() for part in str(response["value"]).split(";")]
        if len(parts) != 3 or parts[0].lower() not in answers or parts[2].lower() not in ("true", "false"):
            continue
        answers[parts[0].lower()] = parts[2].lower() == "true"
    return answers
