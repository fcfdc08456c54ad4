"""`stampede conform` as CI runs it: over real HTTP, against the local mock it starts, or against any URL.

The broken server is the correct mock (over the fake model) with four faults, each one a different check's job
(``fixtures_conformance.SABOTAGE``); the command must fail and name each of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_conformance import SABOTAGE, sabotaged, serving
from test_server_fakes import ORG, ORIGIN, TOKEN, make_app

from conformance.generate import CONTRACT_PATH
from conformance.report import short_label
from conformance.runner import contract_operations

pytestmark = pytest.mark.slow  # stampede conform in a subprocess against a live server

STAMPEDE = Path(sys.executable).with_name("stampede")
LABELS = [short_label(label) for label in contract_operations(json.loads(CONTRACT_PATH.read_text()))]


def conform(*arguments: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STAMPEDE), "conform", *arguments], capture_output=True, text=True,
                          timeout=timeout_s, stdin=subprocess.DEVNULL)


def junit_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {short_label(case.attrib["name"]): case for case in root.iter("testcase")}


@pytest.fixture(scope="module")
def broken_url() -> Iterator[str]:
    app, _ = make_app()
    with serving(sabotaged(app)) as url:
        yield url


def test_conform_passes_against_the_local_mock_with_one_junit_case_per_operation(tmp_path: Path) -> None:
    junit = tmp_path / "conform.xml"
    result = conform("--junit", str(junit), "--max-examples", "5", "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED: the API honours the contract" in result.stdout
    assert "19 operations, 19 tested" in result.stdout
    cases = junit_cases(junit)
    assert list(cases) == LABELS  # one case per operation, in the contract's order
    assert not [label for label, case in cases.items() if case.find("failure") is not None]
    assert not [label for label, case in cases.items() if case.find("skipped") is not None]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.attrib["tests"] == "19" and suite.attrib["failures"] == "0"


def test_conform_fails_against_a_broken_server_and_names_each_failure(broken_url: str, tmp_path: Path) -> None:
    junit = tmp_path / "broken.xml"
    result = conform("--url", broken_url, "--token", TOKEN, "--org", ORG, "--origin", ORIGIN, "--junit", str(junit),
                     "--max-examples", "5", "--seed", "7", "--rate-limit", "1000/s")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED: the API breaks the contract" in result.stdout
    for label, check in SABOTAGE:
        assert f"{label} — {check}" in result.stdout, f"{check} on {label} not reported:\n{result.stdout}"
    assert "reproduce:\n     curl " in result.stdout
    assert '"lots" is not valid' in result.stdout and '"name" is a required property' in result.stdout
    cases = junit_cases(junit)
    assert list(cases) == LABELS
    failed = {label for label, case in cases.items() if case.find("failure") is not None}
    assert failed == {label for label, _ in SABOTAGE}, failed
    for label, check in SABOTAGE:
        failure = cases[label].find("failure")
        assert failure is not None and check in failure.attrib["message"]


def test_conform_needs_token_and_org_with_a_url() -> None:
    result = conform("--url", "https://public-eur.mkt.dynamics.com", timeout_s=60)
    assert result.returncode == 2
    assert "--url needs --token" in result.stderr


def test_conform_takes_the_org_from_a_base_url_and_refuses_a_bad_rate_limit() -> None:
    result = conform("--url", f"https://public-eur.mkt.dynamics.com/api/v1.0/orgs/{ORG}/eventmanagement/",
                     "--token", TOKEN, "--rate-limit", "fast", timeout_s=60)
    assert result.returncode == 2
    assert "--rate-limit 'fast'" in result.stderr
