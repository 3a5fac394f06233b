"""What tracking keeps between events: which events were applied (dedupe by event identity), each recipient's
outcome for a round of a notification (the ledger), and which notification an SES message belongs to.

`TrackingLedger` is the port; `sesflow.aws.tracking_ledger.TrackingTable` keeps it in DynamoDB and
`sesflow.notices.tracking.dry_run.DryRunLedger` reads it and writes nothing. docs/tracking.md explains why a
replay never writes twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple, Protocol

#: What taking an event answers (`Claimed`, as the adapters spell it).
type ClaimState = Literal["fresh", "replay", "done", "busy"]
#: A recipient's failure as kept: SES's event type, its diagnostic, its time (a `Failure` is one).
type StoredFailure = tuple[str, str, datetime]
#: Every recipient's outcome kept for one round: delivered (address → time), failed (address → failure).
type StoredOutcomes = tuple[dict[str, datetime], dict[str, StoredFailure]]


class Claimed(StrEnum):
    FRESH = "fresh"  # nobody handled this event before
    REPLAY = "replay"  # a run began it and did not finish: NetBox may already have it
    DONE = "done"  # a duplicate of an event already applied
    BUSY = "busy"  # another run holds it right now


class Failure(NamedTuple):
    type: str
    detail: str
    at: datetime


@dataclass(frozen=True)
class Ledger:
    """Every recipient's outcome known so far for one round of a notification."""

    delivered: Mapping[str, datetime] = field(default_factory=dict)
    failed: Mapping[str, Failure] = field(default_factory=dict)

    @classmethod
    def of(cls, stored: StoredOutcomes) -> Ledger:
        delivered, failed = stored
        return cls(dict(delivered), {address: Failure(*failure) for address, failure in failed.items()})

    def with_delivery(self, recipient: str, at: datetime) -> Ledger:
        """With the recipient's delivery, unless an outcome of that kind is kept already (the first stays)."""
        return Ledger({recipient: at} | dict(self.delivered), self.failed)

    def with_failure(self, recipient: str, failure: Failure) -> Ledger:
        return Ledger(self.delivered, {recipient: failure} | dict(self.failed))


class TrackingLedger(Protocol):
    """The ledger's store. Every write is idempotent; `claim` is the one conditional write."""

    def claim(self, identity: str) -> ClaimState:
        """Take the event for this run, unless it is done or another run holds it."""
        ...

    def claim_state(self, identity: str) -> ClaimState:
        """What `claim` would answer now, taking nothing."""
        ...

    def finish(self, identity: str) -> None:
        """NetBox has what the event says: any later delivery of it is a duplicate."""
        ...

    def release(self, identity: str) -> None:
        """The run failed in a known way: the next delivery of the event may go on at once (as a replay)."""
        ...

    def record_delivery(
        self, notification_id: int, round_id: str, recipient: str, at: datetime
    ) -> StoredOutcomes: ...

    def record_failure(
        self, notification_id: int, round_id: str, recipient: str, failure: StoredFailure
    ) -> StoredOutcomes: ...

    def outcomes(self, notification_id: int, round_id: str) -> StoredOutcomes: ...

    def remember_message(self, ses_message_id: str, notification_id: int, round_id: str) -> None: ...

    def message_owner(self, ses_message_id: str) -> tuple[int, str] | None: ...
