"""``POST $batch``: a ``multipart/mixed`` body of requests, with change sets that are all or nothing.

Each part is ``Content-Type: application/http`` holding one request (``GET|POST|PATCH|DELETE <url> HTTP/1.1``,
headers, body); a change set is a nested ``multipart/mixed`` part whose requests commit together or not at all,
and whose ``Content-ID``s a later request of the set may use as its URL (``$1``). Outside change sets the batch
stops at the first failure unless ``Prefer: odata.continue-on-error``. The answer is ``multipart/mixed`` too, one
``application/http`` part per request (a failed change set: its failing request's answer alone), as Dataverse
answers it (Microsoft's "Execute batch operations using the Web API").

The whole batch is **one** request to service protection; its execution time is the sum of its operations'
(S8: a batch "will avoid the number of requests limit. However, you will need to be prepared for the execution
time limit"). At most 1,000 requests, as Dataverse allows.
"""

from __future__ import annotations

import email.parser
import email.policy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus

from simulator.plan import Call
from simulator.server.dataverse_api.errors import CODES, ODataError
from simulator.server.dataverse_api.operations import API_PATH, Answer, Context, Operation
from simulator.server.dataverse_api.protection import READ, WRITE
from simulator.server.dataverse_api.records import Records

__all__ = ["plan_batch", "MAX_REQUESTS"]

MAX_REQUESTS = 1000
Planner = Callable[[Context, str, str, str, Mapping[str, str], bytes], Operation]


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None


def _malformed(why: str) -> ODataError:
    return ODataError(400, CODES["syntax"], f"malformed $batch: {why}. Send multipart/mixed parts of "
                      "Content-Type: application/http, each holding one request (Microsoft's \"Execute batch "
                      "operations using the Web API\")")


def _parts(content_type: str, body: bytes) -> Message:
    if "multipart/mixed" not in content_type.lower() or "boundary=" not in content_type.lower():
        raise _malformed(f"Content-Type is {content_type!r}, not multipart/mixed with a boundary")
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart() or not message.get_payload():
        raise _malformed("no parts between the boundaries")
    return message


def _request(part: Message) -> _Request:
    if part.get_content_type() != "application/http":
        raise _malformed(f"a part of Content-Type {part.get_content_type()!r}")
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode("utf-8", "replace").strip("\n").split("\n")
    words = lines[0].split()
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise _malformed(f"a part starts {lines[0][:80]!r}, not a request line like 'GET contacts HTTP/1.1'")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise _malformed(f"a request header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return _Request(words[0].upper(), words[1], headers, body.strip(b"\n"), part.get("Content-ID"))


def _calls(request: _Request) -> list[Call]:
    return [READ if request.method == "GET" else WRITE]


def _path(url: str, references: Mapping[str, str]) -> tuple[str, str]:
    """(path below the API, query string) of a part's URL: absolute, rooted or relative, or a ``$n``."""
    if url.startswith("$"):
        reference, _, tail = url.partition("/")
        if reference not in references:
            raise ODataError(400, CODES["syntax"], f"$batch: {reference} names no Content-ID of this change set")
        url = references[reference] + (f"/{tail}" if tail else "")
    path, _, query = url.partition("?")
    if API_PATH in path:
        path = path.split(API_PATH, 1)[1]
    return path.lstrip("/"), query


def _http(answer: Answer, content_id: str | None) -> bytes:
    head = [b"Content-Type: application/http", b"Content-Transfer-Encoding: binary"]
    if content_id is not None:
        head.append(f"Content-ID: {content_id}".encode())
    reason = HTTPStatus(answer.status).phrase
    lines = [f"HTTP/1.1 {answer.status} {reason}".encode(), b"OData-Version: 4.0",
             *[f"{k}: {v}".encode() for k, v in answer.headers]]
    return b"\r\n".join(head) + b"\r\n\r\n" + b"\r\n".join(lines) + b"\r\n\r\n" + answer.body + b"\r\n"


def _multipart(boundary: str, parts: list[bytes]) -> bytes:
    return b"".join(f"--{boundary}\r\n".encode() + part for part in parts) + f"--{boundary}--\r\n".encode()


def _error(exc: ODataError) -> Answer:
    return Answer(exc.status, [("Content-Type", "application/json; odata.metadata=minimal")], exc.body())


def plan_batch(context: Context, content_type: str, headers: Mapping[str, str], body: bytes,
               planner: Planner) -> Operation:
    """The batch as one operation: its calls (one per request it holds), and a run that answers every part."""
    message = _parts(content_type, body)
    items: list[_Request | list[_Request]] = []
    for part in message.get_payload():
        assert isinstance(part, Message)
        if part.is_multipart():
            change_set = [_request(inner) for inner in part.get_payload() if isinstance(inner, Message)]
            if not change_set:
                raise _malformed("an empty change set")
            items.append(change_set)
        else:
            items.append(_request(part))
    requests = [r for item in items for r in (item if isinstance(item, list) else [item])]
    if len(requests) > MAX_REQUESTS:
        raise ODataError(400, CODES["syntax"], f"$batch holds at most {MAX_REQUESTS:,} requests; got {len(requests):,}")
    continue_on_error = "odata.continue-on-error" in headers.get("prefer", "").lower()

    def answer(records: Records, request: _Request, references: Mapping[str, str]) -> Answer:
        try:
            path, query = _path(request.url, references)
            operation = planner(context, request.method, path, query, request.headers, request.body)
            return operation.run(records)
        except ODataError as exc:
            return _error(exc)

    def run(records: Records) -> Answer:
        parts: list[bytes] = []
        for item in items:
            if isinstance(item, list):
                boundary = f"changesetresponse_{uuid.uuid4()}"
                answers: list[bytes] = []
                references: dict[str, str] = {}
                failed: Answer | None = None
                try:
                    with records.transaction():
                        for request in item:
                            result = answer(records, request, references)
                            if result.status >= 400:
                                failed = result
                                raise _RolledBack
                            answers.append(_http(result, request.content_id))
                            location = dict(result.headers).get("OData-EntityId")
                            if request.content_id and location:
                                references[f"${request.content_id}"] = location
                except _RolledBack:
                    pass
                if failed is not None:
                    parts.append(_http(failed, None))
                    if not continue_on_error:
                        break
                    continue
                parts.append(f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n".encode() +
                             _multipart(boundary, answers))
            else:
                result = answer(records, item, {})
                parts.append(_http(result, item.content_id))
                if result.status >= 400 and not continue_on_error:
                    break
        boundary = f"batchresponse_{uuid.uuid4()}"
        return Answer(200, [("Content-Type", f"multipart/mixed; boundary={boundary}")], _multipart(boundary, parts))

    return Operation([call for request in requests for call in _calls(request)], run)


class _RolledBack(Exception):
    """A change set's request failed: everything it did is undone."""

