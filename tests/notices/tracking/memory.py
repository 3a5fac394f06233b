"""In-memory stand-ins for the tracking flow's ports (`TrackingLedger`, `SendEvidence`, `Notifications`), for
driving the flow's own steps in process: the ledger as the DynamoDB items keep it, the notification as the
plugin's state machine moves it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sesflow.netbox.records import NotificationStatus
from sesflow.notices.tracking.deps import TrackingDeps
from sesflow.notices.tracking.ledger import ClaimState, StoredFailure, StoredOutcomes
from sesflow.notices.tracking.outcomes import Action, JournalNote
from sesflow.notices.tracking.rule import NotificationView

type EventState = Literal["applying", "done", "released"]


@dataclass
class MemoryLedger:
    """`TrackingTable` without DynamoDB: a lease never runs out on its own, `release` ends it."""

    events: dict[str, EventState] = field(default_factory=dict)
    delivered: dict[tuple[int, str], dict[str, datetime]] = field(default_factory=dict)
    failed: dict[tuple[int, str], dict[str, StoredFailure]] = field(default_factory=dict)
    messages: dict[str, tuple[int, str]] = field(default_factory=dict)

    def claim(self, identity: str) -> ClaimState:
        answer = self.claim_state(identity)
        if answer in {"fresh", "replay"}:
            self.events[identity] = "applying"
        return answer

    def claim_state(self, identity: str) -> ClaimState:
        state = self.events.get(identity)
        if state is None:
            return "fresh"
        if state == "done":
            return "done"
        return "busy" if state == "applying" else "replay"

    def finish(self, identity: str) -> None:
        self.events[identity] = "done"

    def release(self, identity: str) -> None:
        assert self.events[identity] == "applying"
        self.events[identity] = "released"

    def record_delivery(
        self, notification_id: int, round_id: str, recipient: str, at: datetime
    ) -> StoredOutcomes:
        self.delivered.setdefault((notification_id, round_id), {}).setdefault(recipient, at)
        return self.outcomes(notification_id, round_id)

    def record_failure(
        self, notification_id: int, round_id: str, recipient: str, failure: StoredFailure
    ) -> StoredOutcomes:
        self.failed.setdefault((notification_id, round_id), {}).setdefault(recipient, failure)
        return self.outcomes(notification_id, round_id)

    def outcomes(self, notification_id: int, round_id: str) -> StoredOutcomes:
        key = (notification_id, round_id)
        return dict(self.delivered.get(key, {})), dict(self.failed.get(key, {}))

    def remember_message(self, ses_message_id: str, notification_id: int, round_id: str) -> None:
        self.messages[ses_message_id] = (notification_id, round_id)

    def message_owner(self, ses_message_id: str) -> tuple[int, str] | None:
        return self.messages.get(ses_message_id)


@dataclass
class MemoryEvidence:
    """Outbound's claim table as tracking sees it: the SES message ids shown sent, per notification."""

    shown: set[tuple[int, str]] = field(default_factory=set)

    def record_send_evidence(
        self, notification_id: int, ses_message_id: str, tags: Mapping[str, Sequence[str]]
    ) -> None:
        self.shown.add((notification_id, ses_message_id))

    def shows_send(self, notification_id: int, ses_message_id: str) -> bool:
        return (notification_id, ses_message_id) in self.shown


@dataclass
class ModelNotification:
    """One prepared notification as the plugin moves it: each transition's message joins the journal."""

    id: int
    status: str
    recipients: tuple[str, ...]
    approved_at: datetime
    sent_at: datetime | None
    now: datetime
    journal: list[str] = field(default_factory=list)

    def read(self, notification_id: int) -> NotificationView:
        assert notification_id == self.id
        return NotificationView(
            self.id, self.status, self.recipients, self.approved_at, self.sent_at, self.now, etag=self.status
        )

    def has_marker(self, notification_id: int, marker: str) -> bool:
        return any(marker in entry for entry in self.journal)

    def apply(self, notification_id: int, etag: str | None, actions: Sequence[Action]) -> None:
        assert etag == self.status  # the ETag read: nothing changed the notification in between
        for action in actions:
            if isinstance(action, JournalNote):
                self.journal.append(action.comments)
                continue
            if action.status == NotificationStatus.SENT:
                self.sent_at = action.timestamp
            self.journal.append(f"Status: {self.status} → {action.status}\n{action.message}")
            self.status = action.status


def memory_deps(notification: ModelNotification, evidence: MemoryEvidence | None = None) -> TrackingDeps:
    return TrackingDeps(MemoryLedger(), evidence or MemoryEvidence(), notification)
