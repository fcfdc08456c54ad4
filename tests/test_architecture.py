"""DESIGN.md's import rules, enforced: who may import whom."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTTP_OR_LOAD = {"fastapi", "starlette", "uvicorn", "locust", "gevent", "schemathesis", "httpx"}
PROJECT_OUTSIDE_SIMULATOR = {"loadtests", "conformance", "reports", "stampede"}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(folder: str, recursive: bool = True) -> list[Path]:
    base = ROOT / folder
    return sorted(base.rglob("*.py") if recursive else base.glob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", modules("simulator", recursive=False), ids=lambda p: p.name)
def test_pure_core_imports_no_engine_http_or_load(path: Path) -> None:
    bad = {n for n in imports_of(path) if top(n) in HTTP_OR_LOAD | {"simpy"} | PROJECT_OUTSIDE_SIMULATOR}
    bad |= {n for n in imports_of(path) if n.startswith(("simulator.engine", "simulator.server"))}
    assert not bad, f"{path.relative_to(ROOT)} is pure core but imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("simulator/engine"), ids=lambda p: p.name)
def test_engine_adds_only_simpy(path: Path) -> None:
    bad = {n for n in imports_of(path) if top(n) in HTTP_OR_LOAD | PROJECT_OUTSIDE_SIMULATOR}
    bad |= {n for n in imports_of(path) if n.startswith("simulator.server")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("simulator/server"), ids=lambda p: p.name)
def test_server_never_imports_the_outer_layers(path: Path) -> None:
    bad = {n for n in imports_of(path) if top(n) in PROJECT_OUTSIDE_SIMULATOR | {"locust", "schemathesis"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("reports"), ids=lambda p: p.name)
def test_reports_read_only_records_and_metrics(path: Path) -> None:
    project = {n for n in imports_of(path) if top(n) in {"simulator", "loadtests", "conformance", "stampede"}}
    bad = project - {"simulator.records", "simulator.metrics", "simulator.stats", "simulator"}
    assert not bad, f"{path.relative_to(ROOT)} may import only simulator.records/metrics/stats, not {sorted(bad)}"


def test_the_pure_core_really_imports_without_simpy() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import simulator.limits, simulator.retry, simulator.cache, simulator.scenario, "
        "simulator.plan, simulator.catalog, simulator.records, simulator.metrics; "
        "assert 'simpy' not in sys.modules, 'simpy imported'; assert 'fastapi' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("path", modules("conformance"), ids=lambda p: p.name)
def test_conformance_uses_the_simulator_not_the_front_door_or_other_tools(path: Path) -> None:
    bad = {n for n in imports_of(path) if top(n) in {"stampede", "loadtests", "reports", "locust"}}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
