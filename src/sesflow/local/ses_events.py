"""SES event-publishing records as SES writes them to an SNS topic, for the local outbox and for tests.

Two shapes exist: event publishing through a configuration set (`eventType`, with `mail.tags`, every event
type) and the older identity feedback notifications (`notificationType`; Bounce, Complaint and Delivery only,
and SES publishes no tags in them). `sns_envelope` wraps either the way SNS delivers it to an SQS queue
without raw delivery; `sqs_event` and `sns_event` build the Lambda events of the two triggers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

type Json = dict[str, Any]

ACCOUNT_ID: Final = "123456789012"
REGION: Final = "us-east-1"
DEFAULT_TOPIC_ARN: Final = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:ses-tracking"
DEFAULT_QUEUE_ARN: Final = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:ses-tracking"
#: The event types SES also sends as identity feedback notifications (the older shape).
LEGACY_TYPES: Final = frozenset({"Bounce", "Complaint", "Delivery"})


def ses_time(moment: datetime) -> str:
    """SES's timestamps: UTC, milliseconds, a `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mail_object(  # noqa: PLR0913 - the fields of SES's mail object, each with a default
    message_id: str,
    destination: Sequence[str],
    *,
    sent: datetime,
    source: str = "notices@example.net",
    subject: str = "Maintenance notice",
    tags: Mapping[str, Sequence[str]] | None = None,
    configuration_set: str = "sesflow-notices",
) -> Json:
    """The `mail` object every event carries. `tags` are the sender's own; SES adds its `ses:` tags."""
    all_tags: dict[str, list[str]] = {
        "ses:configuration-set": [configuration_set],
        "ses:source-ip": ["192.0.2.10"],
        "ses:from-domain": [source.rpartition("@")[2]],
        "ses:caller-identity": ["sesflow"],
        **{name: list(values) for name, values in (tags or {}).items()},
    }
    return {
        "timestamp": ses_time(sent),
        "source": source,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/{source.rpartition('@')[2]}",
        "sendingAccountId": ACCOUNT_ID,
        "messageId": message_id,
        "destination": list(destination),
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": source},
            {"name": "To", "value": ", ".join(destination)},
            {"name": "Subject", "value": subject},
            {"name": "MIME-Version", "value": "1.0"},
        ],
        "commonHeaders": {
            "from": [source],
            "to": list(destination),
            "messageId": message_id,
            "subject": subject,
        },
        "tags": all_tags,
    }


def _event(event_type: str, mail: Json, name: str, body: Json) -> Json:
    return {"eventType": event_type, "mail": mail, name: body}


def send_event(mail: Json) -> Json:
    """SES accepted the message (its `send` object is empty)."""
    return _event("Send", mail, "send", {})


def delivery_event(
    mail: Json, recipients: Sequence[str], *, at: datetime, smtp_response: str = "250 2.0.0 OK queued"
) -> Json:
    sent = datetime.fromisoformat(mail["timestamp"])
    return _event(
        "Delivery",
        mail,
        "delivery",
        {
            "timestamp": ses_time(at),
            "processingTimeMillis": max(0, int((at - sent).total_seconds() * 1000)),
            "recipients": list(recipients),
            "smtpResponse": smtp_response,
            "reportingMTA": "a8-1.smtp-out.amazonses.com",
            "remoteMtaIp": "198.51.100.25",
        },
    )


def bounce_event(
    mail: Json,
    recipients: Sequence[str],
    *,
    at: datetime,
    bounce_type: str = "Permanent",
    sub_type: str = "General",
    diagnostic: str = "smtp; 550 5.1.1 user unknown",
) -> Json:
    """`bounce_type` is Permanent, Transient or Undetermined."""
    status = "5.1.1" if bounce_type == "Permanent" else "4.4.7"
    return _event(
        "Bounce",
        mail,
        "bounce",
        {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [
                {"emailAddress": address, "action": "failed", "status": status, "diagnosticCode": diagnostic}
                for address in recipients
            ],
            "timestamp": ses_time(at),
            "feedbackId": f"0100{uuid.uuid4().hex}-000000",
            "reportingMTA": "dsn; a8-1.smtp-out.amazonses.com",
        },
    )


def complaint_event(
    mail: Json, recipients: Sequence[str], *, at: datetime, feedback_type: str = "abuse"
) -> Json:
    return _event(
        "Complaint",
        mail,
        "complaint",
        {
            "complainedRecipients": [{"emailAddress": address} for address in recipients],
            "timestamp": ses_time(at),
            "feedbackId": f"0100{uuid.uuid4().hex}-000000",
            "userAgent": "ExampleCorp Feedback Loop (V0.01)",
            "complaintFeedbackType": feedback_type,
            "arrivalDate": ses_time(at - timedelta(seconds=1)),
        },
    )


def reject_event(mail: Json, reason: str = "Bad content") -> Json:
    """SES refused to send the message (a virus, for instance): no recipient got it."""
    return _event("Reject", mail, "reject", {"reason": reason})


def rendering_failure_event(
    mail: Json,
    error_message: str = "Attribute 'name' is not present in the rendering data.",
    template_name: str = "notice",
) -> Json:
    return _event(
        "Rendering Failure", mail, "failure", {"errorMessage": error_message, "templateName": template_name}
    )


def delivery_delay_event(
    mail: Json,
    recipients: Sequence[str],
    *,
    at: datetime,
    delay_type: str = "TransientCommunicationFailure",
    diagnostic: str = "smtp; 421 4.4.2 connection timed out",
) -> Json:
    return _event(
        "DeliveryDelay",
        mail,
        "deliveryDelay",
        {
            "timestamp": ses_time(at),
            "delayType": delay_type,
            "expirationTime": ses_time(at + timedelta(hours=14)),
            "delayedRecipients": [
                {"emailAddress": address, "status": "4.4.1", "diagnosticCode": diagnostic}
                for address in recipients
            ],
        },
    )


def open_event(mail: Json, *, at: datetime, user_agent: str = "Mozilla/5.0 (Windows NT 10.0)") -> Json:
    return _event(
        "Open", mail, "open", {"ipAddress": "203.0.113.7", "timestamp": ses_time(at), "userAgent": user_agent}
    )


def click_event(mail: Json, *, at: datetime, link: str = "https://status.example.net/maintenance") -> Json:
    return _event(
        "Click",
        mail,
        "click",
        {
            "ipAddress": "203.0.113.7",
            "timestamp": ses_time(at),
            "userAgent": "Mozilla/5.0 (Windows NT 10.0)",
            "link": link,
            "linkTags": {},
        },
    )


def legacy(event: Json, *, keep_tags: bool = False) -> Json:
    """The same event as an identity feedback notification: `notificationType`, and no tags (SES does not
    publish them there; `keep_tags` leaves them in for a reader that must cope with both)."""
    event_type = event["eventType"]
    if event_type not in LEGACY_TYPES:
        raise ValueError(f"SES sends no {event_type} notification in the older format")
    mail = dict(event["mail"])
    if not keep_tags:
        mail.pop("tags", None)
    mail |= {"sourceIp": "192.0.2.10", "callerIdentity": "sesflow"}
    rest = {name: value for name, value in event.items() if name not in {"eventType", "mail"}}
    return {"notificationType": event_type, "mail": mail, **rest}


def sns_envelope(
    message: Mapping[str, Any],
    *,
    topic_arn: str = DEFAULT_TOPIC_ARN,
    message_id: str | None = None,
    at: datetime | None = None,
) -> Json:
    """The JSON SNS puts in an SQS message body when raw delivery is off (what SES's topic delivers)."""
    return {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": json.dumps(message),
        "Timestamp": ses_time(at or datetime.now(UTC)),
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-example.pem",
        "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe",
    }


def sqs_record(body: str, *, message_id: str | None = None, queue_arn: str = DEFAULT_QUEUE_ARN) -> Json:
    """One record of the Lambda event an SQS trigger sends."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
            "SenderId": ACCOUNT_ID,
            "ApproximateFirstReceiveTimestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def sqs_event(bodies: Iterable[str]) -> Json:
    return {"Records": [sqs_record(body) for body in bodies]}


def sns_event(messages: Iterable[Mapping[str, Any]], *, topic_arn: str = DEFAULT_TOPIC_ARN) -> Json:
    """The Lambda event of a direct SNS subscription (one record per message)."""
    records = []
    for message in messages:
        envelope = sns_envelope(message, topic_arn=topic_arn)
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {**envelope, "Subject": None, "MessageAttributes": {}},
            }
        )
    return {"Records": records}
