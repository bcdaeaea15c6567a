"""multipart/mixed batch envelopes: split a request into inner HTTP requests, join the answers."""

import re
import secrets
from dataclasses import dataclass
from http import HTTPStatus

from .errors import ApiError

MAX_PARTS = 1000
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


@dataclass
class Part:
    content_id: str
    method: str
    target: str  # path and query, e.g. /admin/directory/v1/users?alt=json
    headers: dict  # lower-cased names
    body: bytes


def parse(content_type, body):
    """The inner requests of a batch body; 400 if it is not a usable multipart/mixed body."""
    match = _BOUNDARY.search(content_type or "")
    if not (content_type or "").lower().startswith("multipart/mixed") or not match:
        raise ApiError(400, "badContent", "Batch requests must be multipart/mixed with a boundary.")
    delimiter = b"\n--" + (match.group(1) or match.group(2)).encode()
    sections = (b"\n" + body).split(delimiter)[1:]
    parts = []
    for section in sections:
        if section.startswith(b"--"):
            break
        headers, content = _split_head(_strip_line_ends(section))
        parts.append(_inner_request(headers.get("content-id", ""), content))
    if not parts:
        raise ApiError(400, "badRequest", "Bad Request")
    if len(parts) > MAX_PARTS:
        raise ApiError(400, "badRequest", "A batch request cannot contain more than %d requests." % MAX_PARTS)
    return parts


def _strip_line_ends(section):
    section = section[section.find(b"\n") + 1 :]  # the rest of the delimiter line
    return section[:-1] if section.endswith(b"\r") else section


def _split_head(content):
    """Split 'Header: value' lines from the content after the first blank line (CRLF or LF)."""
    match = re.search(rb"\r?\n\r?\n", content)
    head, rest = (content[: match.start()], content[match.end() :]) if match else (content, b"")
    headers = {}
    # A long header (a Content-ID with a long id) may be folded onto continuation lines that start with
    # white space (RFC 5322 2.2.3); Python's email generator does this. Unfold before reading.
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", head.decode("utf-8", "replace"))
    for line in unfolded.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest


def _inner_request(content_id, content):
    request_line, _, rest = content.partition(b"\n")
    fields = request_line.decode("utf-8", "replace").strip().split(" ")
    if len(fields) < 2:
        raise ApiError(400, "badRequest", "Bad Request")
    headers, body = _split_head(rest)
    if "content-length" in headers and headers["content-length"].isdigit():
        body = body[: int(headers["content-length"])]
    return Part(content_id, fields[0].upper(), fields[1], headers, body)


def response_content_id(content_id, index):
    if content_id.startswith("<") and content_id.endswith(">"):
        return "<response-%s>" % content_id[1:-1]
    return "<response-item%d>" % index


def render(answers):
    """Join (content_id, status, headers, body) answers; returns (content_type, bytes).

    Each inner response separates its headers from its body with CRLFCRLF, which
    google-api-python-client requires.
    """
    boundary = "batch_" + secrets.token_urlsafe(12)
    out = []
    for content_id, status, headers, body in answers:
        out.append(
            ("--%s\r\nContent-Type: application/http\r\nContent-ID: %s\r\n\r\n" % (boundary, content_id)).encode()
        )
        lines = ["HTTP/1.1 %d %s" % (status, HTTPStatus(status).phrase)]
        lines += ["%s: %s" % item for item in headers.items()]
        lines += ["Content-Length: %d" % len(body)]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode() + body + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return "multipart/mixed; boundary=%s" % boundary, b"".join(out)
