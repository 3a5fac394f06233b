"""A dry run is the outbound steps with read-only adapters: a claim store that grants what the real one
would and records nothing, a sender that keeps the mail instead of sending it, and a NetBox that is read
but never written. The decisions are the real ones; nothing changes anywhere."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sesflow.aws.claim_store import Claim, ClaimState, Stored, Takeover
from sesflow.aws.ses import NotedSends
from sesflow.netbox.notices import PREPARED_NOTIFICATION_TYPE, NoticesApi
from sesflow.netbox.records import JournalEntry, NotificationStatus, NotificationVersion, PreparedNotification
from sesflow.notices.claims import Claims, ClaimStore
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.pipeline import StepHook

DRY_RUN_OWNER = "dry-run"


class ReadOnlyClaimStore:
    """Reads the claims the real store keeps (none without one) and grants what it would grant; every
    write is dropped, so a dry run holds no lease and records no part."""

    def __init__(self, real: ClaimStore | None = None) -> None:
        self.real = real

    def read(self, notification_id: int, round_id: str | None = None) -> Stored:
        return self.real.read(notification_id, round_id) if self.real else Stored(None, 0)

    def create(self, notification_id: int, round_id: str, owner: str, lease_until: float) -> Claim | None:
        if self.real is not None and self.real.read(notification_id).version:
            return None  # the real store has an item: the run goes on to read it and take it over
        return Claim(notification_id, round_id, DRY_RUN_OWNER, ClaimState.SENDING, lease_until, 1)

    def take_over(self, notification_id: int, round_id: str, takeover: Takeover) -> Claim | None:
        current = self.read(notification_id, round_id).claim
        granted = Claim(notification_id, round_id, DRY_RUN_OWNER, ClaimState.SENDING, takeover.lease_until, 1)
        if current is None:
            return granted
        return dataclasses.replace(current, owner=DRY_RUN_OWNER, taken_over=True)

    def begin_part(self, claim: Claim, part: int) -> None:
        pass

    def record_part(self, claim: Claim, part: int, message_id: str, *, last: bool) -> None:
        pass

    def abandon_part(self, claim: Claim, part: int) -> None:
        pass

    def reject(self, claim: Claim, reason: str, *, rejections: int, retry_at: float) -> None:
        pass

    def unlock(self, claim: Claim) -> None:
        pass

    def done(self, claim: Claim) -> None:
        pass

    def add_evidence(self, notification_id: int, round_id: str, part: str, message_id: str) -> None:
        pass

    def shows_send(self, notification_id: int, message_id: str) -> bool:
        return self.real.shows_send(notification_id, message_id) if self.real else False

    def evidence_for(self, notification_id: int, round_id: str) -> dict[int, str]:
        return self.real.evidence_for(notification_id, round_id) if self.real else {}


class ReadOnlyNotices(NoticesApi):
    """NetBox read as it is; a write answers what NetBox holds now and changes nothing."""

    def transition(
        self,
        notification_id: int,
        status: NotificationStatus,
        *,
        message: str = "",
        timestamp: datetime | None = None,
        if_match: str | None = None,
    ) -> PreparedNotification:
        return self.get_prepared_notification(notification_id)

    def mark_sent_many(self, messages: Mapping[int, str]) -> list[NotificationVersion]:
        current = [self.get_prepared_notification(number) for number in messages]
        return [NotificationVersion(item.id, item.status, item.approved_at, item.etag) for item in current]

    def add_journal_entry(
        self,
        object_id: int,
        comments: str,
        *,
        kind: str = "info",
        object_type: str = PREPARED_NOTIFICATION_TYPE,
    ) -> JournalEntry:
        return JournalEntry(0, object_type, object_id, kind, comments)


@dataclass
class LastComposed:
    """A step hook that keeps the delivery the compose step left: what a dry run prints."""

    deliveries: list[Delivery] = field(default_factory=list)

    def before(self, flow: str, step: str, context: object) -> None:
        pass

    def after(self, flow: str, step: str, context: object) -> None:
        if step == "compose" and isinstance(context, Delivery) and context.is_composed:
            self.deliveries.append(context)


def read_only(deps: OutboundDeps, *, hooks: Sequence[StepHook] = ()) -> OutboundDeps:
    """`deps` with read-only adapters: NetBox and the claims are read as they are, and the mail is kept
    in a `NotedSends`."""
    claims = deps.claims
    return dataclasses.replace(
        deps,
        notices=ReadOnlyNotices(deps.notices.client),
        claims=Claims(
            ReadOnlyClaimStore(claims.store),
            clock=claims.clock,
            lease_seconds=claims.lease_seconds,
            evidence_wait_seconds=claims.evidence_wait_seconds,
        ),
        sender=NotedSends(),
        hooks=(*deps.hooks, *hooks),
    )
