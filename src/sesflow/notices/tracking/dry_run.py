"""A dry run is the flow's own steps with these adapters: each reads what the real one reads and keeps what
it would write in memory, so later events of the same run see it as they would after a real write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Literal

from sesflow.netbox.records import NotificationStatus
from sesflow.notices.tracking.deps import SendEvidence, TrackingDeps
from sesflow.notices.tracking.ledger import ClaimState, StoredFailure, StoredOutcomes, TrackingLedger
from sesflow.notices.tracking.notifications import Notifications
from sesflow.notices.tracking.outcomes import Action, JournalNote, Transition
from sesflow.notices.tracking.rule import NotificationView

type EventState = Literal["applying", "done", "released"]
#: What taking an event answers after this run took it, finished it, or gave it back.
_CLAIM_AFTER: Final[dict[EventState, ClaimState]] = {"applying": "busy", "done": "done", "released": "replay"}


@dataclass
class DryRunLedger:
    ledger: TrackingLedger
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
            return self.ledger.claim_state(identity)
        return _CLAIM_AFTER[state]

    def finish(self, identity: str) -> None:
        self.events[identity] = "done"

    def release(self, identity: str) -> None:
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
        """What is kept, then what this run would have added (the first value of each is kept)."""
        delivered, failed = self.ledger.outcomes(notification_id, round_id)
        key = (notification_id, round_id)
        return self.delivered.get(key, {}) | delivered, self.failed.get(key, {}) | failed

    def remember_message(self, ses_message_id: str, notification_id: int, round_id: str) -> None:
        self.messages[ses_message_id] = (notification_id, round_id)

    def message_owner(self, ses_message_id: str) -> tuple[int, str] | None:
        return self.messages.get(ses_message_id) or self.ledger.message_owner(ses_message_id)


@dataclass
class DryRunEvidence:
    claims: SendEvidence
    shown: set[tuple[int, str]] = field(default_factory=set)

    def record_send_evidence(
        self, notification_id: int, ses_message_id: str, tags: Mapping[str, Sequence[str]]
    ) -> None:
        self.shown.add((notification_id, ses_message_id))

    def shows_send(self, notification_id: int, ses_message_id: str) -> bool:
        shown = (notification_id, ses_message_id) in self.shown
        return shown or self.claims.shows_send(notification_id, ses_message_id)


@dataclass
class DryRunNotifications:
    notifications: Notifications
    written: list[tuple[int, Action]] = field(default_factory=list)

    def read(self, notification_id: int) -> NotificationView:
        """NetBox's notification, moved along by the transitions this run would have written."""
        view = self.notifications.read(notification_id)
        for number, action in self.written:
            if number == notification_id and isinstance(action, Transition):
                sent_at = action.timestamp if action.status == NotificationStatus.SENT else view.sent_at
                view = replace(view, status=action.status, sent_at=sent_at)
        return view

    def has_marker(self, notification_id: int, marker: str) -> bool:
        texts = [_text(action) for number, action in self.written if number == notification_id]
        return any(marker in text for text in texts) or self.notifications.has_marker(notification_id, marker)

    def apply(self, notification_id: int, etag: str | None, actions: Sequence[Action]) -> None:
        self.written.extend((notification_id, action) for action in actions)


def _text(action: Action) -> str:
    return action.comments if isinstance(action, JournalNote) else action.message


def dry_run_deps(deps: TrackingDeps) -> TrackingDeps:
    """The same reads as `deps`, no writes."""
    return TrackingDeps(
        ledger=DryRunLedger(deps.ledger),
        claims=DryRunEvidence(deps.claims),
        notifications=DryRunNotifications(deps.notifications),
        on_outcome=deps.on_outcome,
    )
