"""Prepared notifications as the tracking rule sees them (read with NetBox's clock), and the rule's writes.

`Notifications` is the port; `NetBoxNotifications` is NetBox through `NoticesApi`, and
`sesflow.notices.tracking.dry_run.DryRunNotifications` reads NetBox and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import PreparedNotification
from sesflow.notices.rounds import round_of
from sesflow.notices.tracking.outcomes import Action, Transition
from sesflow.notices.tracking.report import logger
from sesflow.notices.tracking.rule import NotificationView


class Notifications(Protocol):
    def read(self, notification_id: int) -> NotificationView:
        """The notification as the rule needs it; NetBoxNotFound when NetBox has no such notification."""
        ...

    def has_marker(self, notification_id: int, marker: str) -> bool:
        """Whether a journal entry (ours, or the plugin's for a transition message) carries the marker."""
        ...

    def apply(self, notification_id: int, etag: str | None, actions: Sequence[Action]) -> None:
        """The actions in order; transitions carry the ETag read, so a concurrent change is refused."""
        ...


def netbox_clock(headers: Mapping[str, str], data: Mapping[str, Any]) -> datetime:
    """NetBox's time: its `Date` header, or the object's latest timestamp if that is later (the header has
    whole seconds, so it never runs ahead of NetBox)."""
    moments: list[datetime] = []
    date = next((value for name, value in headers.items() if name.lower() == "date"), None)
    if date:
        try:
            moments.append(parsedate_to_datetime(date))
        except (TypeError, ValueError):
            logger.warning("NetBox sent an unreadable Date header", extra={"date": date})
    for name in ("last_updated", "approved_at", "sent_at", "delivered_at"):
        if isinstance(value := data.get(name), str) and value:
            moments.append(datetime.fromisoformat(value))
    if not moments:
        raise ValueError("NetBox's answer has neither a Date header nor a timestamp to learn its clock from")
    return max(moment if moment.tzinfo else moment.replace(tzinfo=UTC) for moment in moments)


class NetBoxNotifications:
    """Prepared notifications read with NetBox's clock, and the rule's actions written."""

    def __init__(self, api: NoticesApi) -> None:
        self.api = api

    def read(self, notification_id: int) -> NotificationView:
        answer = self.api.prepared_notification_answer(notification_id)
        notification = PreparedNotification.from_api(answer.data, answer.etag)
        return NotificationView(
            id=notification.id,
            status=notification.status,
            recipients=tuple(dict.fromkeys(r.email.strip().lower() for r in notification.recipients)),
            approved_at=notification.approved_at,
            sent_at=notification.sent_at,
            netbox_now=netbox_clock(answer.headers, answer.data),
            etag=notification.etag,
            round=round_of(notification) if notification.approved_at else "",
        )

    def has_marker(self, notification_id: int, marker: str) -> bool:
        return any(marker in entry.comments for entry in self.api.journal_entries(notification_id))

    def apply(self, notification_id: int, etag: str | None, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, Transition):
                changed = self.api.transition(
                    notification_id,
                    action.status,
                    message=action.message,
                    timestamp=action.timestamp,
                    if_match=etag,
                )
                etag = changed.etag
            else:
                self.api.add_journal_entry(notification_id, action.comments, kind=action.kind)
