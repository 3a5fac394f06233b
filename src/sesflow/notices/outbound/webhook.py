"""NetBox's webhook for a prepared notification, through API Gateway's HTTP API (payload 2.0):

    POST /webhook/outbound → verify the signature → read the notification id → send it (re-read from NetBox)

The signature is checked first, on the exact body bytes; nothing of the body is believed but the id.
Payloads of NetBox 4.5 to 4.7 (`object_type`, status a plain string) and older ones (`model`) are accepted:
only `object_type`, `event` and `data.id` are read, so the keys the versions differ in (`username` and
`request_id` until 4.6, `request` from 4.6) change nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from sesflow.notices.outbound.delivery import OutboundDeps
from sesflow.notices.outbound.outcomes import report
from sesflow.notices.outbound.pipeline import send_one

WEBHOOK_PATH: Final = "/webhook/outbound"
SIGNATURE_HEADER: Final = "X-Hook-Signature"
OBJECT_TYPE: Final = "notices.preparednotification"
MODEL: Final = "preparednotification"  # the key NetBox < 4.5 sent instead of `object_type`
EVENTS: Final = frozenset({"created", "updated"})
OTHER_METHODS: Final = ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class NotANotificationEvent(ValueError):
    """The body is not a NetBox event about a prepared notification."""


@dataclass(frozen=True)
class WebhookAnswer:
    """What the send reported, as the webhook answers it (202 and a small JSON body)."""

    notification_id: int
    result: str  # a `Result`'s value


def signature_of(body: bytes, secret: str) -> str:
    """NetBox's signature: hex HMAC-SHA512 of the exact body bytes, keyed with the secret (UTF-8)."""
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def signature_is_valid(body: bytes, signature: str | None, secret: str) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(signature_of(body, secret).encode(), signature.strip().lower().encode())


def body_bytes(body: str | None, is_base64_encoded: bool) -> bytes:
    """The bytes NetBox signed: API Gateway base64-encodes a body it does not take for text."""
    if body is None:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            return b""  # undecodable: no signature can match it
    return body.encode()


def notification_id_from(body: bytes) -> int:
    """The id of the prepared notification the event is about; its other data is not trusted."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise NotANotificationEvent("body is not JSON") from error
    if not isinstance(payload, dict):
        raise NotANotificationEvent("body is not a JSON object")
    object_type = payload.get("object_type")
    if object_type is None and payload.get("model") == MODEL:
        object_type = OBJECT_TYPE
    if object_type != OBJECT_TYPE:
        raise NotANotificationEvent(f"not a prepared notification event (object_type {object_type!r})")
    if payload.get("event") not in EVENTS:
        raise NotANotificationEvent(f"event {payload.get('event')!r} is not created or updated")
    data = payload.get("data")
    identifier = data.get("id") if isinstance(data, dict) else None
    if isinstance(identifier, bool) or not isinstance(identifier, int) or identifier < 1:
        raise NotANotificationEvent("data.id is not a notification id")
    return identifier


def _json(status: int, body: dict[str, Any] | None = None) -> Response[str]:
    return Response(status, content_types.APPLICATION_JSON, json.dumps(body or {}))


def webhook_resolver(secret: str | None, send: Callable[[int], WebhookAnswer]) -> APIGatewayHttpResolver:
    """The HTTP API's routes. Without a secret there is no webhook: every path answers 404."""
    app = APIGatewayHttpResolver()

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return _json(404, {"message": "not found"})

    if secret is None:
        return app

    @app.post(WEBHOOK_PATH)
    def receive() -> Response[str]:
        event = app.current_event
        body = body_bytes(event.body, bool(event.is_base64_encoded))
        signature = next(
            (value for name, value in event.headers.items() if name.lower() == SIGNATURE_HEADER.lower()), None
        )
        if not signature_is_valid(body, signature, secret):
            return _json(403)
        try:
            notification_id = notification_id_from(body)
        except NotANotificationEvent as error:
            return _json(400, {"message": str(error)})
        answer = send(notification_id)
        return _json(202, {"notification_id": answer.notification_id, "result": answer.result})

    @app.route(WEBHOOK_PATH, method=OTHER_METHODS)
    def wrong_method() -> Response[str]:
        return Response(405, content_types.APPLICATION_JSON, "{}", headers={"Allow": "POST"})

    return app


def resolver_for(deps: OutboundDeps) -> APIGatewayHttpResolver:
    """The webhook's routes, sending through the outbound steps with `deps`."""

    def send_named(notification_id: int) -> WebhookAnswer:
        outcome = send_one(notification_id, deps)
        report(outcome)
        return WebhookAnswer(notification_id, str(outcome.result))

    return webhook_resolver(deps.settings.webhook_secret, send_named)
