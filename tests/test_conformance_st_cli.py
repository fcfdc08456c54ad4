"""The published contract passes the standard Schemathesis CLI out of the box.

A CI job that uses Schemathesis' own tool (``st run``, its GitHub Action) instead of ``stampede conform`` must
start green against the mock: ``st run`` from ``conformance/`` picks up the shipped ``schemathesis.toml``, with
only the token given (``STAMPEDE_TOKEN``), against a real ``stampede serve``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_support import TOKEN, ServeProcess

from conformance.config import SETTINGS_PATH, conformance_config, shipped_settings

ST = Path(sys.executable).with_name("st")
CONTRACT_DIR = SETTINGS_PATH.parent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One server for both `st run`s: whatever the positive run created, the negative run's requests are still
    invalid, and neither may leave a traceback."""
    tmp = tmp_path_factory.mktemp("st")
    served = ServeProcess(tmp / "serve.db", tmp / "serve")
    yield served
    served.stop()


@pytest.mark.slow
def test_st_run_with_the_shipped_settings_finds_no_failures(server: ServeProcess) -> None:
    env = {**os.environ, "STAMPEDE_TOKEN": TOKEN, "NO_COLOR": "1"}
    # 10 examples an operation (the file's default), all four phases; bounded in time.
    done = subprocess.run([str(ST), "run", "event-api.openapi.json", "--url", server.url, "--seed", "7"],
                          cwd=CONTRACT_DIR, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert "schemathesis.tom" in output, output[-3000:]  # the banner names the file it loaded (wrapped)
    assert done.returncode == 0, output[-3000:]
    assert "failed" not in output.split("SUMMARY", 1)[-1].lower(), output[-3000:]
    assert "19 selected / 19 total" in output


@pytest.mark.slow
def test_st_run_negative_with_the_shipped_settings_finds_no_failures(server: ServeProcess) -> None:
    """``--mode negative`` (invalid data only) passes too: every invalid request gets a documented 4xx, never a
    2xx or a 5xx. Unknown query parameters are ignored, as the contract says, so the shipped file keeps the
    coverage phase from sending them as invalid data (ST201 before). 3 examples an operation keep it to about a
    minute; the default 10 ran 776 cases in 51 s on an idle machine."""
    env = {**os.environ, "STAMPEDE_TOKEN": TOKEN, "NO_COLOR": "1"}
    done = subprocess.run([str(ST), "run", "event-api.openapi.json", "--url", server.url, "--mode", "negative",
                           "--max-examples", "3", "--seed", "7"],
                          cwd=CONTRACT_DIR, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    summary = output.split("SUMMARY", 1)[-1]
    assert "No issues found" in summary and "19 selected / 19 total" in output, output[-3000:]
    assert "Traceback" not in server.stderr(), server.stderr()[-3000:]


@pytest.mark.slow  # runs st in a subprocess
def test_the_shipped_file_needs_the_token_from_the_environment(tmp_path: Path) -> None:
    """Without STAMPEDE_TOKEN the CLI stops with Schemathesis' "missing environment variable" error (rather
    than running every request without a token), and ``stampede conform`` never needs the variable."""
    env = {k: v for k, v in os.environ.items() if k != "STAMPEDE_TOKEN"}
    done = subprocess.run([str(ST), "run", "event-api.openapi.json", "--url", "http://127.0.0.1:9"],
                          cwd=CONTRACT_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "STAMPEDE_TOKEN" in done.stdout + done.stderr
    config = conformance_config(org_id="org-1", token="tok-1")
    project = config.projects.get_default()
    assert project.parameters["organizationId"] == "org-1"


def test_conform_uses_the_shipped_check_settings() -> None:
    """One source: the statuses `stampede conform` accepts are the file's, with the built-in auth check off."""
    shipped = shipped_settings()
    config = conformance_config(org_id="org-1", token="tok-1", origin="http://localhost:5173")
    checks = config.projects.get_default().checks
    assert checks.ignored_auth.enabled is False
    for name in ("positive_data_acceptance", "negative_data_rejection", "not_a_server_error"):
        expected = shipped["checks"][name]["expected-statuses"]
        assert [str(s) for s in getattr(checks, name).expected_statuses] == expected, name
    assert shipped["auth"]["openapi"]["emApplicationtoken"]["api_key"] == "${STAMPEDE_TOKEN}"
    assert shipped["hooks"] == "conformance.checks"
