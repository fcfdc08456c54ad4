"""Bad input is refused with a documented error body and nothing is stored; the inputs accepted on purpose
(non-Latin and 100-character names, unknown fields, a body of exactly the limit) are stored intact.
The cases and the document they generate live in ``tests/bad_input.py``; ``docs/bad-input.md`` must say
exactly what the server answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bad_input import CORRELATION, DOC, Outcome, render, run
from live_support import query

from simulator.server.contract import ErrorBody

pytestmark = pytest.mark.anyio
CATALOG_RULES = {"InvalidSession", "WaitlistNotAvailable", "PassRequired", "InvalidPass", "DuplicateAttendee"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Outcome], list[Outcome], Path]:
    import asyncio

    refused, accepted, mock = asyncio.run(run(tmp_path_factory.mktemp("bad-input")))
    return refused, accepted, mock.db


def test_every_bad_input_is_refused_with_an_error_body_naming_the_problem(
        outcomes: tuple[list[Outcome], list[Outcome], Path]) -> None:
    refused, _, _ = outcomes
    assert len(refused) >= 30
    for outcome in refused:
        case = outcome.case
        assert (outcome.status, outcome.body.get("type")) == (case.status, case.type), (case.title, outcome.body)
        error = ErrorBody.model_validate(outcome.body)  # the one documented shape, every field present
        assert error.statusCode == outcome.status and error.errorMessage == error.Message and error.errorMessage
        if error.type == "InvalidRequestBody":
            assert error.field and error.errors and error.field == error.errors[0].field, case.title
        if error.type in CATALOG_RULES:  # a rule about the catalog names the part of the body it refused
            assert error.field and error.field.startswith("attendees[") and error.errorMessage.startswith(
                error.field), case.title


def test_nothing_refused_is_stored(outcomes: tuple[list[Outcome], list[Outcome], Path]) -> None:
    refused, _, _ = outcomes
    for outcome in refused:
        assert outcome.counts_after == outcome.counts_before, outcome.case.title
    assert refused[-1].counts_after["submissions"] == dict.fromkeys(
        ("accepted", "retrying", "created", "dead_lettered"), 0)


def test_names_in_any_script_up_to_100_characters_are_stored_exactly_as_sent(
        outcomes: tuple[list[Outcome], list[Outcome], Path]) -> None:
    _, accepted, db = outcomes
    assert [o.status for o in accepted] == [202] * len(accepted)
    sent = {a["email"]: (a["firstName"], a["lastName"])
            for o in accepted[:3] for a in json.loads(o.case.content)["attendees"]}
    stored = {email: (first, last) for email, first, last in
              query(db, "SELECT email, first_name, last_name FROM contacts")}
    assert {email: stored[email] for email in sent} == sent
    assert query(db, "SELECT COUNT(*) FROM contacts") == [(8,)]  # the SQL-looking name dropped nothing


def test_unknown_fields_are_accepted_and_not_stored(outcomes: tuple[list[Outcome], list[Outcome], Path]) -> None:
    _, accepted, db = outcomes
    extra = next(o for o in accepted if "extra" in o.case.title)
    (body,), = query(db, "SELECT body FROM submissions WHERE id = ?", (extra.body["submissionId"],))
    assert not {"nickname", "shoeSize", "utm_source"} & set(body.replace('"', " ").split())
    assert json.loads(body)["attendees"][0]["email"] == "extra@contoso.com"


def test_the_document_lists_every_case_with_the_exact_answer(
        outcomes: tuple[list[Outcome], list[Outcome], Path]) -> None:
    refused, accepted, _ = outcomes
    expected = render(refused, accepted)
    assert CORRELATION in expected
    assert DOC.read_text(encoding="utf-8") == expected, "stale: run .venv/bin/python tests/bad_input.py"
