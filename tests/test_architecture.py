"""ARCHITECTURE.md's layers, enforced as an allow-list: each layer may import the standard library, the layers
inside it, and the third-party packages named here — nothing else. A new dependency of a layer is a decision
made in this file, not an accident."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE_CORE = "simulator"  # simulator/*.py, not its packages
#: (layer, its folder, the project packages it may import, the third-party packages it may import)
LAYERS: dict[str, tuple[str, tuple[str, ...], frozenset[str]]] = {
    # scipy: statistics (intervals, tests) are scipy's, never hand-written
    "pure core": ("simulator", ("simulator",), frozenset({"pydantic", "numpy", "scipy", "tomli_w", "SALib"})),
    # dask/distributed: batches of virtual runs on a cluster
    "engine": ("simulator/engine", ("simulator",), frozenset({"simpy", "numpy", "scipy", "dask", "distributed"})),
    "HTTP face": ("simulator/server", ("simulator",),
                  frozenset({"fastapi", "starlette", "pydantic", "pydantic_core", "prometheus_client", "segno",
                             "uvicorn", "h11"})),
    "reports": ("reports", ("reports", "simulator.records", "simulator.metrics", "simulator.stats",
                            "simulator.errors", "simulator.decision", "simulator.comparison", "simulator.units"),
                frozenset({"matplotlib", "numpy", "scipy", "jinja2", "markupsafe"})),
    "load tests": ("loadtests", ("loadtests", "simulator"), frozenset({"locust", "gevent", "numpy", "scipy"})),
    "conformance": ("conformance", ("conformance", "simulator"),
                    frozenset({"schemathesis", "hypothesis", "httpx", "requests"})),
    "front door": ("stampede", ("stampede", "simulator", "reports", "loadtests", "conformance"),
                   frozenset({"typer", "rich", "uvicorn", "dask", "distributed", "numpy", "trustme"})),
}
#: Project modules a layer may not reach even though its prefix allows them (the layers inside it only).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "pure core": ("simulator.engine", "simulator.server"),
    "engine": ("simulator.server",),
    "load tests": ("simulator.server",),
}
PROJECT = ("simulator", "reports", "loadtests", "conformance", "stampede")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def layer_modules() -> list[tuple[str, Path]]:
    found = []
    for layer, (folder, _, _) in LAYERS.items():
        base = ROOT / folder
        paths = base.glob("*.py") if folder == PURE_CORE else base.rglob("*.py")
        found += [(layer, path) for path in sorted(paths)]
    return found


def _within(name: str, package: str) -> bool:
    package = package.rstrip(".")
    return name == package or name.startswith(package + ".")


def disallowed(layer: str, names: set[str]) -> set[str]:
    _, project, third_party = LAYERS[layer]
    bad = set()
    for name in names:
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top == "__future__":
            continue
        if top in PROJECT:
            if not any(_within(name, p) for p in project) or any(_within(name, p) for p in FORBIDDEN.get(layer, ())):
                bad.add(name)
        elif top not in third_party:
            bad.add(name)
    return bad


@pytest.mark.parametrize(("layer", "path"), layer_modules(), ids=lambda v: v if isinstance(v, str) else
                         str(v.relative_to(ROOT)))
def test_each_module_imports_only_what_its_layer_allows(layer: str, path: Path) -> None:
    bad = disallowed(layer, imports_of(path))
    assert not bad, f"{path.relative_to(ROOT)} ({layer}) imports {sorted(bad)}, which its layer does not allow"


def test_only_the_engine_imports_simpy() -> None:
    importers = {str(path.relative_to(ROOT)) for _, path in layer_modules() if "simpy" in imports_of(path)}
    assert importers and all(p.startswith("simulator/engine/") for p in importers), sorted(importers)


def test_the_allow_list_refuses_what_it_should() -> None:
    assert disallowed("HTTP face", {"simpy", "simulator.engine.model", "fastapi"}) == {"simpy"}
    assert disallowed("pure core", {"simulator.engine.pipeline", "simulator.plan"}) == {"simulator.engine.pipeline"}
    assert disallowed("reports", {"simulator.scenario", "simulator.records"}) == {"simulator.scenario"}


@pytest.mark.slow  # a fresh interpreter
def test_the_pure_core_really_imports_without_simpy() -> None:
    import subprocess

    code = (
        "import sys; import simulator.limits, simulator.retry, simulator.cache, simulator.scenario, "
        "simulator.plan, simulator.catalog, simulator.records, simulator.metrics; "
        "assert 'simpy' not in sys.modules, 'simpy imported'; assert 'fastapi' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def private_imports(path: Path) -> set[str]:
    """``from project.module import _name``: a private name taken across a module boundary."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT:
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if alias.name.startswith("_") and not alias.name.startswith("__"))
    return found


def test_no_private_name_crosses_a_module() -> None:
    crossing = {str(path.relative_to(ROOT)): sorted(names) for _, path in layer_modules()
                if (names := private_imports(path))}
    assert crossing == {}


def test_the_engine_modules_import_each_other_without_a_cycle() -> None:
    """Type-checking imports count too: a cycle hidden behind TYPE_CHECKING is still a cycle of knowledge."""
    engine = {path.stem: path for path in (ROOT / "simulator" / "engine").glob("*.py")}
    graph = {name: {imported.rsplit(".", 1)[-1] for imported in imports_of(path)
                    if imported.startswith("simulator.engine.") and imported.rsplit(".", 1)[-1] in engine}
             for name, path in engine.items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for imported in graph[name]:
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
