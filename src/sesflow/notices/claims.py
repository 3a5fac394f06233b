"""The outbound claim: each round of a notification reaches SES exactly once, whatever runs race or crash.

The rules are here, as plain functions over a claim as read: who wins it, how long a lease lasts, how long a
part that may have reached SES is given for its evidence, how long a rejected notification waits. Where the
claims are kept is a `ClaimStore`: `sesflow.aws.claim_store` (IDEMPOTENCY_TABLE) or the dry run's, which
grants every claim and keeps none.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol

from sesflow.aws.claim_store import Claim, ClaimState, DynamoClaimStore, LeaseLost, Stored, Takeover
from sesflow.notices.rounds import PART_TAG, ROUND_TAG

if TYPE_CHECKING:
    from sesflow.aws.claim_store import DynamoDB

__all__ = [
    "EVIDENCE_WAIT_SECONDS",
    "FIRST_BACKOFF_SECONDS",
    "LEASE_SECONDS",
    "MAX_BACKOFF_SECONDS",
    "PART_TAG",
    "ROUND_TAG",
    "Claim",
    "ClaimState",
    "ClaimStore",
    "ClaimTable",
    "Claims",
    "LeaseLost",
    "NotClaimed",
    "backoff_seconds",
    "evidence_deadline",
    "refusal",
]

#: A run holds a claim this long; the outbound Lambda's timeout must be shorter, so a lease only runs out
#: when its run is gone.
LEASE_SECONDS: Final = 300.0
#: How long a part that was being handed to SES, with no recorded id and no SES event, is given for its Send
#: event to show up before outbound concludes SES did not take it (see docs/outbound.md).
EVIDENCE_WAIT_SECONDS: Final = 900.0
#: A notification SES refused is tried again after an hour, then two, four… at most once a day.
FIRST_BACKOFF_SECONDS: Final = 3600.0
MAX_BACKOFF_SECONDS: Final = 24 * 3600.0

type Refusal = Literal["held", "done", "backing_off"]


@dataclass(frozen=True)
class NotClaimed:
    """Why a run may not send now: `held` by another run, `done` already, or `backing_off` after a
    rejection; `until` is when that may change."""

    notification_id: int
    why: Refusal
    until: float | None
    claim: Claim | None


class ClaimStore(Protocol):
    """Where claims are kept; every change of owner is conditional on the version read."""

    def read(self, notification_id: int, round_id: str | None = None) -> Stored: ...

    def create(self, notification_id: int, round_id: str, owner: str, lease_until: float) -> Claim | None: ...

    def take_over(self, notification_id: int, round_id: str, takeover: Takeover) -> Claim | None: ...

    def begin_part(self, claim: Claim, part: int) -> None: ...

    def record_part(self, claim: Claim, part: int, message_id: str, *, last: bool) -> None: ...

    def abandon_part(self, claim: Claim, part: int) -> None: ...

    def reject(self, claim: Claim, reason: str, *, rejections: int, retry_at: float) -> None: ...

    def unlock(self, claim: Claim) -> None: ...

    def done(self, claim: Claim) -> None: ...

    def add_evidence(self, notification_id: int, round_id: str, part: str, message_id: str) -> None: ...

    def shows_send(self, notification_id: int, message_id: str) -> bool: ...

    def evidence_for(self, notification_id: int, round_id: str) -> dict[int, str]: ...


# --- the rules ---------------------------------------------------------------------------------------------


def refusal(current: Claim | None, now: float) -> NotClaimed | None:
    """Why the claim of this round may not be taken now (None: it may): finished, leased to a live run,
    or backing off after a rejection."""
    if current is None:
        return None
    if current.state is ClaimState.DONE:
        return NotClaimed(current.notification_id, "done", None, current)
    if current.lease_until > now:
        return NotClaimed(current.notification_id, "held", current.lease_until, current)
    if current.state is ClaimState.REJECTED and (current.retry_at or 0) > now:
        return NotClaimed(current.notification_id, "backing_off", current.retry_at, current)
    return None


def backoff_seconds(rejections: int) -> float:
    return float(min(FIRST_BACKOFF_SECONDS * 2 ** max(0, rejections - 1), MAX_BACKOFF_SECONDS))


def evidence_deadline(claim: Claim, part: int, wait_seconds: float) -> float | None:
    """Until when a part an earlier run was handing to SES when it died waits for SES's events to show it
    went; None when the part was not in flight in a run this one took over."""
    if not (claim.taken_over and claim.inflight == part):
        return None
    return (claim.inflight_at or 0.0) + wait_seconds


def _tag(tags: Mapping[str, Sequence[str]], name: str) -> str:
    return next(iter(tags.get(name) or ()), "-")


# --- claims under the rules --------------------------------------------------------------------------------


class Claims:
    """Outbound's claims: the rules applied to what a store keeps."""

    def __init__(
        self,
        store: ClaimStore,
        *,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
        evidence_wait_seconds: float = EVIDENCE_WAIT_SECONDS,
    ) -> None:
        self.store = store
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.evidence_wait_seconds = evidence_wait_seconds

    def acquire(self, notification_id: int, round_id: str) -> Claim | NotClaimed:
        """Win the claim for this round, or learn why not. The common case, no claim yet, is one conditional
        write; otherwise the claim is read, then taken on condition that nobody changed its owner in
        between. Of two runs racing, exactly one wins."""
        created = self.store.create(notification_id, round_id, uuid.uuid4().hex, self._lease_end())
        if created is not None:
            return created
        now = self.clock()
        stored = self.store.read(notification_id, round_id)
        refused = refusal(stored.claim, now)
        if refused is not None:
            return refused
        takeover = Takeover(
            owner=uuid.uuid4().hex,
            lease_until=now + self.lease_seconds,
            now=now,
            version=stored.version,
            fresh=stored.claim is None,
            reopen=stored.claim is not None and stored.claim.state is ClaimState.REJECTED,
        )
        taken = self.store.take_over(notification_id, round_id, takeover)
        return taken if taken is not None else NotClaimed(notification_id, "held", None, None)

    def get(self, notification_id: int) -> Claim | None:
        """The claim as it stands (in its own round), or None if there is none."""
        return self.store.read(notification_id).claim

    def reject(self, claim: Claim, reason: str) -> float:
        """SES refused the notification for good: keep the reason, release the lease, and back off.
        Returns when the next attempt may be made."""
        rejections = claim.rejections + 1
        retry_at = self.clock() + backoff_seconds(rejections)
        self.store.reject(claim, reason, rejections=rejections, retry_at=retry_at)
        return retry_at

    def begin_part(self, claim: Claim, part: int) -> None:
        self.store.begin_part(claim, part)

    def record_part(self, claim: Claim, part: int, message_id: str, *, last: bool) -> None:
        self.store.record_part(claim, part, message_id, last=last)

    def abandon_part(self, claim: Claim, part: int) -> None:
        self.store.abandon_part(claim, part)

    def unlock(self, claim: Claim) -> None:
        self.store.unlock(claim)

    def done(self, claim: Claim) -> None:
        self.store.done(claim)

    def evidence_for(self, notification_id: int, round_id: str) -> dict[int, str]:
        return self.store.evidence_for(notification_id, round_id)

    # --- the evidence contract with the tracking flow ----------------------------------------------------

    def record_send_evidence(
        self, notification_id: int, ses_message_id: str, tags: Mapping[str, Sequence[str]]
    ) -> None:
        """Note that SES took message `ses_message_id` for this notification (any event of it proves that).
        Idempotent; `tags` are the event's `mail.tags`, whose round and part tags say which part it was."""
        self.store.add_evidence(notification_id, _tag(tags, ROUND_TAG), _tag(tags, PART_TAG), ses_message_id)

    def shows_send(self, notification_id: int, ses_message_id: str) -> bool:
        """True when outbound recorded that SES message id for the notification, or an SES event showed it."""
        return self.store.shows_send(notification_id, ses_message_id)

    def _lease_end(self) -> float:
        return self.clock() + self.lease_seconds


class ClaimTable(Claims):
    """Claims in IDEMPOTENCY_TABLE (`sesflow.aws.claim_store`)."""

    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDB,
        *,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
        evidence_wait_seconds: float = EVIDENCE_WAIT_SECONDS,
    ) -> None:
        super().__init__(
            DynamoClaimStore(table_name, dynamodb, clock=clock),
            clock=clock,
            lease_seconds=lease_seconds,
            evidence_wait_seconds=evidence_wait_seconds,
        )
        self.table_name = table_name
        self.dynamodb = dynamodb
