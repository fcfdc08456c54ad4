"""A static check that every SQL statement is parameterized: the text handed to ``execute``, ``executemany``
or ``executescript`` must be a string literal, or a name that can only ever hold one — a module-level
constant (or a dict of them), a variable assigned literals, or a parameter of a helper whose every caller
passes a literal. f-strings, ``+``, ``%`` and ``.format`` in that position are findings, as is anything
the check cannot prove.

Test support, not a test module (``tests/test_security.py`` runs it over the project's code).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SqlFinding", "check_source", "check_paths"]

EXECUTE = frozenset({"execute", "executemany", "executescript"})
_MAX_DEPTH = 4


@dataclass(frozen=True)
class SqlFinding:
    path: str
    line: int
    code: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}: {self.code}"


@dataclass
class _Module:
    path: str
    tree: ast.Module
    constants: dict[str, ast.expr] = field(default_factory=dict)
    functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = field(default_factory=dict)
    owner: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)  # id(node) -> function

    @classmethod
    def parse(cls, source: str, path: str) -> _Module:
        module = cls(path, ast.parse(source))
        for node in module.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                module.constants[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                module.constants[node.target.id] = node.value
        for function in ast.walk(module.tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                module.functions.setdefault(function.name, []).append(function)
                for inner in ast.walk(function):
                    module.owner[id(inner)] = function  # innermost wins: walk visits outer functions first
        return module


def _is_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _literal_collection(node: ast.expr | None) -> bool:
    """A dict, tuple or list whose values are all string literals."""
    if isinstance(node, ast.Dict):
        return all(value is not None and _is_literal(value) for value in node.values)
    if isinstance(node, ast.Tuple | ast.List):
        return all(_is_literal(element) for element in node.elts)
    return False


class _Checker:
    def __init__(self, module: _Module) -> None:
        self.module = module
        self.findings: list[SqlFinding] = []
        self.checked = 0

    def run(self) -> None:
        for node in ast.walk(self.module.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EXECUTE \
                    and (node.args or node.keywords):  # execute() without arguments is not a SQL call
                sql = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "sql"), None)
                self.checked += 1
                why = "no SQL argument" if sql is None else self._why_not(sql, self.module.owner.get(id(node)), 0)
                if why:
                    self.findings.append(SqlFinding(self.module.path, node.lineno, ast.unparse(node), why))

    def _why_not(self, node: ast.expr, function: ast.FunctionDef | ast.AsyncFunctionDef | None, depth: int
                 ) -> str | None:
        """None when ``node`` can only be literal SQL; else why not."""
        if depth > _MAX_DEPTH:
            return "too indirect to prove literal"
        if _is_literal(node):
            return None
        if isinstance(node, ast.JoinedStr):
            return "f-string builds the SQL"
        if isinstance(node, ast.BinOp):
            return "SQL built with an operator (+ or %)"
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join", "replace"):
                return f"SQL built with .{node.func.attr}()"
            return "SQL is the result of a call"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if _literal_collection(self.module.constants.get(node.value.id)):
                return None
            return f"{node.value.id}[…] is not a module constant of literal statements"
        if isinstance(node, ast.Name):
            return self._why_not_name(node.id, function, depth)
        return f"cannot prove {type(node).__name__} is literal"

    def _why_not_name(self, name: str, function: ast.FunctionDef | ast.AsyncFunctionDef | None, depth: int
                      ) -> str | None:
        if function is not None:
            parameters = [a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)]
            if name in parameters:
                return self._why_not_callers(function, name, depth)
            sources: list[ast.expr] = []
            looped = False  # bound by a loop over a module constant of literal statements
            for node in ast.walk(function):
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                        for t in node.targets):
                    sources.append(node.value)
                elif isinstance(node, ast.For | ast.comprehension) and name in {
                        n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}:
                    iterated = node.iter
                    if isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Attribute) \
                            and iterated.func.attr in ("items", "values"):
                        iterated = iterated.func.value
                    if isinstance(iterated, ast.Name) and _literal_collection(self.module.constants.get(iterated.id)):
                        looped = True
                        continue
                    return f"{name} comes from iterating something that is not literal statements"
            for source in sources:
                why = self._why_not(source, function, depth + 1)
                if why:
                    return f"{name} = …: {why}"
            if sources or looped:
                return None
        constant = self.module.constants.get(name)
        if constant is not None:
            return self._why_not(constant, None, depth + 1)
        return f"{name} is not provably literal"

    def _why_not_callers(self, function: ast.FunctionDef | ast.AsyncFunctionDef, parameter: str, depth: int
                         ) -> str | None:
        positional = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
        index = positional.index(parameter) if parameter in positional else None
        is_method = bool(positional) and positional[0] in ("self", "cls")
        calls = [node for node in ast.walk(self.module.tree) if isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == function.name)
            or (isinstance(node.func, ast.Name) and node.func.id == function.name))]
        if not calls:
            return f"{parameter} is a parameter of {function.name}, which nothing here calls"
        for call in calls:
            argument: ast.expr | None = next((k.value for k in call.keywords if k.arg == parameter), None)
            if argument is None and index is not None:
                at = index - 1 if is_method and isinstance(call.func, ast.Attribute) else index
                argument = call.args[at] if 0 <= at < len(call.args) else None
            if argument is None:
                return f"a call of {function.name} passes no {parameter}"
            why = self._why_not(argument, self.module.owner.get(id(call)), depth + 1)
            if why:
                return f"{function.name}({parameter}=…) at line {call.lineno}: {why}"
        return None


def check_source(source: str, path: str = "<source>") -> tuple[int, list[SqlFinding]]:
    """(execute calls seen, findings) for one module's source."""
    checker = _Checker(_Module.parse(source, path))
    checker.run()
    return checker.checked, checker.findings


def check_paths(paths: list[Path]) -> tuple[int, list[SqlFinding]]:
    checked, findings = 0, []
    for path in paths:
        n, found = check_source(path.read_text(encoding="utf-8"), str(path))
        checked += n
        findings += found
    return checked, findings
