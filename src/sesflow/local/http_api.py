"""API Gateway's HTTP API (payload format 2.0) on a real loopback port: each request becomes the event a
Lambda function behind the API would get, and the handler's answer becomes the HTTP response."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sesflow.local.lambda_context import LocalLambdaContext
from sesflow.local.ports import LOOPBACK

logger = logging.getLogger(__name__)

type ApiHandler = Callable[[dict[str, Any], Any], Mapping[str, Any]]

#: Content types API Gateway passes as text; anything else arrives base64-encoded with the flag set.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: ApiHandler
    function_name: str = "sesflow-local-api"
    timeout_seconds: float = 30.0


def _headers_and_cookies(headers: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Header names lower case, repeated ones joined by commas; cookies apart, as HTTP API 2.0 gives them."""
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    return lowered, cookies


def api_event(
    method: str, raw_path: str, headers: Mapping[str, str], body: bytes, *, source_ip: str = LOOPBACK
) -> dict[str, Any]:
    """The HTTP API v2 event for one request (header names lower case, repeated ones joined by commas)."""
    path, _, query = raw_path.partition("?")
    lowered, cookies = _headers_and_cookies(headers)
    content_type = lowered.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", LOOPBACK),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        event["queryStringParameters"] = {
            key: ",".join(v for k, v in pairs if k == key) for key in dict.fromkeys(k for k, _ in pairs)
        }
    if body:
        event["body"] = body.decode("utf-8") if is_text else base64.b64encode(body).decode("ascii")
    return event


def response_parts(result: object) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body from a handler's answer, read the way HTTP API 2.0 reads it: a dict with
    `statusCode` is a full response; anything else is JSON for a 200."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result["statusCode"]), headers, raw


@dataclass
class HttpApi:
    """A threaded HTTP server; `start()` returns its base URL, `stop()` closes the port."""

    routes: list[Route] = field(default_factory=list)
    host: str = LOOPBACK
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    requests_served: int = 0

    def add_route(self, route: Route) -> None:
        self.routes.append(route)

    def find(self, method: str, path: str) -> Route | None:
        return next((r for r in self.routes if r.method == method and r.path == path), None)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the HTTP API is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        api = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = api.dispatch(
                    method, self.path, dict(self.headers.items()), body, self.client_address[0]
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                logger.debug("http api: " + format, *args)

        self._server = ThreadingHTTPServer((self.host, self.port), RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-api", daemon=True)
        self._thread.start()
        return self.url

    def dispatch(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        route = self.find(method, urlsplit(raw_path).path)
        if route is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        event = api_event(method, raw_path, headers, body, source_ip=source_ip)
        context = LocalLambdaContext.start(route.function_name, route.timeout_seconds)
        self.requests_served += 1
        started = time.monotonic()
        try:
            result = route.handler(event, context)
        except SystemExit:
            # The function's container died mid-request: API Gateway answers 502.
            logger.warning("handler for %s %s was killed", method, route.path)
            return 502, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        except Exception:
            # API Gateway answers 500 when the integration fails; the trace goes to the stack's log.
            logger.exception("handler for %s %s raised", method, route.path)
            return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        logger.debug("%s %s answered in %.3fs", method, route.path, time.monotonic() - started)
        return response_parts(result)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
