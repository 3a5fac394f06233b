"""A mark per send, written in DynamoDB just before SES is asked and kept once it may have sent.

SES's SendEmail takes no idempotency token. A process that stops after asking SES and before recording
its answer (a Lambda timeout, a crash, a kill) leaves only this mark behind; the retry that finds it knows
SES may have taken the message and must not send it again. A mark is removed only when SES answered that
it did not take the message, so the retry may send.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sesflow.aws.dynamodb import is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class SendAttempts:
    """Marks in the shared idempotency table (key `id`, TTL attribute `expiration`)."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient, *, prefix: str, keep_seconds: int) -> None:
        self.table_name = table_name
        self.dynamodb = dynamodb
        self.prefix = prefix
        self.keep_seconds = keep_seconds  # as long as the records of the sends they guard

    def begin(self, key: str) -> bool:
        """Mark `key` as asked of SES; False when an earlier attempt already did (it may have sent)."""
        token = uuid.uuid4().hex
        now = int(time.time())
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    "id": {"S": self._id(key)},
                    "attempt": {"S": token},
                    "asked_at": {"N": str(now)},
                    "expiration": {"N": str(now + self.keep_seconds)},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            # botocore repeats a put whose answer was lost; the mark it then meets may be its own.
            return self._attempt_of(key) == token
        return True

    def forget(self, key: str) -> None:
        """SES answered that it did not take the message: a later attempt may send it."""
        self.dynamodb.delete_item(TableName=self.table_name, Key={"id": {"S": self._id(key)}})

    def _attempt_of(self, key: str) -> str | None:
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={"id": {"S": self._id(key)}}, ConsistentRead=True
        ).get("Item", {})
        return item.get("attempt", {}).get("S")

    def _id(self, key: str) -> str:
        return f"{self.prefix}#{key}"
