"""The face's OData query language, pure: ``$filter`` compiles to SQL in which every value is a parameter and
every identifier a table definition's, whatever a client sends; bad queries are 400s in Dataverse's shape."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.server.dataverse_api.errors import ODataError
from simulator.server.dataverse_api.odata import Field, compile_filter, parse_key, parse_orderby, parse_select
from simulator.server.dataverse_api.tables import TABLES

CONTACTS = TABLES["contacts"]
SQL_OF = {c.name: c.sql for c in CONTACTS.columns}


def _resolve(name: str) -> Field:
    column = CONTACTS.column(name)  # ODataError for a name the table does not define
    return Field(column.sql, text=column.kind == "text")


# What compiled SQL may contain: the table's column expressions, operators, placeholders — never client text.
_VOCABULARY = re.compile("|".join([*(re.escape(sql) for sql in sorted(SQL_OF.values(), key=len, reverse=True)),
                                   r"\s+", r"[()?]", r"COLLATE NOCASE", r"AND", r"OR", r"NOT", r"IS", r"NULL",
                                   r"LIKE", r"ESCAPE '\\'", r"!=", r">=", r"<=", r"[=<>]"]))


def _only_vocabulary(sql: str) -> bool:
    return _VOCABULARY.sub("", sql) == ""


@pytest.mark.parametrize("text", [
    "firstname eq 'x'' OR 1=1 --'",
    "emailaddress1 eq 'a@b.c''); DROP TABLE contacts; --'",
    "contains(lastname,'%_\\')",
    "firstname eq 'a' or (lastname ne 'b' and not emailaddress1 eq null)",
])
def test_client_text_reaches_sql_only_as_parameters(text: str) -> None:
    sql, params = compile_filter(text, _resolve)
    assert _only_vocabulary(sql), sql
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, "
               "created_s REAL, updated_s REAL)")
    db.execute("INSERT INTO contacts VALUES (1, 'a@b.c', 'x'' OR 1=1 --', '%_\\', 0, 0)")
    db.execute(f"SELECT id FROM contacts WHERE {sql}", params).fetchall()  # runs; the table is still there
    assert db.execute("SELECT COUNT(*) FROM contacts").fetchone() == (1,)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*"abcdefl1 ()',=;-*%_\\", " eq ", " or ", " and ", " not ", "contains(",
                                 "firstname", "null"]), max_size=16).map("".join))
def test_any_filter_text_is_refused_as_a_400_or_compiled_to_the_vocabulary(text: str) -> None:
    try:
        sql, _ = compile_filter(text, _resolve)
    except ODataError as exc:
        assert exc.status == 400 and exc.code == "0x80060888" or exc.code == "0x80041103"
    else:
        assert _only_vocabulary(sql), (text, sql)


def test_select_orderby_and_keys_take_names_not_sql() -> None:
    for bad in ("firstname;drop", "a b", "", "x,,y"):
        with pytest.raises(ODataError):
            parse_select(bad)
    with pytest.raises(ODataError):
        parse_orderby("firstname sideways")
    with pytest.raises(ODataError, match="doesn't contain attribute"):
        CONTACTS.column("id; DROP TABLE contacts")
    assert parse_orderby("firstname desc, lastname") == [("firstname", True), ("lastname", False)]
    assert parse_key("emailaddress1='o''brien@x.y'") == {"emailaddress1": "o'brien@x.y"}
    with pytest.raises(ODataError, match="neither a GUID"):
        parse_key("1) OR (1=1")
