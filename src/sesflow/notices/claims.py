"""The outbound claim: one item per prepared notification in IDEMPOTENCY_TABLE, so each round of a
notification reaches SES exactly once, whatever runs race or crash.

Item `outbound#<notification id>`:
- `round`: the notification's approval (`approved_at`); a `failed → ready` re-approval starts a new round;
- `state`: `sending` → `sent` (every part has its SES id) → `done`; or `rejected` (SES refused it, back off);
- `owner` and `lease_until`: the run that holds the claim, until when (a crashed run's lease runs out);
- `inflight`, `inflight_at`: the part being handed to SES right now (set just before the call);
- `sent_ids`: `round/part/SES id` recorded by outbound as soon as SES answers;
- `evidence_ids`: `round/part/SES id` seen in SES's own events (tracking records them);
- `version`: bumped by every change of owner, so two runs never both win a claim;
- `expiration`: DynamoDB's TTL (epoch seconds).

Ids are kept in string sets: `ADD` creates a missing set and repeats nothing, so both writers are idempotent
and need no read first.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from sesflow.notices.rounds import PART_TAG, ROUND_TAG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_PREFIX: Final = "outbound#"

#: A run holds a claim this long; the outbound Lambda's timeout must be shorter, so a lease only runs out
#: when its run is gone.
LEASE_SECONDS: Final = 300.0
#: How long a part that was being handed to SES, with no recorded id and no SES event, is given for its Send
#: event to show up before outbound concludes SES did not take it (see docs/outbound.md).
EVIDENCE_WAIT_SECONDS: Final = 900.0
#: A claim in progress is kept a month; a finished one a week (NetBox says `sent` by then).
ACTIVE_TTL_SECONDS: Final = 30 * 24 * 3600
DONE_TTL_SECONDS: Final = 7 * 24 * 3600
#: A notification SES refused is tried again after an hour, then two, four… at most once a day.
FIRST_BACKOFF_SECONDS: Final = 3600.0
MAX_BACKOFF_SECONDS: Final = 24 * 3600.0


class ClaimState(StrEnum):
    SENDING = "sending"
    SENT = "sent"  # every part has its SES id; NetBox is not marked yet
    DONE = "done"
    REJECTED = "rejected"


class LeaseLost(Exception):
    """Another run took the claim over (ours had run out): stop before touching SES."""


@dataclass(frozen=True)
class Claim:
    """A claim as read when it was won; `sent` and `evidence` map a part number to its SES message id."""

    notification_id: int
    round: str
    owner: str
    state: ClaimState
    lease_until: float
    version: int
    sent: Mapping[int, str] = field(default_factory=dict)
    evidence: Mapping[int, str] = field(default_factory=dict)
    inflight: int | None = None
    inflight_at: float | None = None
    rejections: int = 0
    retry_at: float | None = None
    reason: str = ""
    taken_over: bool = False  # an earlier run held it and did not finish

    def message_id(self, part: int) -> str | None:
        """The SES id of a part that is known to have gone, from our record or from SES's events."""
        return self.sent.get(part) or self.evidence.get(part)

    @property
    def message_ids(self) -> list[str]:
        parts = sorted(set(self.sent) | set(self.evidence))
        return [message_id for part in parts if (message_id := self.message_id(part))]


@dataclass(frozen=True)
class NotClaimed:
    """Why a run may not send now: `held` by another run, `done` already, or `backing_off` after a
    rejection; `until` is when that may change."""

    notification_id: int
    why: str
    until: float | None
    claim: Claim | None


def _key(notification_id: int) -> dict[str, Any]:
    return {"id": {"S": f"{KEY_PREFIX}{notification_id}"}}


def _entry(round_id: str, part: int | str, message_id: str) -> str:
    return f"{round_id}/{part}/{message_id}"


def _ids_of_round(entries: Iterable[str], round_id: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in entries:
        entry_round, _, rest = entry.partition("/")
        part, _, message_id = rest.partition("/")
        if entry_round == round_id and part.isdigit():
            found.setdefault(int(part), message_id)
    return found


def _number(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name)
    return float(value["N"]) if value is not None else None


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return str(value["S"]) if value is not None else ""


def _strings(item: Mapping[str, Any], name: str) -> list[str]:
    value = item.get(name)
    return list(value["SS"]) if value is not None else []


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def backoff_seconds(rejections: int) -> float:
    return float(min(FIRST_BACKOFF_SECONDS * 2 ** max(0, rejections - 1), MAX_BACKOFF_SECONDS))


class ClaimTable:
    """Claims in IDEMPOTENCY_TABLE (partition key `id`, TTL attribute `expiration`)."""

    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDBClient,
        *,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
        evidence_wait_seconds: float = EVIDENCE_WAIT_SECONDS,
    ) -> None:
        self.table_name = table_name
        self.dynamodb = dynamodb
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.evidence_wait_seconds = evidence_wait_seconds

    # --- the evidence contract with the tracking flow ----------------------------------------------------

    def record_send_evidence(
        self, notification_id: int, ses_message_id: str, tags: Mapping[str, Sequence[str]]
    ) -> None:
        """Note that SES took message `ses_message_id` for this notification (any event of it proves that).
        Idempotent; `tags` are the event's `mail.tags`, whose round and part tags say which part it was."""
        round_id = next(iter(tags.get(ROUND_TAG) or ()), "-")
        part = next(iter(tags.get(PART_TAG) or ()), "-")
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=_key(notification_id),
            UpdateExpression="ADD evidence_ids :entry SET expiration = if_not_exists(expiration, :expires)",
            ExpressionAttributeValues={
                ":entry": {"SS": [_entry(round_id, part, ses_message_id)]},
                ":expires": {"N": str(int(self.clock() + ACTIVE_TTL_SECONDS))},
            },
        )

    def shows_send(self, notification_id: int, ses_message_id: str) -> bool:
        """True when outbound recorded that SES message id for the notification, or an SES event showed it."""
        item = self._read(notification_id)
        entries = [*_strings(item, "sent_ids"), *_strings(item, "evidence_ids")]
        return any(entry.rsplit("/", 1)[-1] == ses_message_id for entry in entries)

    # --- outbound's own use ------------------------------------------------------------------------------

    def get(self, notification_id: int) -> Claim | None:
        """The claim as it stands (in its own round), or None if there is none."""
        item = self._read(notification_id)
        if "state" not in item:
            return None
        return self._claim(notification_id, item, _text(item, "round"), taken_over=False)

    def evidence_for(self, notification_id: int, round_id: str) -> dict[int, str]:
        """Parts of this round that SES's events show as sent, read now (not from a claim read earlier)."""
        return _ids_of_round(_strings(self._read(notification_id), "evidence_ids"), round_id)

    def acquire(self, notification_id: int, round_id: str) -> Claim | NotClaimed:
        """Win the claim for this round, or learn why not. The common case, no claim yet, is one conditional
        write; otherwise the item is read, then written on condition that nobody changed its owner in
        between. Of two runs racing, exactly one wins."""
        first = self._create(notification_id, round_id)
        if first is not None:
            return first
        now = self.clock()
        item = self._read(notification_id)
        version = int(_number(item, "version") or 0)
        fresh = "state" not in item or _text(item, "round") != round_id
        current = None if fresh else self._claim(notification_id, item, round_id, taken_over=False)
        if current is not None:
            if current.state is ClaimState.DONE:
                return NotClaimed(notification_id, "done", None, current)
            if current.lease_until > now:
                return NotClaimed(notification_id, "held", current.lease_until, current)
            if current.state is ClaimState.REJECTED and (current.retry_at or 0) > now:
                return NotClaimed(notification_id, "backing_off", current.retry_at, current)
        owner = uuid.uuid4().hex
        lease_until = now + self.lease_seconds
        values: dict[str, Any] = {
            ":owner": {"S": owner},
            ":lease": {"N": repr(lease_until)},
            ":version": {"N": str(version + 1)},
            ":expires": {"N": str(int(now + ACTIVE_TTL_SECONDS))},
            ":now": {"N": repr(now)},
        }
        update = "SET #owner = :owner, lease_until = :lease, version = :version, expiration = :expires"
        update += ", claimed_at = :now"
        if fresh:
            update += ", #round = :round, #state = :sending, rejections = :zero REMOVE inflight, inflight_at"
            update += ", retry_at, reason"
            values |= {":round": {"S": round_id}, ":sending": {"S": ClaimState.SENDING}, ":zero": {"N": "0"}}
        elif current is not None and current.state is ClaimState.REJECTED:
            update += ", #state = :sending"
            values[":sending"] = {"S": ClaimState.SENDING}
        if version:
            condition = "version = :previous"
            values[":previous"] = {"N": str(version)}
        else:
            condition = "attribute_not_exists(version)"
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table_name,
                Key=_key(notification_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={
                    "#owner": "owner",
                    **({"#round": "round", "#state": "state"} if fresh else {}),
                    **({"#state": "state"} if ":sending" in values else {}),
                },
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            return NotClaimed(notification_id, "held", None, None)
        return self._claim(notification_id, answer["Attributes"], round_id, taken_over=not fresh)

    def _create(self, notification_id: int, round_id: str) -> Claim | None:
        """The claim, when no item exists at all for the notification; None when one does."""
        now = self.clock()
        item = {
            **_key(notification_id),
            "round": {"S": round_id},
            "state": {"S": ClaimState.SENDING},
            "owner": {"S": uuid.uuid4().hex},
            "lease_until": {"N": repr(now + self.lease_seconds)},
            "version": {"N": "1"},
            "rejections": {"N": "0"},
            "claimed_at": {"N": repr(now)},
            "expiration": {"N": str(int(now + ACTIVE_TTL_SECONDS))},
        }
        try:
            self.dynamodb.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(id)"
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            return None
        return self._claim(notification_id, item, round_id, taken_over=False)

    def begin_part(self, claim: Claim, part: int) -> None:
        """Mark `part` as being handed to SES now, while the lease is still ours (else LeaseLost)."""
        self._owned_update(
            claim,
            "SET inflight = :part, inflight_at = :now",
            {":part": {"N": str(part)}, ":now": {"N": repr(self.clock())}},
        )

    def record_part(self, claim: Claim, part: int, message_id: str, *, last: bool) -> None:
        """SES took `part`: keep its id at once. Unconditional — the mail went whoever holds the lease."""
        update = "ADD sent_ids :entry REMOVE inflight, inflight_at"
        values: dict[str, Any] = {":entry": {"SS": [_entry(claim.round, part, message_id)]}}
        if last:
            update = "ADD sent_ids :entry SET #state = :sent REMOVE inflight, inflight_at"
            values[":sent"] = {"S": ClaimState.SENT}
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=_key(claim.notification_id),
                UpdateExpression=update,
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values,
            )
            return
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=_key(claim.notification_id),
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )

    def abandon_part(self, claim: Claim, part: int) -> None:
        """SES answered `part` with an error, so it did not take it: nothing is in flight any more."""
        self._owned_update(claim, "REMOVE inflight, inflight_at", {}, condition_part=part)

    def reject(self, claim: Claim, reason: str) -> float:
        """SES refused the notification for good: keep the reason, release the lease, and back off.
        Returns when the next attempt may be made."""
        rejections = claim.rejections + 1
        retry_at = self.clock() + backoff_seconds(rejections)
        self._owned_update(
            claim,
            "SET #state = :rejected, reason = :reason, rejections = :count, retry_at = :retry,"
            " lease_until = :zero REMOVE inflight, inflight_at",
            {
                ":rejected": {"S": ClaimState.REJECTED},
                ":reason": {"S": reason[:1000] or "rejected"},
                ":count": {"N": str(rejections)},
                ":retry": {"N": repr(retry_at)},
                ":zero": {"N": "0"},
            },
            names={"#state": "state"},
        )
        return retry_at

    def unlock(self, claim: Claim) -> None:
        """Give the lease back early (the run failed in a known way): the next run may go on at once."""
        self._owned_update(claim, "SET lease_until = :zero", {":zero": {"N": "0"}})

    def done(self, claim: Claim) -> None:
        """NetBox says `sent`: the claim is finished and expires after a while."""
        self._owned_update(
            claim,
            "SET #state = :done, lease_until = :zero, expiration = :expires",
            {
                ":done": {"S": ClaimState.DONE},
                ":zero": {"N": "0"},
                ":expires": {"N": str(int(self.clock() + DONE_TTL_SECONDS))},
            },
            names={"#state": "state"},
        )

    # --- reading and writing items -----------------------------------------------------------------------

    def _read(self, notification_id: int) -> dict[str, Any]:
        answer = self.dynamodb.get_item(
            TableName=self.table_name, Key=_key(notification_id), ConsistentRead=True
        )
        return dict(answer.get("Item") or {})

    def _owned_update(
        self,
        claim: Claim,
        update: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
        condition_part: int | None = None,
    ) -> None:
        condition = "#owner = :me"
        values = {**values, ":me": {"S": claim.owner}}
        if condition_part is not None:
            condition += " AND inflight = :inflight"
            values[":inflight"] = {"N": str(condition_part)}
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=_key(claim.notification_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#owner": "owner", **(names or {})},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if _is_conditional_failure(error):
                raise LeaseLost(
                    f"notification {claim.notification_id}: another run holds the claim"
                ) from error
            raise

    def _claim(
        self, notification_id: int, item: Mapping[str, Any], round_id: str, *, taken_over: bool
    ) -> Claim:
        inflight = _number(item, "inflight")
        return Claim(
            notification_id=notification_id,
            round=round_id,
            owner=_text(item, "owner"),
            state=ClaimState(_text(item, "state") or ClaimState.SENDING),
            lease_until=_number(item, "lease_until") or 0.0,
            version=int(_number(item, "version") or 0),
            sent=_ids_of_round(_strings(item, "sent_ids"), round_id),
            evidence=_ids_of_round(_strings(item, "evidence_ids"), round_id),
            inflight=int(inflight) if inflight is not None else None,
            inflight_at=_number(item, "inflight_at"),
            rejections=int(_number(item, "rejections") or 0),
            retry_at=_number(item, "retry_at"),
            reason=_text(item, "reason"),
            taken_over=taken_over,
        )
