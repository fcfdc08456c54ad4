"""Dataverse's error answer, ``{"error": {"code": "0x…", "message": "…"}}`` (S10), as one exception.

    ODataError(status, code, message)      raised anywhere in the face; ``routes`` turns it into the answer
      .status      the HTTP status
      .code        Dataverse's hex code (see CODES), "" where Dataverse sends none
      .message     what went wrong and, outside the supported subset, what is supported

The codes are the ones Dataverse sends for these cases (S10, and as seen in its answers): a segment or query
option it cannot parse ``0x80060888``, a record that does not exist ``0x80040217``, a duplicate alternate key
``0x80040237``, an attribute the table does not have ``0x80041103``. The 429 codes are the limiter's
(``simulator/limits.py``).
"""

from __future__ import annotations

import json

__all__ = ["ODataError", "CODES", "error_json", "not_supported"]

CODES = {
    "syntax": "0x80060888",  # ODataException: bad segment, bad query option
    "not_found": "0x80040217",  # "<table> With Id = <id> Does Not Exist"
    "duplicate": "0x80040237",  # "A record with matching key values already exists."
    "attribute": "0x80041103",  # "'<table>' entity doesn't contain attribute with Name = '<name>'"
    "read_only": "0x80040203",  # invalid argument
    "unauthorized": "",
    "unavailable": "",
}


class ODataError(Exception):
    """An answer in Dataverse's error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return error_json(self.code, self.message)


def error_json(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":")).encode()


def not_supported(what: str, supported: str) -> ODataError:
    """Outside the face's subset: 501 saying what is supported (docs/dataverse-client.md has the table)."""
    return ODataError(501, CODES["syntax"], f"{what} is not supported by Stampede's Dataverse face; it supports "
                      f"{supported} (docs/dataverse-client.md)")
