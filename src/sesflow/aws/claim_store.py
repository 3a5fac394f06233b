"""Outbound's claims as DynamoDB items in IDEMPOTENCY_TABLE (partition key `id`, TTL `expiration`): the item
layout and the condition expressions. Who wins a claim, and when, is decided in `sesflow.notices.claims`.

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from sesflow.aws.dynamodb import is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_PREFIX: Final = "outbound#"
#: A claim in progress is kept a month; a finished one a week (NetBox says `sent` by then).
ACTIVE_TTL_SECONDS: Final = 30 * 24 * 3600
DONE_TTL_SECONDS: Final = 7 * 24 * 3600

type Item = Mapping[str, Any]
#: The client the store writes with, named here so that the flows need not import boto3's types.
type DynamoDB = DynamoDBClient


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
class Stored:
    """What the item holds: the claim in its own round (None without one) and the version a change of owner
    must find unchanged."""

    claim: Claim | None
    version: int


@dataclass(frozen=True)
class Takeover:
    """A change of owner: who, until when, and whether the round starts afresh or a rejection is retried."""

    owner: str
    lease_until: float
    now: float
    version: int
    fresh: bool
    reopen: bool


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


def _number(item: Item, name: str) -> float | None:
    value = item.get(name)
    return float(value["N"]) if value is not None else None


def _text(item: Item, name: str) -> str:
    value = item.get(name)
    return str(value["S"]) if value is not None else ""


def _strings(item: Item, name: str) -> list[str]:
    value = item.get(name)
    return list(value["SS"]) if value is not None else []


def claim_of(notification_id: int, item: Item, round_id: str, *, taken_over: bool) -> Claim:
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


def _takeover_update(takeover: Takeover, round_id: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The update expression, names and values of a change of owner (the condition comes apart)."""
    values: dict[str, Any] = {
        ":owner": {"S": takeover.owner},
        ":lease": {"N": repr(takeover.lease_until)},
        ":version": {"N": str(takeover.version + 1)},
        ":expires": {"N": str(int(takeover.now + ACTIVE_TTL_SECONDS))},
        ":now": {"N": repr(takeover.now)},
    }
    names = {"#owner": "owner"}
    update = "SET #owner = :owner, lease_until = :lease, version = :version, expiration = :expires"
    update += ", claimed_at = :now"
    if takeover.fresh:
        update += ", #round = :round, #state = :sending, rejections = :zero REMOVE inflight, inflight_at"
        update += ", retry_at, reason"
        values |= {":round": {"S": round_id}, ":sending": {"S": ClaimState.SENDING}, ":zero": {"N": "0"}}
        names |= {"#round": "round", "#state": "state"}
    elif takeover.reopen:
        update += ", #state = :sending"
        values[":sending"] = {"S": ClaimState.SENDING}
        names["#state"] = "state"
    return update, names, values


class DynamoClaimStore:
    """Claims in IDEMPOTENCY_TABLE; every write that changes who holds a claim is conditional."""

    def __init__(
        self, table_name: str, dynamodb: DynamoDB, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.table_name = table_name
        self.dynamodb = dynamodb
        self.clock = clock

    def read(self, notification_id: int, round_id: str | None = None) -> Stored:
        """The claim in `round_id` (in its own round when None); no claim when the item has another round."""
        item = self._read(notification_id)
        version = int(_number(item, "version") or 0)
        stored_round = _text(item, "round")
        if "state" not in item or (round_id is not None and stored_round != round_id):
            return Stored(None, version)
        return Stored(claim_of(notification_id, item, stored_round, taken_over=False), version)

    def create(self, notification_id: int, round_id: str, owner: str, lease_until: float) -> Claim | None:
        """The claim, when no item exists at all for the notification; None when one does."""
        now = self.clock()
        item = {
            **_key(notification_id),
            "round": {"S": round_id},
            "state": {"S": ClaimState.SENDING},
            "owner": {"S": owner},
            "lease_until": {"N": repr(lease_until)},
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
            if not is_conditional_failure(error):
                raise
            return None
        return claim_of(notification_id, item, round_id, taken_over=False)

    def take_over(self, notification_id: int, round_id: str, takeover: Takeover) -> Claim | None:
        """The claim under a new owner, on condition that nobody changed its owner since `takeover.version`
        was read; None when somebody did."""
        update, names, values = _takeover_update(takeover, round_id)
        if takeover.version:
            condition = "version = :previous"
            values[":previous"] = {"N": str(takeover.version)}
        else:
            condition = "attribute_not_exists(version)"
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table_name,
                Key=_key(notification_id),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            return None
        return claim_of(notification_id, answer["Attributes"], round_id, taken_over=not takeover.fresh)

    def begin_part(self, claim: Claim, part: int) -> None:
        """Mark `part` as being handed to SES now, while the lease is still ours (else LeaseLost)."""
        self._owned_update(
            claim,
            "SET inflight = :part, inflight_at = :now",
            {":part": {"N": str(part)}, ":now": {"N": repr(self.clock())}},
        )

    def record_part(self, claim: Claim, part: int, message_id: str, *, last: bool) -> None:
        """SES took `part`: keep its id at once. Unconditional — the mail went whoever holds the lease."""
        values: dict[str, Any] = {":entry": {"SS": [_entry(claim.round, part, message_id)]}}
        if not last:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=_key(claim.notification_id),
                UpdateExpression="ADD sent_ids :entry REMOVE inflight, inflight_at",
                ExpressionAttributeValues=values,
            )
            return
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=_key(claim.notification_id),
            UpdateExpression="ADD sent_ids :entry SET #state = :sent REMOVE inflight, inflight_at",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values | {":sent": {"S": ClaimState.SENT}},
        )

    def abandon_part(self, claim: Claim, part: int) -> None:
        """SES answered `part` with an error, so it did not take it: nothing is in flight any more."""
        self._owned_update(claim, "REMOVE inflight, inflight_at", {}, condition_part=part)

    def reject(self, claim: Claim, reason: str, *, rejections: int, retry_at: float) -> None:
        """SES refused the notification for good: keep the reason and when to retry, release the lease."""
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

    # --- the evidence tracking records ---------------------------------------------------------------------

    def add_evidence(self, notification_id: int, round_id: str, part: str, message_id: str) -> None:
        """SES took `message_id` for this notification (idempotent)."""
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=_key(notification_id),
            UpdateExpression="ADD evidence_ids :entry SET expiration = if_not_exists(expiration, :expires)",
            ExpressionAttributeValues={
                ":entry": {"SS": [_entry(round_id, part, message_id)]},
                ":expires": {"N": str(int(self.clock() + ACTIVE_TTL_SECONDS))},
            },
        )

    def shows_send(self, notification_id: int, message_id: str) -> bool:
        """True when outbound recorded that SES message id for the notification, or an SES event showed it."""
        item = self._read(notification_id)
        entries = [*_strings(item, "sent_ids"), *_strings(item, "evidence_ids")]
        return any(entry.rsplit("/", 1)[-1] == message_id for entry in entries)

    def evidence_for(self, notification_id: int, round_id: str) -> dict[int, str]:
        """Parts of this round that SES's events show as sent, read now (not from a claim read earlier)."""
        return _ids_of_round(_strings(self._read(notification_id), "evidence_ids"), round_id)

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
            if is_conditional_failure(error):
                raise LeaseLost(
                    f"notification {claim.notification_id}: another run holds the claim"
                ) from error
            raise
