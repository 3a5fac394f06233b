"""The local HTTP API turns real HTTP requests into API Gateway v2 events and answers with the handler's
response."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from sesflow.local.http_api import HttpApi, Route

pytestmark = pytest.mark.integration


@pytest.fixture
def api() -> Iterator[tuple[HttpApi, list[tuple[dict[str, Any], Any]]]]:
    seen: list[tuple[dict[str, Any], Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append((event, context))
        if event["rawPath"] == "/boom":
            raise RuntimeError("handler failure")
        return {"statusCode": 202, "headers": {"X-Answer": "yes"}, "body": json.dumps({"ok": True})}

    server = HttpApi()
    server.add_route(Route("POST", "/webhook/outbound", handler))
    server.add_route(Route("POST", "/boom", handler))
    server.start()
    yield server, seen
    server.stop()


def post(url: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, "X-Hook-Signature": "abc"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_request_becomes_a_v2_event_and_the_answer_a_response(api: Any) -> None:
    server, seen = api
    status, headers, body = post(f"{server.url}/webhook/outbound?x=1", b'{"id": 7}', "application/json")
    assert status == 202
    assert headers["X-Answer"] == "yes"
    assert json.loads(body) == {"ok": True}
    [(event, context)] = seen
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/webhook/outbound"
    assert event["rawQueryString"] == "x=1"
    assert event["requestContext"]["http"] == event["requestContext"]["http"] | {
        "method": "POST",
        "path": "/webhook/outbound",
    }
    assert event["headers"]["x-hook-signature"] == "abc"
    assert event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"id": 7}'
    assert event["isBase64Encoded"] is False
    assert 0 < context.get_remaining_time_in_millis() <= 30_000


def test_binary_body_arrives_base64_encoded(api: Any) -> None:
    server, seen = api
    post(f"{server.url}/webhook/outbound", b"\x00\xff", "application/octet-stream")
    event = seen[-1][0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"


def test_unknown_route_is_404_and_a_raising_handler_500(api: Any) -> None:
    server, _ = api
    assert post(f"{server.url}/nowhere", b"{}", "application/json")[0] == 404
    assert post(f"{server.url}/boom", b"{}", "application/json")[0] == 500


def test_stop_closes_the_port() -> None:
    server = HttpApi()
    url = server.start()
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
