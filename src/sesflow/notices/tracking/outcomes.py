"""What tracking decides and what became of each recipient's share of an event: the NetBox writes the
rule calls for, its verdict, and the flow's own verdicts (a duplicate, another run's event, another sender's
mail)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sesflow.netbox.records import NotificationStatus
from sesflow.notices.tracking.events import EventType


class Verdict(StrEnum):
    """Logged as `decision`, counted as `tracking_decision_<verdict>` (`+` as `_`), printed by the CLI."""

    # the rule's
    DELIVERED = "delivered"
    FAILED = "failed"
    JOURNAL = "journal"
    LATE = "late"  # an outcome after the final status
    WAITING = "waiting"  # more recipients to hear from
    NOTHING = "nothing"
    EARLIER_ROUND = "earlier_round"
    WAIT_FOR_SEND = "wait_for_send"  # not `sent`, and nothing shows it was: try again later
    # the rule's, once it completed `ready → sent` first
    SENT_DELIVERED = "sent+delivered"
    SENT_FAILED = "sent+failed"
    SENT_JOURNAL = "sent+journal"
    SENT_WAITING = "sent+waiting"
    SENT_NOTHING = "sent+nothing"
    # the flow's, before the rule is asked
    IGNORED = "ignored"  # no notification_id tag: another sender's mail
    DUPLICATE = "duplicate"
    BUSY = "busy"
    UNKNOWN_NOTIFICATION = "unknown_notification"
    REPLAYED = "replayed"

    def after_send(self) -> Verdict:
        """This verdict, reached after completing the send."""
        return Verdict(f"sent+{self}")


@dataclass(frozen=True)
class Transition:
    status: NotificationStatus
    timestamp: datetime
    message: str


@dataclass(frozen=True)
class JournalNote:
    kind: str
    comments: str


type Action = Transition | JournalNote


@dataclass(frozen=True)
class Decision:
    """The rule's verdict on one observation and the NetBox writes it calls for, in order."""

    verdict: Verdict
    actions: tuple[Action, ...] = ()
    detail: str = ""

    @property
    def retry_later(self) -> bool:
        return self.verdict is Verdict.WAIT_FOR_SEND


@dataclass(frozen=True)
class Tracked:
    """What became of one recipient's share of an event (one log line each)."""

    event_type: EventType
    message_id: str
    notification_id: int | None
    recipient: str
    verdict: Verdict
    detail: str = ""
    actions: tuple[Action, ...] = ()
    retry: bool = False

    def log_fields(self) -> dict[str, Any]:
        return {
            "event_type": str(self.event_type),
            "ses_message_id": self.message_id,
            "notification_id": self.notification_id,
            "recipient": self.recipient,
            "decision": str(self.verdict),
            "detail": self.detail[:500],
            "actions": [describe(action) for action in self.actions],
            "retry": self.retry,
        }


def describe(action: Action) -> str:
    if isinstance(action, Transition):
        return f"status → {action.status} at {action.timestamp.isoformat()}: {action.message}"
    return f"journal ({action.kind}): {action.comments}"
