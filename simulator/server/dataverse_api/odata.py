"""The OData v4 query language the face understands, pure: ``$filter`` parsed and compiled to SQL, ``$select``,
``$orderby``, ``$top``, and the key in ``contacts(<guid>)`` or ``contacts(emailaddress1='a@b.c')``.

``$filter`` grammar (the subset; anything else is a 400 naming the position, as Dataverse's parser does)::

    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" or ")" | call | compare
    compare := column op literal            op: eq ne gt lt ge le
    call    := (contains | startswith | endswith) "(" column "," string ")"
    literal := 'text' ('' is a quote) | number | true | false | null | GUID | date-time (2026-01-31T09:00:00Z)

Columns compile through a ``resolve(name) -> Field`` the table gives (its SQL expression, how a literal is
stored), so this module knows no table. Text comparisons ignore case, as Dataverse's default collation does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.server.dataverse_api.errors import CODES, ODataError

__all__ = ["Field", "compile_filter", "parse_select", "parse_orderby", "parse_top", "parse_key", "GUID"]

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?(?![\w:]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<name>[A-Za-z_][\w.]*)
  | (?P<punct>[(),=])
""", re.VERBOSE)
_COMPARISONS = {"eq": "=", "ne": "!=", "gt": ">", "lt": "<", "ge": ">=", "le": "<="}
_FUNCTIONS = ("contains", "startswith", "endswith")
_KEYWORDS = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class Field:
    """A column as a filter sees it: its SQL expression, whether it is text (compared ignoring case) and how a
    literal becomes the stored value (a GUID to a row id, a date-time to model seconds); ``store`` raises
    ValueError for a literal the column cannot hold."""

    sql: str
    text: bool = False
    store: Callable[[Any], Any] = lambda value: value


def _syntax(message: str) -> ODataError:
    return ODataError(400, CODES["syntax"], message)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    tokens, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise _syntax(f"Syntax error at position {at} in '{text}': unexpected '{text[at]}'")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append((kind, match.group(), at))
        at = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, resolve: Callable[[str], Field]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.resolve = resolve
        self.params: list[Any] = []

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise _syntax(f"Syntax error at position {len(self.text)} in '{self.text}': the expression ends early")
        self.at += 1
        return token

    def expect(self, value: str) -> None:
        kind, text, position = self.take()
        if text != value:
            raise _syntax(f"Syntax error at position {position} in '{self.text}': expected '{value}', got '{text}'")

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] == word:
            self.at += 1
            return True
        return False

    def parse(self) -> str:
        sql = self.disjunction()
        token = self.peek()
        if token is not None:
            raise _syntax(f"Syntax error at position {token[2]} in '{self.text}': unexpected '{token[1]}'")
        return sql

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def unary(self) -> str:
        if self.keyword("not"):
            return f"(NOT {self.unary()})"
        token = self.peek()
        if token is not None and token[1] == "(":
            self.at += 1
            inner = self.disjunction()
            self.expect(")")
            return inner
        kind, name, position = self.take()
        if kind != "name":
            raise _syntax(f"Syntax error at position {position} in '{self.text}': expected a column, got '{name}'")
        if name in _FUNCTIONS:
            return self.call(name)
        return self.compare(name, position)

    def field(self, name: str) -> Field:
        return self.resolve(name)  # raises ODataError for a column the table does not have

    def literal(self) -> tuple[str, Any]:
        kind, text, position = self.take()
        if kind == "string":
            return kind, text[1:-1].replace("''", "'")
        if kind == "number":
            return kind, float(text) if any(c in text for c in ".eE") else int(text)
        if kind in ("guid", "datetime"):
            return kind, text
        if kind == "name" and text in _KEYWORDS:
            return kind, _KEYWORDS[text]
        raise _syntax(f"Syntax error at position {position} in '{self.text}': expected a value, got '{text}'")

    def stored(self, field: Field, name: str, value: Any) -> Any:
        try:
            return field.store(value)
        except (ValueError, TypeError) as exc:
            raise ODataError(400, CODES["syntax"], f"$filter: {value!r} is not a value of {name} ({exc})") from None

    def compare(self, name: str, position: int) -> str:
        field = self.field(name)
        kind, op, at = self.take()
        if op not in _COMPARISONS:
            raise _syntax(f"Syntax error at position {at} in '{self.text}': expected one of "
                          f"{', '.join(_COMPARISONS)} after {name}, got '{op}'")
        _, value = self.literal()
        if value is None:
            if op not in ("eq", "ne"):
                raise _syntax(f"$filter: null can only be compared with eq or ne ({name} {op} null)")
            return f"({field.sql} IS {'NOT ' if op == 'ne' else ''}NULL)"
        self.params.append(self.stored(field, name, value))
        collate = " COLLATE NOCASE" if field.text else ""
        return f"({field.sql}{collate} {_COMPARISONS[op]} ?)"

    def call(self, function: str) -> str:
        self.expect("(")
        kind, name, position = self.take()
        if kind != "name":
            raise _syntax(f"Syntax error at position {position} in '{self.text}': {function} takes a column first")
        field = self.field(name)
        self.expect(",")
        kind, value = self.literal()
        if kind != "string":
            raise _syntax(f"$filter: {function}({name}, …) takes a text value in quotes, e.g. {function}({name},'abc')")
        self.expect(")")
        if not field.text:
            raise ODataError(400, CODES["syntax"], f"$filter: {function} applies to text columns; {name} is not text")
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"contains": f"%{escaped}%", "startswith": f"{escaped}%", "endswith": f"%{escaped}"}[function]
        self.params.append(pattern)
        return f"({field.sql} LIKE ? ESCAPE '\\')"  # LIKE ignores ASCII case, as Dataverse's collation does


def compile_filter(text: str, resolve: Callable[[str], Field]) -> tuple[str, list[Any]]:
    """``$filter`` as a SQL condition and its parameters (every value a parameter, never spliced)."""
    parser = _Parser(text, resolve)
    return parser.parse(), parser.params


def parse_select(text: str | None) -> list[str] | None:
    """``$select=a,b`` → ["a", "b"]; None when absent (all columns)."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names) or any(not re.fullmatch(r"[A-Za-z_]\w*", name) for name in names):
        raise _syntax(f"$select={text!r}: expected column names separated by commas, "
                      "e.g. $select=fullname,emailaddress1")
    return names


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """``$orderby=a desc,b`` → [("a", True), ("b", False)] (True: descending)."""
    if not text:
        return []
    order = []
    for part in text.split(","):
        words = part.split()
        if len(words) not in (1, 2) or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise _syntax(f"$orderby={text!r}: expected column [asc|desc], separated by commas, e.g. "
                          "$orderby=createdon desc")
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


def parse_top(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise _syntax(f"$top={text!r}: expected a whole number, e.g. $top=50")
    return int(text)


def parse_key(text: str) -> str | dict[str, Any]:
    """The key in parentheses: a GUID (``contacts(00000000-…)``) or alternate-key values
    (``contacts(emailaddress1='a@b.c',lastname='X')`` → a dict)."""
    text = text.strip()
    if GUID.fullmatch(text):
        return text.lower()
    values: dict[str, Any] = {}
    try:
        tokens = _tokens(text)
    except ODataError:
        tokens = []
    at = 0
    while tokens and at < len(tokens):
        if at + 2 >= len(tokens) or tokens[at][0] != "name" or tokens[at + 1][1] != "=":
            break
        name, (kind, raw, _) = tokens[at][1], tokens[at + 2]
        if kind == "string":
            values[name] = raw[1:-1].replace("''", "'")
        elif kind in ("guid", "number", "datetime"):
            values[name] = raw
        else:
            break
        at += 3
        if at < len(tokens):
            if tokens[at][1] != ",":
                break
            at += 1
    else:
        if values:
            return values
    raise _syntax(f"the key ({text}) is neither a GUID nor alternate-key values like (emailaddress1='a@b.c')")
