"""An in-memory tracking ledger (`sesflow.notices.tracking.ledger.TrackingLedger`): event claims with a
lease, each recipient's first outcome per round, and which notification an SES message belongs to.
tests/contracts/test_tracking_ledger.py holds it to `TrackingTable` on moto's DynamoDB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sesflow.aws.tracking_ledger import LEASE_SECONDS, ClaimState, StoredFailure, StoredOutcomes


@dataclass
class _Event:
    state: str  # "applying" or "done"
    lease_until: float


@dataclass
class FakeTrackingLedger:
    clock: Callable[[], float] = time.time
    lease_seconds: float = LEASE_SECONDS
    events: dict[str, _Event] = field(default_factory=dict)
    delivered: dict[tuple[int, str], dict[str, datetime]] = field(default_factory=dict)
    failed: dict[tuple[int, str], dict[str, StoredFailure]] = field(default_factory=dict)
    messages: dict[str, tuple[int, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, identity: str) -> ClaimState:
        with self._lock:
            state = self._state(identity)
            if state in ("fresh", "replay"):
                self.events[identity] = _Event("applying", self.clock() + self.lease_seconds)
            return state

    def claim_state(self, identity: str) -> ClaimState:
        with self._lock:
            return self._state(identity)

    def finish(self, identity: str) -> None:
        with self._lock:
            self.events[identity] = _Event("done", 0.0)

    def release(self, identity: str) -> None:
        """Only an event a run is applying can be released (the real write is conditional on it)."""
        with self._lock:
            event = self.events.get(identity)
            if event is None or event.state != "applying":
                raise LookupError(f"event {identity} is not being applied")
            event.lease_until = 0.0

    def record_delivery(
        self, notification_id: int, round_id: str, recipient: str, at: datetime
    ) -> StoredOutcomes:
        with self._lock:
            self.delivered.setdefault((notification_id, round_id), {}).setdefault(recipient, at)
            return self._outcomes(notification_id, round_id)

    def record_failure(
        self, notification_id: int, round_id: str, recipient: str, failure: StoredFailure
    ) -> StoredOutcomes:
        with self._lock:
            self.failed.setdefault((notification_id, round_id), {}).setdefault(
                recipient, (failure[0], failure[1], failure[2])
            )
            return self._outcomes(notification_id, round_id)

    def outcomes(self, notification_id: int, round_id: str) -> StoredOutcomes:
        with self._lock:
            return self._outcomes(notification_id, round_id)

    def remember_message(self, ses_message_id: str, notification_id: int, round_id: str) -> None:
        with self._lock:
            self.messages[ses_message_id] = (notification_id, round_id)

    def message_owner(self, ses_message_id: str) -> tuple[int, str] | None:
        with self._lock:
            return self.messages.get(ses_message_id)

    def _state(self, identity: str) -> ClaimState:
        event = self.events.get(identity)
        if event is None:
            return "fresh"
        if event.state == "done":
            return "done"
        return "replay" if event.lease_until < self.clock() else "busy"

    def _outcomes(self, notification_id: int, round_id: str) -> StoredOutcomes:
        key = (notification_id, round_id)
        return dict(self.delivered.get(key, {})), dict(self.failed.get(key, {}))
