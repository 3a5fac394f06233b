"""What outbound writes on every mail it sends and tracking reads back from SES's events: the message tags
and the round (one approval of a notification). Shared here so that neither flow imports the other."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sesflow.netbox.records import NotificationVersion, PreparedNotification

#: SES message tags outbound sets on every message (tracking finds them in `mail.tags`).
NOTIFICATION_TAG: Final = "notification_id"
ROUND_TAG: Final = "outbound_round"
PART_TAG: Final = "outbound_part"


def round_of(notification: PreparedNotification | NotificationVersion) -> str:
    """A round is one approval: `failed → ready` re-snapshots `approved_at` and so starts a new one.
    The value is a valid SES tag value (letters, digits only)."""
    if notification.approved_at is None:
        return "unapproved"
    return notification.approved_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
