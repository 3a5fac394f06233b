"""The real NetBox 4.7 made to behave as 4.5 does towards sesflow: a proxy that drops `If-Match` from every
request (4.5 ignores it) and `ETag` from every answer (4.5 sends none), and reports `/api/status/` as 4.5.
Everything else passes through unchanged, and what reached NetBox is counted as by `FaultProxy`."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .fault_proxy import FaultProxy

#: The version the proxy reports: the oldest NetBox netbox-notices 1.3.0 supports.
REPORTED_VERSION = "4.5.10"


def without_header(message: bytes, name: bytes) -> bytes:
    """An HTTP request or answer with every header line called `name` (any case) removed."""
    head, separator, body = message.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if line.split(b":", 1)[0].strip().lower() != name]
    return b"\r\n".join(lines) + separator + body


def with_body(answer: bytes, body: bytes) -> bytes:
    """The answer with a new body and the Content-Length that goes with it."""
    head = answer.partition(b"\r\n\r\n")[0]
    if b"transfer-encoding: chunked" in head.lower():
        raise AssertionError("the proxy rewrites only bodies sent with a Content-Length")
    rewritten = without_header(head + b"\r\n\r\n", b"content-length").removesuffix(b"\r\n\r\n")
    return rewritten + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


def reported_as(answer: bytes, version: str) -> bytes:
    status = json.loads(answer.partition(b"\r\n\r\n")[2])
    status["netbox-version"] = status["netbox-full-version"] = version
    return with_body(answer, json.dumps(status).encode())


@dataclass
class NoETagProxy(FaultProxy):
    """`url` is a NetBox that neither sends ETags nor honours If-Match, and says it is `version` (None:
    the version NetBox gives, as a proxy in front of a newer NetBox that strips the headers would)."""

    version: str | None = REPORTED_VERSION

    def _forward(self, request: bytes) -> bytes:
        answer = without_header(super()._forward(without_header(request, b"if-match")), b"etag")
        path = request.split(b" ", 2)[1]
        if self.version and path.startswith(b"/api/status/") and answer.startswith(b"HTTP/1.1 200"):
            return reported_as(answer, self.version)
        return answer
