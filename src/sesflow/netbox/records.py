"""Typed views of the netbox-notices objects the flows read and write (its choices are plain strings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class MaintenanceStatus(StrEnum):
    TENTATIVE = "TENTATIVE"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    IN_PROCESS = "IN-PROCESS"
    COMPLETED = "COMPLETED"
    RE_SCHEDULED = "RE-SCHEDULED"
    UNKNOWN = "UNKNOWN"


class ImpactLevel(StrEnum):
    NO_IMPACT = "NO-IMPACT"
    REDUCED_REDUNDANCY = "REDUCED-REDUNDANCY"
    DEGRADED = "DEGRADED"
    OUTAGE = "OUTAGE"


class NotificationStatus(StrEnum):
    DRAFT = "draft"
    READY = "ready"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Maintenance:
    id: int
    name: str
    summary: str
    provider_id: int
    status: str
    start: datetime
    end: datetime
    impact_count: int

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Maintenance:
        provider = data["provider"]
        return cls(
            id=data["id"],
            name=data["name"],
            summary=data["summary"],
            provider_id=provider["id"] if isinstance(provider, dict) else int(provider),
            status=data["status"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            impact_count=data.get("impact_count", 0),
        )


@dataclass(frozen=True)
class MaintenanceDraft:
    name: str  # the provider's own event id
    summary: str
    provider_id: int
    start: datetime
    end: datetime
    status: MaintenanceStatus = MaintenanceStatus.CONFIRMED
    original_timezone: str = ""
    internal_ticket: str = ""
    replaces: int | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "summary": self.summary,
            "provider": self.provider_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "status": str(self.status),
            "original_timezone": self.original_timezone,
            "internal_ticket": self.internal_ticket,
        }
        if self.replaces is not None:
            body["replaces"] = self.replaces
        return body


@dataclass(frozen=True)
class Impact:
    id: int
    event_object_id: int
    target_content_type: int
    target_object_id: int
    impact: str | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Impact:
        return cls(
            id=data["id"],
            event_object_id=data["event_object_id"],
            target_content_type=data["target_content_type"],
            target_object_id=data["target_object_id"],
            impact=data.get("impact"),
        )


@dataclass(frozen=True)
class EventNotification:
    id: int
    event_object_id: int
    subject: str
    email_from: str
    email_received: datetime

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> EventNotification:
        return cls(
            id=data["id"],
            event_object_id=data["event_object_id"],
            subject=data["subject"],
            email_from=data["email_from"],
            email_received=datetime.fromisoformat(data["email_received"]),
        )


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    contact_id: int | None


@dataclass(frozen=True)
class PreparedNotification:
    id: int
    status: str
    subject: str
    body_text: str
    body_html: str
    css: str
    ical_content: str
    headers: dict[str, str]
    recipients: tuple[Recipient, ...]
    approved_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    etag: str | None = field(default=None, compare=False)

    @classmethod
    def from_api(cls, data: dict[str, Any], etag: str | None = None) -> PreparedNotification:
        recipients = tuple(
            Recipient(item["email"], item.get("name") or "", item.get("contact_id"))
            for item in data.get("recipients") or ()
        )
        return cls(
            id=data["id"],
            status=data["status"],
            subject=data["subject"],
            body_text=data.get("body_text") or "",
            body_html=data.get("body_html") or "",
            css=data.get("css") or "",
            ical_content=data.get("ical_content") or "",
            headers=dict(data.get("headers") or {}),
            recipients=recipients,
            approved_at=_when(data.get("approved_at")),
            sent_at=_when(data.get("sent_at")),
            delivered_at=_when(data.get("delivered_at")),
            etag=etag,
        )


def etag_of(data: Mapping[str, Any]) -> str | None:
    """The weak ETag NetBox (≥ 4.6) gives an object's detail read, made from its `last_updated`; derived
    from a list item it saves a read per object. A wrong guess costs a 412 and a re-read."""
    stamp = data.get("last_updated") or data.get("created")
    if not isinstance(stamp, str):
        return None
    try:
        return f'W/"{datetime.fromisoformat(stamp).isoformat()}"'
    except ValueError:
        return None


@dataclass(frozen=True)
class NotificationVersion:
    """Where a prepared notification stands: its status, the approval it is in, and its ETag."""

    id: int
    status: str
    approved_at: datetime | None
    etag: str | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> NotificationVersion:
        return cls(data["id"], data["status"], _when(data.get("approved_at")), etag_of(data))


@dataclass(frozen=True)
class JournalEntry:
    id: int
    object_type: str
    object_id: int
    kind: str
    comments: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> JournalEntry:
        kind = data["kind"]
        return cls(
            id=data["id"],
            object_type=data["assigned_object_type"],
            object_id=data["assigned_object_id"],
            kind=kind["value"] if isinstance(kind, dict) else kind,
            comments=data["comments"],
        )
