"""The outbound handler's two triggers, read into typed records before anything acts on them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class UnknownEvent(ValueError):
    """Neither an EventBridge schedule nor an API Gateway HTTP API request."""


@dataclass(frozen=True)
class ScheduledPoll:
    """EventBridge's `Scheduled Event`: send every `ready` notification."""

    time: str


@dataclass(frozen=True)
class WebhookRequest:
    """An API Gateway HTTP API request (payload 2.0), answered by the webhook's routes."""

    method: str
    path: str
    raw: Mapping[str, Any]


type OutboundEvent = ScheduledPoll | WebhookRequest


def read_event(event: Mapping[str, Any]) -> OutboundEvent:
    """The trigger an event came from, by the fields each trigger always sets."""
    request = event.get("requestContext")
    if isinstance(request, Mapping) and isinstance(request.get("http"), Mapping):
        http = request["http"]
        return WebhookRequest(str(http.get("method", "")), str(http.get("path", "")), event)
    if event.get("detail-type") == "Scheduled Event":
        return ScheduledPoll(str(event.get("time", "")))
    raise UnknownEvent("outbound expects an EventBridge scheduled event or an HTTP API request")
