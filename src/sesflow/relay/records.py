"""Step 1, read the record: an SQS message whose body is an S3 event notification → the mails it names."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from urllib.parse import quote_plus, unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

#: SES writes this object under the rule's prefix when the rule is created; it is not mail.
SES_SETUP_NOTIFICATION = "AMAZON_SES_SETUP_NOTIFICATION"


class UnreadableRecordError(ValueError):
    """The SQS body is not an S3 event notification; retrying cannot change that."""


@dataclass(frozen=True)
class MailLocation:
    """Where SES stored one received mail."""

    bucket: str
    key: str
    size: int
    etag: str

    @property
    def message_id(self) -> str:
        """SES names the object after the message id (after the rule's prefix)."""
        return posixpath.basename(self.key)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def read_record(body: str) -> list[MailLocation]:
    """The mails an S3 notification names; none for S3's test event and SES's setup object."""
    try:
        notification = json.loads(body)
    except json.JSONDecodeError as error:
        raise UnreadableRecordError(f"SQS body is not JSON: {error.msg} at character {error.pos}") from error
    if not isinstance(notification, dict):
        raise UnreadableRecordError("SQS body is not an S3 event notification (not a JSON object)")
    if notification.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(notification.get("Records"), list):
        raise UnreadableRecordError("SQS body has no S3 Records")
    locations = []
    for record in S3Event(notification).records:
        if not record.event_name.startswith("ObjectCreated:"):
            continue
        key = unquote_plus(record.s3.get_object.key)  # S3 URL-encodes keys in notifications
        if posixpath.basename(key) == SES_SETUP_NOTIFICATION:
            continue
        obj = record.s3.get_object
        locations.append(MailLocation(record.s3.bucket.name, key, obj.size, obj.etag))
    return locations


def notification_for(location: MailLocation) -> str:
    """The S3 event notification SQS carries for one stored mail (keys URL-encoded, as S3 sends them)."""
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": location.bucket},
            "object": {
                "key": quote_plus(location.key, safe="/"),
                "size": location.size,
                "eTag": location.etag,
            },
        },
    }
    return json.dumps({"Records": [record]})
