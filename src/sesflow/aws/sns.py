"""Publishing to SNS with the size checked first: 256 KiB, body and attributes together."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

MAX_PUBLISH_BYTES: Final = 256 * 1024
#: SNS subjects: printable ASCII, no line breaks, under 100 characters.
MAX_SUBJECT_CHARS: Final = 99


class MessageTooLargeError(ValueError):
    """The notification would exceed SNS's 256 KiB; point at the data instead of carrying it."""


type AttributeValue = str | int | float | list[str]


def _attribute(value: AttributeValue) -> MessageAttributeValueTypeDef:
    if isinstance(value, bool):
        return {"DataType": "String", "StringValue": str(value).lower()}
    if isinstance(value, int | float):
        return {"DataType": "Number", "StringValue": str(value)}
    if isinstance(value, list):
        return {"DataType": "String.Array", "StringValue": json.dumps(value)}
    return {"DataType": "String", "StringValue": value}


def _subject(subject: str) -> str:
    printable = "".join(c if " " <= c <= "~" else " " for c in subject)
    return " ".join(printable.split())[:MAX_SUBJECT_CHARS] or "sesflow"


class Publisher:
    """Publishes JSON or text notifications to an SNS topic."""

    def __init__(self, sns: SNSClient) -> None:
        self.sns = sns

    def publish(
        self,
        topic_arn: str,
        message: str | Mapping[str, object],
        *,
        subject: str | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> str:
        """Publish one notification; returns SNS's message id."""
        body = message if isinstance(message, str) else json.dumps(message, default=str)
        encoded = {name: _attribute(value) for name, value in (attributes or {}).items()}
        size = len(body.encode()) + sum(
            len(name.encode()) + len(v["DataType"]) + len(v.get("StringValue", "").encode())
            for name, v in encoded.items()
        )
        if size > MAX_PUBLISH_BYTES:
            raise MessageTooLargeError(
                f"SNS message is {size} bytes with its attributes; the limit is {MAX_PUBLISH_BYTES}"
            )
        if subject is None:
            published = self.sns.publish(TopicArn=topic_arn, Message=body, MessageAttributes=encoded)
        else:
            published = self.sns.publish(
                TopicArn=topic_arn,
                Message=body,
                Subject=_subject(subject),
                MessageAttributes=encoded,
            )
        return published["MessageId"]
