"""Each refused input of the command line: one line naming the option and a good value, a non-zero exit, no
traceback, and nothing written (no run directory, no database, no report)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAMPEDE = Path(sys.executable).with_name("stampede")

pytestmark = pytest.mark.slow  # each case starts the command line in a process

TINY = """
name = "tiny"
horizon = "30m"
[catalog]
events = 1
capacity = 0
[workload]
shape = "constant"
rate = 2
duration = "1m"
browse_per_submission = 0
"""


def stampede(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STAMPEDE), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def files_under(folder: Path) -> set[Path]:
    return {path.relative_to(folder) for path in folder.rglob("*")}


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


# --- stampede serve: ports ---------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_serve_refuses_a_port_out_of_range(tmp_path: Path, port: str) -> None:
    before = files_under(tmp_path)
    result = stampede("serve", "--port", port, cwd=tmp_path)
    assert_one_line_error(result, f"--port {port}", "1–65535", "0 for any free port")
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("seconds", ["0", "-5"])
def test_serve_refuses_a_read_timeout_that_is_not_positive(tmp_path: Path, seconds: str) -> None:
    before = files_under(tmp_path)
    result = stampede("serve", "--port", "0", "--read-timeout", seconds, cwd=tmp_path)
    assert_one_line_error(result, f"--read-timeout {float(seconds)}", "e.g. 30")
    assert files_under(tmp_path) == before


def test_serve_on_a_busy_port_says_so_and_leaves_no_database(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = stampede("serve", "--port", str(port), cwd=tmp_path)
        explicit = stampede("serve", "--port", str(port), "--db", str(tmp_path / "mine.db"), cwd=tmp_path)
    for answer in (result, explicit):
        assert_one_line_error(answer, f"port {port} is in use — choose another with --port, or 0 for a free one")
    assert files_under(tmp_path) == set(), "a failed start left files behind (the store opened before binding)"


def test_the_default_database_is_ignored_by_git() -> None:
    for name in ("stampede-serve.db", "stampede-serve.db-wal", "stampede-serve.db-shm"):
        ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, timeout=30, check=False)
        assert ignored.returncode == 0, f"{name} is not in .gitignore"


# --- --out ---------------------------------------------------------------------------------------------------


def test_simulate_out_onto_a_file_is_refused(tiny: Path, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# keep me\n")
    before = files_under(tmp_path)
    result = stampede("simulate", str(tiny), "--out", "README.md", cwd=tmp_path)
    assert_one_line_error(result, "--out README.md", "is a file, not a directory")
    assert files_under(tmp_path) == before and (tmp_path / "README.md").read_text() == "# keep me\n"


def test_report_out_where_nothing_can_be_written_is_one_line(tmp_path: Path) -> None:
    from fixtures_runs import make_run

    run_dir = make_run(tmp_path, "one", submissions=100)
    before = files_under(tmp_path)
    result = stampede("report", str(run_dir), "--out", "/proc/x", cwd=tmp_path)
    assert_one_line_error(result, "--out /proc/x", "cannot write in /proc")
    assert files_under(tmp_path) == before


def test_an_existing_run_directory_is_refused_unless_forced(tiny: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text('{"name": "earlier"}\n')
    before = files_under(tmp_path)
    for command in (["simulate", str(tiny), "--no-report"], ["load", str(tiny), "--no-report"],
                    ["compare", str(tiny), "--vary", "retry.policy=none,fixed", "--no-report"],
                    ["serve", str(tiny), "--port", "0"]):
        result = stampede(*command, "--out", str(run_dir), cwd=tmp_path)
        assert_one_line_error(result, f"--out {run_dir}", "already holds a run (summary.json)", "--force")
        assert files_under(tmp_path) == before
    forced = stampede("simulate", str(tiny), "--out", str(run_dir), "--no-report", "--force", "--quiet", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert '"name": "tiny"' in (run_dir / "summary.json").read_text()


def test_compare_refuses_a_directory_of_earlier_variants(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    (out / "policy-none").mkdir(parents=True)
    (out / "policy-none" / "summary.json").write_text("{}\n")
    result = stampede("compare", str(tiny), "--vary", "retry.policy=none,fixed", "--out", str(out), cwd=tmp_path)
    assert_one_line_error(result, "already holds a run (policy-none/summary.json)")


def test_report_over_another_run_needs_force_but_its_own_directory_does_not(tmp_path: Path) -> None:
    from fixtures_runs import make_run

    first, second = make_run(tmp_path, "first", submissions=100), make_run(tmp_path, "second", submissions=100)
    refused = stampede("report", str(first), "--out", str(second), cwd=tmp_path)
    assert_one_line_error(refused, f"--out {second}", "already holds a run", "--force")
    assert not (second / "report.html").exists()
    own = stampede("report", str(first), "--out", str(first), cwd=tmp_path)
    assert own.returncode == 0, own.stderr
    assert (first / "report.html").is_file()


# --- stampede plan -------------------------------------------------------------------------------------------

# 8/s against one app user's ceiling of 6000 / 300 s ÷ 3 calls = 6.67/s: no app_users in 1..1 covers it.
ABOVE_ONE_USER = """
name = "above-one-user"
horizon = "1h"
[catalog]
events = 1
capacity = 0
session_capacity = 0
[workload]
shape = "constant"
rate = 8
duration = "2m"
browse_per_submission = 0
[workload.mix]
event = 1.0
session = 0.0
waitlist = 0.0
[api]
processors = 16
"""


@pytest.mark.parametrize(("search", "fragment"), [
    ("dataverse.app_users=16..1", "the range is reversed (16 is above 1)"),
    ("retry.cap=10m..1m", "the range is reversed (10m is above 1m)"),
    ("retry.cap=1m..later", "expected key=LOW..HIGH with numbers or durations"),
])
def test_plan_refuses_a_bad_range_in_one_line(tiny: Path, tmp_path: Path, search: str, fragment: str) -> None:
    before = files_under(tmp_path)
    result = stampede("plan", str(tiny), "--slo", "time_to_created_s.p95<=900", "--search", search, cwd=tmp_path)
    assert_one_line_error(result, f"--search {search!r}", fragment)
    assert files_under(tmp_path) == before


def test_plan_says_when_there_is_no_analytic_minimum(tmp_path: Path) -> None:
    scenario = tmp_path / "above.toml"
    scenario.write_text(ABOVE_ONE_USER)
    result = stampede("plan", str(scenario), "--slo", "time_to_created_s.p95<=0.001", "--search",
                      "dataverse.app_users=1..1", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    text = " ".join(result.stdout.split())
    assert "no analytic minimum: the ceiling never covers the demand in this range" in text
    assert "None" not in result.stdout and "Traceback" not in result.stderr


def test_plan_bisects_a_duration_to_the_tolerance(tiny: Path, tmp_path: Path) -> None:
    # tiny's demand (2/s) is far under one user's ceiling, so every retry cap meets the SLO: the answer is
    # the bottom of the range, found after probing the top and the bottom only.
    result = stampede("plan", str(tiny), "--slo", "submissions.dead_lettered==0", "--search", "retry.cap=1m..10m",
                      "--tolerance", "30s", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import json

    answer = json.loads(result.stdout)
    assert answer["value"] == 60.0 and answer["value_text"] == "1m" and answer["kind"] == "duration"
    assert answer["tolerance"] == 30.0
    assert [row["value"] for row in answer["tried"]] == [60.0, 600.0]
    assert answer["analytic_value"] == 60.0


# --- stampede conform ----------------------------------------------------------------------------------------


def test_conform_against_a_dead_url_fails_fast_in_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        result = stampede("conform", "--url", url, "--token", "t", "--org", "o", "--junit", "out/junit.xml",
                          cwd=tmp_path)
    assert_one_line_error(result, f"--url {url}: cannot reach {url}", "Connection refused")
    assert "untested" not in result.stdout and result.stdout == ""
    assert files_under(tmp_path) == set()
