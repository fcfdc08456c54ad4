"""The published contract (``conformance/event-api.openapi.json``): in step with the app, complete, self-consistent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis

from conformance.generate import CONTRACT_PATH, REGENERATE, app_schema, main, render
from conformance.runner import contract_operations
from simulator.scenario import parse_scenario
from simulator.server.openapi import BUSINESS_REFUSALS
from simulator.server.serve import build_served

CONTRACT: dict[str, Any] = json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
OPERATIONS = {op["operationId"]: (path, method, op) for path, methods in CONTRACT["paths"].items()
              for method, op in methods.items()}
RESPONSE_MODELS = ("Event", "Session", "Speaker", "SessionTrack", "Sponsorship", "Pass", "CustomRegistrationField",
                   "Building", "Room", "Image", "User", "RegistrationResult", "PaymentRedirect", "CheckIn", "Captcha",
                   "ErrorBody", "FieldError")


_IMAGE_OPERATIONS = ("publicApiGetEventQrCode", "publicApiGetSponsorshipsLogo", "publicApiGetSpeakerImage")


def _security(op_id: str) -> list[dict[str, list[str]]]:
    """The check-in takes no token; the images take one optionally (an img src sends none); the rest need it."""
    if op_id == "publicApiCreateCheckInAndRedirect":
        return []
    return [{}, {"emApplicationtoken": []}] if op_id in _IMAGE_OPERATIONS else [{"emApplicationtoken": []}]


def test_the_checked_in_contract_is_the_apps_schema() -> None:
    assert CONTRACT_PATH.read_text(encoding="utf-8") == render(app_schema()), (
        f"{CONTRACT_PATH.name} and the server's OpenAPI schema have drifted apart; regenerate it with "
        f"`{REGENERATE}` and commit the file")


def test_the_schema_does_not_depend_on_the_catalog_org_or_token(tmp_path: Path) -> None:
    scenario = parse_scenario({"name": "other", "catalog": {"events": 4, "paid_events": 2, "draft_events": 1}})
    served = build_served(scenario, db_path=tmp_path / "s.db", token="another", org_id="contoso-org",
                          origin="https://contoso.com")
    try:
        assert served.app.openapi() == CONTRACT
    finally:
        served.store.close()


def test_generate_check_reports_drift_and_how_to_fix_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "contract.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert main(["--check", "--out", str(stale)]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert main(["--out", str(stale)]) == 0
    assert main(["--check", "--out", str(stale)]) == 0


def test_openapi_31_with_the_19_operations_and_the_token_scheme() -> None:
    assert CONTRACT["openapi"].startswith("3.1.")
    assert len(OPERATIONS) == 19
    assert CONTRACT["components"]["securitySchemes"]["emApplicationtoken"]["in"] == "query"
    assert CONTRACT["components"]["securitySchemes"]["emApplicationtoken"]["type"] == "apiKey"
    for op_id, (_, _, op) in OPERATIONS.items():
        assert op["security"] == _security(op_id), op_id
    schema = schemathesis.openapi.from_dict(CONTRACT)
    loaded = list(schema.get_all_operations())
    assert len(loaded) == 19 and all(result.ok() for result in loaded)


@pytest.mark.parametrize("op_id", sorted(OPERATIONS))
def test_every_operation_documents_every_answer_it_can_give(op_id: str) -> None:
    _, method, op = OPERATIONS[op_id]
    statuses = set(op["responses"])
    errors = {"400", "403", "404", "429", "503"} | ({"401"} if op["security"] else set())
    if method == "post":
        errors |= {"413", "415", "422"}
    if op_id == "publicApiRegister":
        errors |= {"409"}
    success = {"publicApiRegister": {"200", "202"}, "publicApiCreateCheckInAndRedirect": {"201", "302"}}
    assert statuses == errors | success.get(op_id, {"200"})
    for status in errors:
        answer = op["responses"][status]
        assert answer["description"]
        media = answer["content"]["application/json"]
        assert media["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        assert media["examples"], f"{op_id} {status} has no example"
    retry_after = op["responses"]["429"]["headers"]["Retry-After"]
    assert resolve(retry_after) == {"description": "Whole seconds to wait before trying again", "required": True,
                                    "schema": {"type": "integer", "minimum": 1}, "example": 30}


def test_accepted_registrations_and_redirects_carry_location() -> None:
    register = OPERATIONS["publicApiRegister"][2]["responses"]
    for status in ("200", "202"):
        assert resolve(register[status]["headers"]["Location"])["required"] is True
    assert register["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/RegistrationResult")
    assert register["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PaymentRedirect")
    check_in = OPERATIONS["publicApiCreateCheckInAndRedirect"][2]["responses"]
    assert resolve(check_in["302"]["headers"]["Location"])["required"] is True


@pytest.mark.parametrize("name", RESPONSE_MODELS)
def test_answers_send_every_field_blank_as_null_never_omitted(name: str) -> None:
    model = CONTRACT["components"]["schemas"][name]
    assert set(model["required"]) == set(model["properties"]), f"{name}: optional fields in an answer"


def test_ids_that_are_guids_say_so() -> None:
    for _, _, op in OPERATIONS.values():
        for parameter in op["parameters"]:
            if parameter["name"] in ("organizationId", "sessionId", "speakerId", "sponsorshipId"):
                assert parameter["schema"]["format"] == "uuid"


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = CONTRACT
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return resolve(target)


def examples() -> list[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example in the contract."""
    found = []
    for op_id, (_, _, op) in OPERATIONS.items():
        media_types = [(f"{op_id} {status}", media) for status, answer in op["responses"].items()
                       for media in answer.get("content", {}).values()]
        if "requestBody" in op:
            media_types += [(f"{op_id} request", media) for media in op["requestBody"]["content"].values()]
        for where, media in media_types:
            if "example" in media:
                found.append((where, media["schema"], media["example"]))
            for name, example in media.get("examples", {}).items():
                found.append((f"{where} {name}", media["schema"], resolve(example)["value"]))
    return found


@pytest.mark.parametrize(("where", "schema", "example"), examples(), ids=[e[0] for e in examples()])
def test_every_example_fits_its_schema(where: str, schema: dict[str, Any], example: Any) -> None:
    document = {**schema, "components": CONTRACT["components"]}
    errors = [error.message for error in jsonschema_rs.Draft202012Validator(document).iter_errors(example)]
    assert not errors, f"{where}: {errors}"


def test_links_lead_from_published_events_to_a_registration_and_on() -> None:
    links = {(op_id, status, name): link for op_id, (_, _, op) in OPERATIONS.items()
             for status, answer in op["responses"].items() for name, link in answer.get("links", {}).items()}
    for (source, _, name), link in links.items():
        target = OPERATIONS[link["operationId"]]
        declared = {p["name"] for p in target[2]["parameters"]}
        assert set(link["parameters"]) <= declared, f"{source} → {name}: {link['parameters']}"
    chain = [("publicApiGetEvents", "GetEvent"), ("publicApiGetEvent", "GetEventSessions"),
             ("publicApiGetEventSessions", "RegisterForSession"), ("publicApiRegister", "GetRegistrationsCount")]
    for source, name in chain:
        assert any(s == source and n == name for s, _, n in links), f"no link {name} from {source}"
    register = links[("publicApiGetEventSessions", "200", "RegisterForSession")]
    assert register["requestBody"]["attendees"][0]["attendeeSessions"] == [{"sessionId": "$response.body#/0/id"}]


def test_business_refusals_are_documented_on_their_operation() -> None:
    for op_id, refusals in BUSINESS_REFUSALS.items():
        description = OPERATIONS[op_id][2]["responses"]["400"]["description"]
        assert all(refusal in description for refusal in refusals), (op_id, description)


def test_every_contract_operation_has_a_label() -> None:
    labels = contract_operations(CONTRACT)
    assert len(labels) == 19 and set(labels.values()) == set(OPERATIONS)
