"""An in-memory claim store (`sesflow.notices.claims.ClaimStore`): one record per notification with the
fields `DynamoClaimStore` keeps, and the same conditions on every write that changes who holds a claim.
tests/contracts/test_claim_store.py holds it to `DynamoClaimStore` on moto's DynamoDB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sesflow.aws.claim_store import Claim, ClaimState, LeaseLost, Stored, Takeover

#: What a part's SES id is filed under: (round, part as tagged, SES message id).
type Entry = tuple[str, str, str]


@dataclass
class _Record:
    """The claim's item; `state` is None while only tracking's evidence is kept for the notification."""

    round: str = ""
    state: ClaimState | None = None
    owner: str = ""
    lease_until: float = 0.0
    version: int | None = None
    rejections: int = 0
    claimed_at: float | None = None
    inflight: int | None = None
    inflight_at: float | None = None
    retry_at: float | None = None
    reason: str = ""
    sent_ids: set[Entry] = field(default_factory=set)
    evidence_ids: set[Entry] = field(default_factory=set)


def _ids_of_round(entries: Iterable[Entry], round_id: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for entry_round, part, message_id in sorted(entries):
        if entry_round == round_id and part.isdigit():
            found.setdefault(int(part), message_id)
    return found


def _claim(notification_id: int, record: _Record, round_id: str, *, taken_over: bool) -> Claim:
    return Claim(
        notification_id=notification_id,
        round=round_id,
        owner=record.owner,
        state=record.state or ClaimState.SENDING,
        lease_until=record.lease_until,
        version=record.version or 0,
        sent=_ids_of_round(record.sent_ids, round_id),
        evidence=_ids_of_round(record.evidence_ids, round_id),
        inflight=record.inflight,
        inflight_at=record.inflight_at,
        rejections=record.rejections,
        retry_at=record.retry_at,
        reason=record.reason,
        taken_over=taken_over,
    )


@dataclass
class FakeClaimStore:
    clock: Callable[[], float] = time.time
    records: dict[int, _Record] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, notification_id: int, round_id: str | None = None) -> Stored:
        with self._lock:
            record = self.records.get(notification_id)
            if record is None:
                return Stored(None, 0)
            version = record.version or 0
            if record.state is None or (round_id is not None and record.round != round_id):
                return Stored(None, version)
            return Stored(_claim(notification_id, record, record.round, taken_over=False), version)

    def create(self, notification_id: int, round_id: str, owner: str, lease_until: float) -> Claim | None:
        """Only where nothing at all is kept for the notification (not even evidence)."""
        with self._lock:
            if notification_id in self.records:
                return None
            record = _Record(round_id, ClaimState.SENDING, owner, lease_until, 1, 0, self.clock())
            self.records[notification_id] = record
            return _claim(notification_id, record, round_id, taken_over=False)

    def take_over(self, notification_id: int, round_id: str, takeover: Takeover) -> Claim | None:
        with self._lock:
            record = self.records.get(notification_id)
            found = record.version if record is not None else None
            if found != (takeover.version or None):
                return None
            record = self.records.setdefault(notification_id, _Record())
            record.owner, record.lease_until = takeover.owner, takeover.lease_until
            record.version, record.claimed_at = takeover.version + 1, takeover.now
            if takeover.fresh:
                record.round, record.state, record.rejections = round_id, ClaimState.SENDING, 0
                record.inflight = record.inflight_at = record.retry_at = None
                record.reason = ""
            elif takeover.reopen:
                record.state = ClaimState.SENDING
            return _claim(notification_id, record, round_id, taken_over=not takeover.fresh)

    def begin_part(self, claim: Claim, part: int) -> None:
        with self._lock:
            record = self._owned(claim)
            record.inflight, record.inflight_at = part, self.clock()

    def record_part(self, claim: Claim, part: int, message_id: str, *, last: bool) -> None:
        """Whoever holds the lease: the mail went."""
        with self._lock:
            record = self.records.setdefault(claim.notification_id, _Record())
            record.sent_ids.add((claim.round, str(part), message_id))
            record.inflight = record.inflight_at = None
            if last:
                record.state = ClaimState.SENT

    def abandon_part(self, claim: Claim, part: int) -> None:
        with self._lock:
            record = self._owned(claim, inflight=part)
            record.inflight = record.inflight_at = None

    def reject(self, claim: Claim, reason: str, *, rejections: int, retry_at: float) -> None:
        with self._lock:
            record = self._owned(claim)
            record.state, record.reason = ClaimState.REJECTED, reason[:1000] or "rejected"
            record.rejections, record.retry_at, record.lease_until = rejections, retry_at, 0.0
            record.inflight = record.inflight_at = None

    def unlock(self, claim: Claim) -> None:
        with self._lock:
            self._owned(claim).lease_until = 0.0

    def done(self, claim: Claim) -> None:
        with self._lock:
            record = self._owned(claim)
            record.state, record.lease_until = ClaimState.DONE, 0.0

    def add_evidence(self, notification_id: int, round_id: str, part: str, message_id: str) -> None:
        with self._lock:
            record = self.records.setdefault(notification_id, _Record())
            record.evidence_ids.add((round_id, part, message_id))

    def shows_send(self, notification_id: int, message_id: str) -> bool:
        with self._lock:
            record = self.records.get(notification_id) or _Record()
            return any(entry[2] == message_id for entry in record.sent_ids | record.evidence_ids)

    def evidence_for(self, notification_id: int, round_id: str) -> dict[int, str]:
        with self._lock:
            record = self.records.get(notification_id) or _Record()
            return _ids_of_round(record.evidence_ids, round_id)

    def _owned(self, claim: Claim, *, inflight: int | None = None) -> _Record:
        """The record, if `claim`'s owner still holds it (and `inflight` is the part in flight, if given)."""
        record = self.records.get(claim.notification_id)
        if (
            record is None
            or record.owner != claim.owner
            or (inflight is not None and record.inflight != inflight)
        ):
            raise LeaseLost(f"notification {claim.notification_id}: another run holds the claim")
        return record
