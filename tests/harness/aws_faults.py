"""Make a real boto3 client receive an AWS error answer, as if the service had sent it.

The response goes through botocore's own parsing and retry logic; only the network hop is skipped.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.awsrequest import AWSResponse


class _RawBody:
    """The minimal raw-stream interface botocore reads an error body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any) -> bytes:
        return self._body


def error_response(
    url: str, code: str, message: str = "Maximum sending rate exceeded.", status: int = 429
) -> AWSResponse:
    """An error answer in the JSON protocol SES v2 uses."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse(url, status, {"x-amzn-ErrorType": code}, _RawBody(body))


def fail_sends(client: Any, code: str, *, times: int | None = None) -> list[str]:
    """Answer the client's SES v2 SendEmail calls with `code` (the first `times` of them, or all).

    Returns the list of URLs that were answered with the error, so a test can count attempts."""
    failed: list[str] = []

    def answer(request: Any, **_: Any) -> AWSResponse | None:
        if times is not None and len(failed) >= times:
            return None  # let the request through to the real server
        failed.append(request.url)
        return error_response(request.url, code)

    client.meta.events.register("before-send.sesv2.SendEmail", answer)
    return failed
