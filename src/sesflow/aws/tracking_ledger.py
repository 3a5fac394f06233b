"""The tracking flow's items in IDEMPOTENCY_TABLE (partition key `id`, TTL attribute `expiration`): the item
layout and the condition expressions. What the flow makes of them is `sesflow.notices.tracking.ledger`.

- `tracking#event#<identity>`: one per event identity (and recipient). `state` is `applying` while a run
  holds `lease_until`, `done` once NetBox has what the event says. A run that finds `applying` with an
  expired lease is a replay: an earlier run may have written to NetBox and crashed before `done`.
- `tracking#ledger#<notification>#<round>`: each recipient's outcome, `delivered:<address>` (the SES
  delivery time) and `failed:<address>` (JSON: type, detail, time), so the decision rests on everything known
  rather than on the order events arrived in. The first value of each attribute is kept.
- `tracking#message#<SES message id>`: the notification a message belongs to, learnt from a tagged event, so
  a feedback notification (which carries no tags) can still be placed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from botocore.exceptions import ClientError

from sesflow.aws.dynamodb import is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_PREFIX: Final = "tracking#"
#: A run holds an event this long; the tracking Lambda's timeout must be shorter.
LEASE_SECONDS: Final = 120.0
#: Dedupe keys outlive SQS's longest retention (14 days) with room for a DLQ replay.
EVENT_TTL_SECONDS: Final = 30 * 24 * 3600
LEDGER_TTL_SECONDS: Final = 60 * 24 * 3600
_DELIVERED: Final = "delivered:"
_FAILED: Final = "failed:"

#: What taking an event answers: nobody had it, a run began it and did not finish, it is done, or another
#: run holds it right now.
type ClaimState = Literal["fresh", "replay", "done", "busy"]
#: A recipient's failure as kept: SES's event type, its diagnostic, its time.
type StoredFailure = tuple[str, str, datetime]
#: Every recipient's outcome kept for one round: delivered (address → time) and failed (address → failure).
type StoredOutcomes = tuple[dict[str, datetime], dict[str, StoredFailure]]


def _outcomes(item: Mapping[str, Any]) -> StoredOutcomes:
    delivered: dict[str, datetime] = {}
    failed: dict[str, StoredFailure] = {}
    for name, value in item.items():
        if name.startswith(_DELIVERED):
            delivered[name.removeprefix(_DELIVERED)] = datetime.fromisoformat(value["S"])
        elif name.startswith(_FAILED):
            data = json.loads(value["S"])
            at = datetime.fromisoformat(data["at"])
            failed[name.removeprefix(_FAILED)] = (data["type"], data["detail"], at)
    return delivered, failed


class TrackingTable:
    """The tracking ledger in DynamoDB (`sesflow.notices.tracking.ledger.TrackingLedger`)."""

    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDBClient,
        *,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.table_name = table_name
        self.dynamodb = dynamodb
        self.clock = clock
        self.lease_seconds = lease_seconds

    # --- dedupe by event identity ------------------------------------------------------------------------

    def claim(self, identity: str) -> ClaimState:
        """Take the event for this run, unless it is done or another run holds it."""
        now = self.clock()
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key("event#" + identity),
                UpdateExpression="SET #state = :applying, lease_until = :lease, expiration = :expires",
                ConditionExpression=(
                    "attribute_not_exists(#state) OR (#state = :applying AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":applying": {"S": "applying"},
                    ":lease": {"N": repr(now + self.lease_seconds)},
                    ":expires": {"N": str(int(now + EVENT_TTL_SECONDS))},
                    ":now": {"N": repr(now)},
                },
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            item = self._get("event#" + identity)
            return "done" if item.get("state", {}).get("S") == "done" else "busy"
        return "replay" if answer.get("Attributes") else "fresh"

    def claim_state(self, identity: str) -> ClaimState:
        """What `claim` would answer now, taking nothing (a dry run)."""
        item = self._get("event#" + identity)
        state = item.get("state", {}).get("S")
        if state is None:
            return "fresh"
        if state == "done":
            return "done"
        return "replay" if float(item.get("lease_until", {}).get("N", "0")) < self.clock() else "busy"

    def finish(self, identity: str) -> None:
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=self._key("event#" + identity),
            UpdateExpression="SET #state = :done, lease_until = :zero",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":done": {"S": "done"}, ":zero": {"N": "0"}},
        )

    def release(self, identity: str) -> None:
        """The run failed in a known way: the next delivery of the event may go on at once (as a replay)."""
        self.dynamodb.update_item(
            TableName=self.table_name,
            Key=self._key("event#" + identity),
            UpdateExpression="SET lease_until = :zero",
            ConditionExpression="#state = :applying",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":zero": {"N": "0"}, ":applying": {"S": "applying"}},
        )

    # --- the per-recipient ledger ------------------------------------------------------------------------

    def record_delivery(
        self, notification_id: int, round_id: str, recipient: str, at: datetime
    ) -> StoredOutcomes:
        return self._record(notification_id, round_id, _DELIVERED + recipient, at.isoformat())

    def record_failure(
        self, notification_id: int, round_id: str, recipient: str, failure: StoredFailure
    ) -> StoredOutcomes:
        kind, detail, at = failure
        value = json.dumps({"type": kind, "detail": detail, "at": at.isoformat()})
        return self._record(notification_id, round_id, _FAILED + recipient, value)

    def outcomes(self, notification_id: int, round_id: str) -> StoredOutcomes:
        return _outcomes(self._get(f"ledger#{notification_id}#{round_id}"))

    def _record(self, notification_id: int, round_id: str, name: str, value: str) -> StoredOutcomes:
        answer = self.dynamodb.update_item(
            TableName=self.table_name,
            Key=self._key(f"ledger#{notification_id}#{round_id}"),
            UpdateExpression="SET #outcome = if_not_exists(#outcome, :value), expiration = :expires",
            ExpressionAttributeNames={"#outcome": name},
            ExpressionAttributeValues={
                ":value": {"S": value},
                ":expires": {"N": str(int(self.clock() + LEDGER_TTL_SECONDS))},
            },
            ReturnValues="ALL_NEW",
        )
        return _outcomes(answer.get("Attributes") or {})

    # --- SES message → notification ----------------------------------------------------------------------

    def remember_message(self, ses_message_id: str, notification_id: int, round_id: str) -> None:
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={
                **self._key("message#" + ses_message_id),
                "notification_id": {"N": str(notification_id)},
                "round": {"S": round_id},
                "expiration": {"N": str(int(self.clock() + LEDGER_TTL_SECONDS))},
            },
        )

    def message_owner(self, ses_message_id: str) -> tuple[int, str] | None:
        item = self._get("message#" + ses_message_id)
        if "notification_id" not in item:
            return None
        return int(item["notification_id"]["N"]), item.get("round", {}).get("S", "-")

    # --- items -------------------------------------------------------------------------------------------

    def _key(self, name: str) -> dict[str, Any]:
        return {"id": {"S": KEY_PREFIX + name}}

    def _get(self, name: str) -> dict[str, Any]:
        answer = self.dynamodb.get_item(TableName=self.table_name, Key=self._key(name), ConsistentRead=True)
        return dict(answer.get("Item") or {})
