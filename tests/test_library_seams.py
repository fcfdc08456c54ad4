"""Library seams: what the project reaches inside SimPy, Locust and Schemathesis lives in one adapter module per
library, and pyproject.toml bounds each of the three at the version series tested (the installed one)."""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("simulator", "stampede", "loadtests", "conformance", "reports", "benchmarks", "tests")
           for p in (ROOT / d).rglob("*.py")]
ADAPTERS = {
    "simpy": ROOT / "simulator/engine/simpy_seams.py",
    "locust": ROOT / "loadtests/locust_seams.py",
    "schemathesis": ROOT / "conformance/st_adapter.py",
    "uvicorn": ROOT / "simulator/server/uvicorn_seams.py",
}
# what each adapter reaches that its library does not publish: attribute names, and modules
PRIVATE_ATTRIBUTES = {"simpy": {"_eid"}, "locust": {"clients", "user_classes", "master_bind_port"},
                      "uvicorn": {"on_message_begin", "on_message_complete", "handle_events", "their_state"}}
PRIVATE_MODULES = {"schemathesis": ("schemathesis.engine", "schemathesis.specs")}


@functools.cache
def text(path: Path) -> str:
    return path.read_text()


@functools.cache
def nodes(path: Path) -> tuple[ast.AST, ...]:
    """Every node of the file (parsed once for all the tests here: they walk every source file)."""
    return tuple(ast.walk(ast.parse(text(path))))


def mentions(path: Path, names: set[str] | tuple[str, ...]) -> bool:
    """Whether any of ``names`` occurs in the file's text: a file without one has no such attribute or import,
    so it need not be parsed (most of the tests and benchmarks)."""
    return any(name in text(path) for name in names)


def attributes(path: Path) -> set[str]:
    return {node.attr for node in nodes(path) if isinstance(node, ast.Attribute)}


def uses(path: Path, library: str) -> bool:
    return any(name.split(".")[0] == library for name in imported(path))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in nodes(path):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("library", sorted(PRIVATE_ATTRIBUTES))
def test_private_attributes_are_reached_only_in_the_adapter(library: str) -> None:
    private = PRIVATE_ATTRIBUTES[library]
    # a private name with a leading underscore is looked for everywhere; a plain one (``clients``) only where the
    # library is imported, since the project's own objects may have attributes of that name
    outside = {str(p.relative_to(ROOT)): {name for name in attributes(p) & private
                                          if name.startswith("_") or uses(p, library)}
               for p in SOURCES if p != ADAPTERS[library] and p.name != "test_library_seams.py"
               and mentions(p, private)}
    assert {path: names for path, names in outside.items() if names} == {}
    assert attributes(ADAPTERS[library]) & private == private  # the adapter really is where they are


def test_schemathesis_engine_is_imported_only_by_its_adapter() -> None:
    modules = PRIVATE_MODULES["schemathesis"]
    outside = {str(p.relative_to(ROOT)) for p in SOURCES if p != ADAPTERS["schemathesis"]
               and mentions(p, modules) and any(name.startswith(modules) for name in imported(p))}
    assert outside == set()


@pytest.mark.parametrize("library", ["schemathesis", "simpy", "locust", "uvicorn"])
def test_pyproject_bounds_each_library_at_the_tested_series(library: str) -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in dependencies if re.match(rf"{library}\b", d))
    upper = re.search(r"<\s*([\d.]+)", spec)
    assert upper is not None, f"{spec}: no upper bound"
    installed = [int(part) for part in version(library).split(".")[:2]]
    bound = [int(part) for part in upper.group(1).split(".")[:2]]
    assert installed < bound and bound == [installed[0], installed[1] + 1], (spec, version(library))
    assert version(library) in ADAPTERS[library].read_text(), "the adapter names the version it is tested with"


def test_every_third_party_import_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # the main dependencies, and the cluster extra (--cluster imports distributed only when asked)
    declared = {re.split(r"[<>=\[ ;]", d)[0].lower().replace("-", "_")
                for d in project["dependencies"] + project["optional-dependencies"]["cluster"]}
    package_code = [p for p in SOURCES if p.parts[len(ROOT.parts)] in ("simulator", "stampede", "loadtests",
                                                                       "conformance", "reports")]
    used = {name.split(".")[0].lower() for p in package_code for name in imported(p)}
    third_party = used - set(sys.stdlib_module_names) - {"simulator", "stampede", "loadtests", "conformance",
                                                         "reports", "__future__"}
    assert "requests" in third_party  # conformance/checks.py: the structures Schemathesis hands its checks
    assert third_party - declared - PROVIDED_BY == set()


# imported names that come with a declared distribution of another name
PROVIDED_BY = {"gevent", "starlette", "pydantic_core", "h11"}  # locust, fastapi, pydantic, uvicorn
