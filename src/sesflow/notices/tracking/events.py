"""SES sending events as typed records: what happened, to which message and recipient, and when.

Reads both shapes SES publishes — event publishing (`eventType`) and the older feedback notifications
(`notificationType`) — from an SES JSON object, an SNS envelope (an SQS body without raw delivery) or a raw
SQS body. One event may cover several recipients: it is split into one `Observation` per recipient.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from enum import StrEnum
from typing import Any, Final

from sesflow.notices.rounds import NOTIFICATION_TAG, ROUND_TAG


class EventType(StrEnum):
    SEND = "Send"
    DELIVERY = "Delivery"
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    REJECT = "Reject"
    RENDERING_FAILURE = "Rendering Failure"
    DELIVERY_DELAY = "DeliveryDelay"
    OPEN = "Open"
    CLICK = "Click"
    SUBSCRIPTION = "Subscription"


#: Where each type keeps its details (the `failure` object belongs to Rendering Failure).
_DETAIL_KEY: Final = {
    EventType.SEND: "send",
    EventType.DELIVERY: "delivery",
    EventType.BOUNCE: "bounce",
    EventType.COMPLAINT: "complaint",
    EventType.REJECT: "reject",
    EventType.RENDERING_FAILURE: "failure",
    EventType.DELIVERY_DELAY: "deliveryDelay",
    EventType.OPEN: "open",
    EventType.CLICK: "click",
    EventType.SUBSCRIPTION: "subscription",
}


class UnreadableEvent(ValueError):
    """Not an SES event this flow can read (a retry would read the same bytes)."""


@dataclass(frozen=True)
class Observation:
    """One recipient's share of an event. `recipient` is empty when the event concerns the whole mail and
    names no one (Send; Open and Click of a mail with several recipients)."""

    recipient: str
    detail: str
    timestamp: datetime


@dataclass(frozen=True)
class SesEvent:
    type: EventType
    message_id: str
    sent_at: datetime  # mail.timestamp: when SES accepted the message
    timestamp: datetime  # the event's own time (the send time for Send, Reject and Rendering Failure)
    destination: tuple[str, ...]
    tags: Mapping[str, tuple[str, ...]]
    observations: tuple[Observation, ...]
    bounce_type: str = ""  # Permanent, Transient or Undetermined, for a Bounce
    legacy: bool = False  # the older `notificationType` shape

    @property
    def notification_id(self) -> int | None:
        """Our tag, or None for another sender's mail (or a feedback notification, which has no tags)."""
        values = self.tags.get(NOTIFICATION_TAG) or ()
        for value in values:
            if value.strip().isdigit():
                return int(value)
        return None

    @property
    def round(self) -> str:
        """Outbound's round tag (one per approval of the notification), or `-` when the mail has none."""
        return next(iter(self.tags.get(ROUND_TAG) or ()), "-")

    @property
    def is_failure(self) -> bool:
        """An outcome that means the notification did not reach someone, for good."""
        if self.type is EventType.BOUNCE:
            return self.bounce_type == "Permanent"
        return self.type in {EventType.COMPLAINT, EventType.REJECT, EventType.RENDERING_FAILURE}

    def identity(self, observation: Observation) -> str:
        """The event's identity for dedupe: SES message id, type, recipient and the event's time. Opens and
        clicks leave the time out: one journal entry per type and recipient is enough."""
        parts = [self.message_id, str(self.type), observation.recipient]
        if self.type not in {EventType.OPEN, EventType.CLICK}:
            parts.append(observation.timestamp.isoformat())
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def normalise_address(value: str) -> str:
    """`Name <a@b>` or `a@b` → `a@b`, lower-cased (SES echoes addresses as they were given)."""
    return parseaddr(value)[1].strip().lower() or value.strip().lower()


def _time(value: object, what: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise UnreadableEvent(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise UnreadableEvent(f"{what} is not a timestamp: {value!r}") from error
    if moment.tzinfo is None:
        raise UnreadableEvent(f"{what} has no time zone: {value!r}")
    return moment


def _tags(raw: object) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        return {}
    tags: dict[str, tuple[str, ...]] = {}
    for name, values in raw.items():
        if isinstance(values, str):
            tags[str(name)] = (values,)
        elif isinstance(values, Sequence):
            tags[str(name)] = tuple(str(value) for value in values)
    return tags


def _addresses(items: object, key: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Recipients as (address, their entry): `recipients` is a list of strings, the others of objects."""
    found: list[tuple[str, dict[str, Any]]] = []
    for item in items if isinstance(items, list) else []:
        if key is None and isinstance(item, str):
            found.append((normalise_address(item), {}))
        elif key is not None and isinstance(item, Mapping) and isinstance(item.get(key), str):
            found.append((normalise_address(item[key]), dict(item)))
    return found


def _observations(
    kind: EventType, details: Mapping[str, Any], destination: tuple[str, ...], when: datetime
) -> tuple[Observation, ...]:
    if kind is EventType.DELIVERY:
        response = str(details.get("smtpResponse") or "")
        return tuple(Observation(a, response, when) for a, _ in _addresses(details.get("recipients")))
    if kind in {EventType.BOUNCE, EventType.DELIVERY_DELAY}:
        listed = "bouncedRecipients" if kind is EventType.BOUNCE else "delayedRecipients"
        return tuple(
            Observation(a, str(entry.get("diagnosticCode") or entry.get("status") or ""), when)
            for a, entry in _addresses(details.get(listed), "emailAddress")
        )
    if kind is EventType.COMPLAINT:
        feedback = str(details.get("complaintFeedbackType") or "complaint")
        return tuple(
            Observation(a, feedback, when)
            for a, _ in _addresses(details.get("complainedRecipients"), "emailAddress")
        )
    if kind in {EventType.REJECT, EventType.RENDERING_FAILURE}:
        # SES refused the whole message: one outcome for all its recipients.
        reason = str(details.get("reason") or details.get("errorMessage") or kind)
        return (Observation(", ".join(destination) or "all recipients", reason, when),)
    if kind in {EventType.OPEN, EventType.CLICK}:
        # SES does not say which recipient opened: only a one-recipient mail names them.
        who = destination[0] if len(destination) == 1 else ""
        what = str(details.get("link") or details.get("userAgent") or "")
        return (Observation(who, what, when),)
    return (Observation("", "", when),)


def read_ses_event(message: Mapping[str, Any]) -> SesEvent:
    """The typed event of one SES JSON object (either shape)."""
    raw_type = message.get("eventType") or message.get("notificationType")
    try:
        kind = EventType(str(raw_type))
    except ValueError as error:
        raise UnreadableEvent(f"unknown SES event type {raw_type!r}") from error
    mail = message.get("mail")
    if not isinstance(mail, Mapping) or not isinstance(mail.get("messageId"), str):
        raise UnreadableEvent("the event has no mail.messageId")
    details = message.get(_DETAIL_KEY[kind]) or {}
    if not isinstance(details, Mapping):
        raise UnreadableEvent(f"{_DETAIL_KEY[kind]} is not an object")
    sent_at = _time(mail.get("timestamp"), "mail.timestamp")
    own = details.get("timestamp")
    when = _time(own, f"{_DETAIL_KEY[kind]}.timestamp") if own else sent_at
    destination = tuple(a for a, _ in _addresses(mail.get("destination")))
    return SesEvent(
        type=kind,
        message_id=mail["messageId"],
        sent_at=sent_at,
        timestamp=when,
        destination=destination,
        tags=_tags(mail.get("tags")),
        observations=_observations(kind, details, destination, when),
        bounce_type=str(details.get("bounceType") or "") if kind is EventType.BOUNCE else "",
        legacy="eventType" not in message,
    )


def unwrap(body: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The SES JSON inside an SQS body or SNS message: an SNS envelope's `Message`, or the body itself when
    the subscription delivers raw messages."""
    try:
        data = json.loads(body) if isinstance(body, str) else body
    except json.JSONDecodeError as error:
        raise UnreadableEvent(f"not JSON: {error.msg} at character {error.pos}") from error
    if not isinstance(data, Mapping):
        raise UnreadableEvent("the message is not a JSON object")
    if data.get("Type") == "Notification" and "Message" in data:
        return unwrap(data["Message"])
    return data


def read_message(body: str | Mapping[str, Any]) -> SesEvent:
    """The event in an SQS body, an SNS envelope or an SES JSON object."""
    return read_ses_event(unwrap(body))
