"""The runner behind `stampede load` without starting anything: how it asks Locust for a master port and reads
the bound one back, and that it stays free of Locust (whose import monkey-patches the process with gevent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loadtests import MASTER_PORT_LINE
from loadtests.runner import LoadError, LoadSettings, _bound_master_port, _locust_command
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


class Running:
    """Stands in for a Locust process that has not exited (``returncode`` None) or has."""

    def __init__(self, returncode: int | None = None) -> None:
        self.returncode = returncode

    def poll(self) -> int | None:
        return self.returncode


def command(tmp_path: Path, **settings: Any) -> list[str]:
    scenario = load_scenario(ROOT / "scenarios" / "live-smoke.toml")
    return _locust_command(LoadSettings(scenario, tmp_path, 30.0, **settings), "http://127.0.0.1:1",
                           tmp_path / "s.toml", "token", tmp_path / "t")


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def test_one_process_runs_no_master(tmp_path: Path) -> None:
    assert "--master" not in command(tmp_path)


@pytest.mark.parametrize("settings", [{"processes": 2}, {"expect_workers": 3}], ids=["processes", "expect-workers"])
def test_a_master_binds_port_zero_and_workers_are_not_forked_before_it_listens(
        tmp_path: Path, settings: dict[str, int]) -> None:
    words = command(tmp_path, **settings)
    assert option(words, "--master-bind-port") == "0"  # the system chooses; no port probed free beforehand
    assert option(words, "--expect-workers") == str(max(settings.values()))
    assert "--processes" not in words and "--master-port" not in words


def test_a_port_asked_for_is_the_one_bound(tmp_path: Path) -> None:
    assert option(command(tmp_path, expect_workers=1, master_port=5557), "--master-bind-port") == "5557"


def test_the_bound_port_is_read_back_from_the_masters_log(tmp_path: Path) -> None:
    log = tmp_path / "locust.log"
    log.write_text(f"[...] INFO starting\n{MASTER_PORT_LINE}40123\n[...] INFO waiting for workers\n")
    assert _bound_master_port(log, Running(), timeout_s=1.0) == 40123  # type: ignore[arg-type]


def test_a_master_that_exits_before_it_listens_is_one_error_naming_the_log(tmp_path: Path) -> None:
    log = tmp_path / "locust.log"
    log.write_text("The Locust master port was busy\n")
    with pytest.raises(LoadError, match="exited .code 1. before its master listened; see .*locust.log"):
        _bound_master_port(log, Running(1), timeout_s=5.0)  # type: ignore[arg-type]


@pytest.mark.slow  # a fresh interpreter
def test_the_runner_does_not_import_locust() -> None:
    """Importing Locust patches threads, subprocesses, signals and sockets with gevent; in the runner's process
    that broke `stampede load --processes` (no registration sent, no live run directory written)."""
    probe = "import sys, loadtests.runner, stampede.load_cmd; print(sorted(m for m in sys.modules if m in " \
            "('locust', 'gevent')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
