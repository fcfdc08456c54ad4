"""Scenario files: the shipped ones load, round-trip and run; bad input fails loudly; the README cannot drift."""

from __future__ import annotations

import json
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest
from ledger import assert_ledger_matches
from pydantic import BaseModel

from simulator.engine.virtual import run_virtual
from simulator.plan import capacity
from simulator.scenario import (
    Scenario,
    ScenarioError,
    apply_overrides,
    format_duration,
    load_scenario,
    parse_duration_s,
    parse_scenario,
    scenario_to_toml,
)

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))
NAMES = [path.stem for path in SHIPPED]


def test_the_documented_scenarios_are_shipped() -> None:
    assert {"email-blast", "steady", "multi-server", "payment-gateway", "outage"} <= set(NAMES)


# --- shipped scenarios ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_shipped_scenario_loads_and_round_trips(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert len(scenario.description) > 80, "say what the scenario shows, in a planner's words"
    text = scenario_to_toml(scenario)
    assert parse_scenario(tomllib.loads(text)) == scenario
    copy = tmp_path / f"{path.stem}.toml"  # as a run directory's scenario.toml is read back
    copy.write_text(text, encoding="utf-8")
    assert load_scenario(copy) == scenario


def short_overrides(scenario: Scenario) -> list[str]:
    """The scenario in miniature: 2 minutes of arrivals, its faults squeezed into them, a 15-minute horizon."""
    overrides = ["workload.duration=2m", "horizon=15m"]
    if scenario.faults:
        faults = []
        for index, fault in enumerate(scenario.faults):
            values = fault.model_dump(mode="json", exclude_none=True) | {"at": f"{60 + 15 * index}s",
                                                                         "duration": "30s"}
            faults.append("{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in values.items()) + "}")
        overrides.append(f"faults=[{', '.join(faults)}]")
    return overrides


@pytest.mark.parametrize("path", SHIPPED, ids=NAMES)
def test_shipped_scenario_runs_short_and_conserves_submissions(path: Path) -> None:
    scenario = load_scenario(path, overrides=short_overrides(load_scenario(path)))
    run = run_virtual(scenario)
    assert_ledger_matches(run.summary, run.recorder)  # each figure counted from the submissions' own rows
    assert run.summary["submissions"]["created"] > 0
    assert run.simulated_s <= 15 * 60
    if scenario.faults:
        assert run.summary["dataverse"]["failed"] > 0  # the outage happened inside the short run


def test_each_scenario_tells_the_story_its_description_promises() -> None:
    """Cheap, analytic checks of the claims in the descriptions (the README has the measured figures)."""
    steady = load_scenario(SCENARIOS / "steady.toml")
    ceiling = capacity(steady)["ceiling_created_per_s"]
    assert steady.workload.shape == "constant"
    assert 0.8 * ceiling < steady.workload.rate < ceiling  # just under one app user's ceiling (5.71/s)

    multi = load_scenario(SCENARIOS / "multi-server.toml")
    dv = multi.dataverse
    assert (dv.app_users, dv.web_servers, dv.affinity) == (4, 2, False)
    one_key = capacity(multi.model_copy(update={"dataverse": dv.model_copy(update={"app_users": 1,
                                                                                   "web_servers": 1})}))
    assert one_key["ceiling_created_per_s"] < multi.workload.rate < capacity(multi)["ceiling_created_per_s"]
    assert capacity(multi)["keys"] == 8

    paid = load_scenario(SCENARIOS / "payment-gateway.toml")
    assert paid.catalog.paid_events == paid.catalog.events
    free = paid.model_copy(update={"catalog": paid.catalog.model_copy(update={"paid_events": 0})})
    assert capacity(paid)["calls_per_registration"] > capacity(free)["calls_per_registration"]

    outage = load_scenario(SCENARIOS / "outage.toml")
    kinds = [f.kind for f in outage.faults]
    assert kinds == ["outage", "slow"]
    assert outage.retry.deadline == 6 * 3600
    assert outage.faults[0].at < outage.workload.duration  # mid-launch


# --- errors: the file, the key, the bad value and an example ---------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param('[retry]\nbase = "2 sec"\n', ["retry.base", "'2 sec'", '"2s"', '"250ms"'], id="bad-duration"),
        pytest.param('[retry]\nbsae = "2s"\n', ["retry.bsae", "not a scenario key", 'did you mean "base"'],
                     id="unknown-key"),
        pytest.param('[dataverse]\napp_users = "four"\n', ["dataverse.app_users", "'four'", "whole number like 4"],
                     id="wrong-type-int"),
        pytest.param("[catalog]\nwaitlist = 3\n", ["catalog.waitlist", "3", "true or false"], id="wrong-type-bool"),
        pytest.param('[api]\ncache = "lru"\n', ["api.cache", "'lru'", "or 'refresh-ahead'"], id="bad-literal"),
        pytest.param("[workload.mix]\nevent = 0.5\nsession = 0.25\nwaitlist = 0.05\n",
                     ["workload.mix", "sum to 1", "0.8", "event = 0.7"], id="mix-not-one"),
        pytest.param('[[faults]]\nat = "1m"\nduration = "1m"\nkind = "limit"\n',
                     ["faults.0", 'kind = "limit"', "requests_limit = 3000"], id="limit-fault-without-limit"),
        pytest.param('[workload]\nshape = "steps"\n', ["workload", "steps = [{at"], id="steps-without-steps"),
        pytest.param('[payment]\nredirect_url = "https://pay.example/{orderId}"\n',
                     ["payment.redirect_url", "{orderId}", "{purchaseId}, {eventId}, {returnUrl}", "PayWithStripe"],
                     id="redirect-url-unknown-placeholder"),
        pytest.param('[payment]\nreturn_url = "/thanks"\n', ["payment.return_url", "'/thanks'", "absolute",
                                                             "{origin}/event/confirmation?id={eventId}"],
                     id="return-url-not-absolute"),
        pytest.param('[portal]\nimage_urls = "full"\n', ["portal.image_urls", "'full'", "'relative'"],
                     id="image-urls-literal"),
    ],
)
def test_errors_name_the_file_key_value_and_an_example(tmp_path: Path, toml: str, expected: list[str]) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message


def test_a_limit_fault_needs_a_limit() -> None:
    with pytest.raises(ScenarioError, match="needs at least one of requests_limit"):
        parse_scenario({"faults": [{"at": "1m", "duration": "1m", "kind": "limit"}]})
    fault = parse_scenario({"faults": [{"at": "1m", "duration": "1m", "kind": "limit", "requests_limit": 3000}]})
    assert fault.faults[0].requests_limit == 3000


def test_every_problem_is_reported_one_line_each(tmp_path: Path) -> None:
    path = write(tmp_path, '[api]\ncache = "lru"\nprocesors = 4\n[retry]\nbase = "soon"\n')
    lines = str(pytest.raises(ScenarioError, load_scenario, path).value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(str(path)) for line in lines)


def test_missing_file_and_invalid_toml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.toml: no such scenario file"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match=r"x\.toml: not valid TOML \(.*line 2"):
        load_scenario(write(tmp_path, 'name = "x"\n[api\n'))


@pytest.mark.parametrize("item", ["dataverse.app_users", "=4", "  =4"])
def test_set_without_key_equals_value_is_refused_with_an_example(item: str) -> None:
    with pytest.raises(ScenarioError, match=r"expected key=value, e\.g\. --set dataverse\.app_users=4"):
        apply_overrides({}, [item])


def test_set_errors_name_the_overrides() -> None:
    with pytest.raises(ScenarioError, match=r"steady\.toml \(with --set overrides\): retry\.base = '2 sec'"):
        load_scenario(SCENARIOS / "steady.toml", ["retry.base=2 sec"])


# --- --set ---------------------------------------------------------------------------------------------------


def test_set_parses_numbers_booleans_durations_and_bare_words() -> None:
    raw = apply_overrides({"api": {"cache": "ttl"}}, [
        "dataverse.app_users=4", "workload.rate=0.25", "workload.total=1e3", "dataverse.affinity=false",
        "retry.base=250ms", "retry.policy=full-jitter", "api.cache=none", 'name="quoted"',
        'faults=[{at = "20m", duration = "5m", kind = "outage"}]',
    ])
    assert raw == {
        "api": {"cache": "none"},
        "dataverse": {"app_users": 4, "affinity": False},
        "workload": {"rate": 0.25, "total": 1000.0},
        "retry": {"base": "250ms", "policy": "full-jitter"},
        "name": "quoted",
        "faults": [{"at": "20m", "duration": "5m", "kind": "outage"}],
    }


def test_set_overrides_the_file_and_leaves_the_raw_mapping_alone() -> None:
    raw = {"retry": {"base": "2s"}}
    assert apply_overrides(raw, ["retry.base=5s"]) == {"retry": {"base": "5s"}}
    assert raw == {"retry": {"base": "2s"}}
    scenario = load_scenario(SCENARIOS / "steady.toml", ["retry.base=250ms", "api.cache=none",
                                                         "dataverse.app_users=3", "dataverse.affinity=false"], seed=11)
    assert (scenario.retry.base, scenario.api.cache, scenario.dataverse.app_users) == (0.25, "none", 3)
    assert scenario.dataverse.affinity is False
    assert scenario.seed == 11


def test_set_into_a_value_is_refused() -> None:
    with pytest.raises(ScenarioError, match="base is a value, not a section"):
        apply_overrides({"retry": {"base": "2s"}}, ["retry.base.unit=s"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("2s", 2.0), ("10m", 600.0), ("6h", 21600.0), ("1d", 86400.0), ("1h30m", 5400.0),
     ("1.5s", 1.5), ("1h 30m", 5400.0), (90, 90.0), (0.5, 0.5)],
)
def test_duration_syntax(text: str | float, seconds: float) -> None:
    assert parse_duration_s(text) == seconds
    assert parse_duration_s(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["2 sec", "10 minutes", "", "-5s", "5", "s", "1h-30m", True, -1, float("inf")])
def test_bad_durations_are_refused(text: Any) -> None:
    with pytest.raises(ValueError, match="duration like"):
        parse_duration_s(text)


# --- the README documents every field --------------------------------------------------------------------------


def _section_models(annotation: Any) -> tuple[list[type[BaseModel]], bool]:
    """(the models a field holds — several for a union such as a latency's distributions —, whether it is a
    list of them); no models for a plain value."""
    models = [candidate for candidate in (annotation, *typing.get_args(annotation))
              if isinstance(candidate, type) and issubclass(candidate, BaseModel)]
    return models, typing.get_origin(annotation) is list


def _readme_tables() -> dict[str, dict[str, str]]:
    """{heading: {key: default cell}} for every table whose first column is a `key`."""
    tables: dict[str, dict[str, str]] = {}
    heading = ""
    for line in (SCENARIOS / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line
        elif (row := re.match(r"\|\s*`([a-z_0-9]+)`\s*\|", line)) is not None:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            tables.setdefault(heading, {})[row.group(1)] = cells[3]
    return tables


def _documented_default(cell: str) -> Any:
    literal = re.fullmatch(r"`(.*)`", cell)
    if literal is None:
        return cell  # prose: "required", "none"
    return tomllib.loads(f"v = {literal.group(1)}")["v"]


def _same(documented: Any, default: Any) -> bool:
    if isinstance(default, BaseModel):
        return type(default).model_validate(documented) == default
    if isinstance(default, float) and isinstance(documented, str):
        return parse_duration_s(documented) == default
    return bool(documented == default)


def _walk(models: list[type[BaseModel]], tag: str, tables: dict[str, dict[str, str]], problems: list[str]) -> None:
    """Check the keys of ``models`` (one, or a union's members: each key checked against the first member
    that has it) against the README table whose heading contains ``tag``; recurse into sections.

    A section (``[catalog]``) or list of tables (``[[faults]]``) has a table of its own; a table written
    inline (``read = { median, p99 }``) has a row with its default in its parent's table, and a table too.
    """
    heading = next((h for h in tables if tag in h), None)
    if heading is None:
        problems.append(f"no table under a heading with {tag}")
        return
    rows = tables[heading]
    path = tag.strip("`[]")
    fields = {field.alias or python_name: field  # the alias: [journey.quiet]'s from/to
              for model in reversed(models) for python_name, field in model.model_fields.items()}
    for name, field in fields.items():
        dotted = f"{path}.{name}" if path != "Top level" else name
        subs, is_list = _section_models(field.annotation)
        if subs:
            _walk(subs, f"`[[{dotted}]]`" if is_list else f"`[{dotted}]`", tables, problems)
            inline = not is_list and any(f.is_required() for f in subs[0].model_fields.values())
            if not inline:
                continue
        if name not in rows:
            problems.append(f"{dotted}: no row `{name}` under {heading!r}")
            continue
        cell = rows[name]
        if field.is_required():
            if cell != "required":
                problems.append(f"{dotted}: default should say required, says {cell!r}")
            continue
        default = field.get_default(call_default_factory=True)
        documented = _documented_default(cell)
        if default is None:
            if documented != "none":
                problems.append(f"{dotted}: default should say none, says {cell!r}")
        elif not _same(documented, default):
            problems.append(f"{dotted}: README default {cell!r} but the model's is {default!r}")
    extra = set(rows) - set(fields)
    if extra:
        problems.append(f"{heading!r} documents keys the model does not have: {sorted(extra)}")


def test_readme_documents_every_field_with_its_default() -> None:
    problems: list[str] = []
    _walk([Scenario], "Top level", _readme_tables(), problems)
    assert problems == []


def test_readme_names_every_shipped_scenario() -> None:
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"`{name}.toml`" in readme
