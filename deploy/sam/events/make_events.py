"""Writes the sample events in this folder, one per trigger of the notices functions, in the shapes AWS sends:

    python deploy/sam/events/make_events.py        # rewrites *.json here; tests/deploy checks they match

- `inbound_ses_receipt.json`: SES receipt rule, Lambda action (async): verdicts and headers, no body.
- `outbound_schedule.json`: EventBridge scheduled event (the poll).
- `outbound_webhook.json`: NetBox's webhook through the HTTP API (payload 2.0), signed with `WEBHOOK_SECRET`
  below: `sam local invoke OutboundFunction -e events/outbound_webhook.json` needs WebhookSecret set to it.
  Its body is NetBox 4.7's; `outbound_webhook_netbox45.json` and `outbound_webhook_netbox46.json` carry the
  bodies of the older versions netbox-notices supports (with `username` and `request_id`, which 4.7 dropped).
- `tracking_sns_<type>.json` / `tracking_sqs_<type>.json`: SES event publishing through SNS to the function,
  and through SNS to SQS (not raw delivery: the SQS body is the SNS envelope) for Delivery, Bounce,
  Complaint, Open and DeliveryDelay.

Fixed ids and times keep the output the same from run to run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, Final

HERE: Final = Path(__file__).resolve().parent
#: The secret the sample webhook is signed with. A test value: never deploy with it.
WEBHOOK_SECRET: Final = "webhook-test-secret"  # noqa: S105 - a published test value
REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"
STACK: Final = "sesflow-notices"
NOTIFICATION_ID: Final = 42
FROM: Final = "noc@notices.example.com"
TO: Final = "ops@customer.example"
SES_MESSAGE_ID: Final = "0100019ab2c3d4e5-6f7a8b9c-1d2e-4f3a-9b8c-7d6e5f4a3b2c-000000"
SENT_AT: Final = "2026-11-23T10:00:00.000Z"
TOPIC_ARN: Final = f"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-TrackingTopic-1A2B3C4D5E6F"
QUEUE_ARN: Final = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-TrackingQueue-7G8H9I0J1K2L"
TRACKED_TYPES: Final = ("Delivery", "Bounce", "Complaint", "Open", "DeliveryDelay")


def signature(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """NetBox's X-Hook-Signature: hex HMAC-SHA512 of the exact body bytes, keyed with the secret."""
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def inbound_ses_receipt() -> dict[str, Any]:
    headers = [
        {"name": "Return-Path", "value": "<mr@zayo.com>"},
        {"name": "From", "value": "Zayo Maintenance <mr@zayo.com>"},
        {"name": "To", "value": "notices@notices.example.com"},
        {"name": "Subject", "value": "***Some Customer Inc***ZAYO TTN-0002345678 Planned Maintenance"},
        {"name": "Message-ID", "value": "<zayo-ttn-0002345678@zayo.com>"},
        {"name": "Date", "value": "Mon, 23 Nov 2026 09:58:12 +0000"},
        {"name": "MIME-Version", "value": "1.0"},
    ]
    verdict = {"status": "PASS"}
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": "2026-11-23T09:58:14.312Z",
                        "source": "mr@zayo.com",
                        "messageId": "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1",
                        "destination": ["notices@notices.example.com"],
                        "headersTruncated": False,
                        "headers": headers,
                        "commonHeaders": {
                            "returnPath": "mr@zayo.com",
                            "from": ["Zayo Maintenance <mr@zayo.com>"],
                            "date": "Mon, 23 Nov 2026 09:58:12 +0000",
                            "to": ["notices@notices.example.com"],
                            "messageId": "<zayo-ttn-0002345678@zayo.com>",
                            "subject": "***Some Customer Inc***ZAYO TTN-0002345678 Planned Maintenance",
                        },
                    },
                    "receipt": {
                        "timestamp": "2026-11-23T09:58:14.312Z",
                        "processingTimeMillis": 402,
                        "recipients": ["notices@notices.example.com"],
                        "spamVerdict": verdict,
                        "virusVerdict": verdict,
                        "spfVerdict": verdict,
                        "dkimVerdict": verdict,
                        "dmarcVerdict": verdict,
                        "action": {
                            "type": "Lambda",
                            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-inbound",
                            "invocationType": "Event",
                        },
                    },
                },
            }
        ]
    }


def outbound_schedule() -> dict[str, Any]:
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-23T10:05:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-OutboundSchedule-1A2B3C4D5E6F"],
        "detail": {},
    }


#: NetBox versions whose default webhook body differs, and the sample file of each.
WEBHOOK_FILES: Final = {
    "4.7": "outbound_webhook.json",
    "4.6": "outbound_webhook_netbox46.json",
    "4.5": "outbound_webhook_netbox45.json",
}
REQUEST_ID: Final = "8f1c2d3e-4b5a-4c6d-9e8f-7a6b5c4d3e2f"
NETBOX_USER: Final = "noc-automation"


def netbox_webhook_body(version: str = "4.7") -> bytes:
    """NetBox's default webhook body for a prepared notification that became `ready`. 4.5 sends `username`
    and `request_id`; 4.6 adds `request` and keeps both (deprecated); 4.7 sends `request` alone."""
    data = {
        "id": NOTIFICATION_ID,
        "url": f"https://netbox.example.com/api/plugins/notices/prepared-notifications/{NOTIFICATION_ID}/",
        "display": "Planned maintenance TTN-0002345678",
        "status": "ready",
        "subject": "Planned maintenance TTN-0002345678",
        "recipients": [{"email": TO, "name": "Customer Ops"}],
    }
    body: dict[str, Any] = {
        "event": "updated",
        "timestamp": "2026-11-23T10:00:00.123456+00:00",
        "object_type": "notices.preparednotification",
    }
    if version in {"4.5", "4.6"}:
        body |= {"username": NETBOX_USER, "request_id": REQUEST_ID}
    body |= {
        "data": data,
        "snapshots": {
            "prechange": {"status": "draft", "subject": data["subject"]},
            "postchange": {"status": "ready", "subject": data["subject"]},
        },
    }
    if version != "4.5":
        body["request"] = {
            "id": REQUEST_ID,
            "method": "PATCH",
            "path": f"/api/plugins/notices/prepared-notifications/{NOTIFICATION_ID}/",
            "user": NETBOX_USER,
        }
    return json.dumps(body, separators=(",", ":")).encode()


def outbound_webhook(version: str = "4.7") -> dict[str, Any]:
    body = netbox_webhook_body(version)
    return {
        "version": "2.0",
        "routeKey": "POST /webhook/outbound",
        "rawPath": "/webhook/outbound",
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "content-length": str(len(body)),
            "content-type": "application/json",
            "host": f"a1b2c3d4e5.execute-api.{REGION}.amazonaws.com",
            "user-agent": "python-requests/2.32.5",
            "x-amzn-trace-id": "Root=1-6741a8f0-0a1b2c3d4e5f6a7b8c9d0e1f",
            "x-forwarded-for": "198.51.100.20",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            "x-hook-signature": signature(body),
        },
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "a1b2c3d4e5",
            "domainName": f"a1b2c3d4e5.execute-api.{REGION}.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": "POST",
                "path": "/webhook/outbound",
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.20",
                "userAgent": "python-requests/2.32.5",
            },
            "requestId": "Bq3xHhkYoAMEV-w=",
            "routeKey": "POST /webhook/outbound",
            "stage": "$default",
            "time": "23/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795428000123,
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def ses_event(event_type: str) -> dict[str, Any]:
    """SES event publishing's JSON for one event of a mail sent with our tags."""
    mail = {
        "timestamp": SENT_AT,
        "source": FROM,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/notices.example.com",
        "sendingAccountId": ACCOUNT,
        "messageId": SES_MESSAGE_ID,
        "destination": [TO],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": FROM},
            {"name": "To", "value": TO},
            {"name": "Subject", "value": "Planned maintenance TTN-0002345678"},
            {"name": "MIME-Version", "value": "1.0"},
        ],
        "commonHeaders": {"from": [FROM], "to": [TO], "subject": "Planned maintenance TTN-0002345678"},
        "tags": {
            "ses:source-tls-version": ["TLSv1.3"],
            "ses:operation": ["SendEmail"],
            "ses:configuration-set": ["netbox-notices-tracking"],
            "ses:source-ip": ["203.0.113.10"],
            "ses:from-domain": ["notices.example.com"],
            "ses:caller-identity": [f"{STACK}-OutboundRole-ABCDEF123456"],
            "notification_id": [str(NOTIFICATION_ID)],
            "outbound_round": ["r1"],
        },
    }
    details: dict[str, tuple[str, dict[str, Any]]] = {
        "Delivery": (
            "delivery",
            {
                "timestamp": "2026-11-23T10:00:02.418Z",
                "processingTimeMillis": 2418,
                "recipients": [TO],
                "smtpResponse": "250 2.0.0 OK  1795428002 a1si123456qkb.12 - gsmtp",
                "reportingMTA": "a8-30.smtp-out.amazonses.com",
            },
        ),
        "Bounce": (
            "bounce",
            {
                "feedbackId": "0100019ab2c3d9f0-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d-000000",
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": TO,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 <ops@customer.example>: user unknown",
                    }
                ],
                "timestamp": "2026-11-23T10:00:03.051Z",
                "reportingMTA": "dns; a8-30.smtp-out.amazonses.com",
            },
        ),
        "Complaint": (
            "complaint",
            {
                "feedbackId": "0100019ab2f0a1b2-3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f-000000",
                "complaintSubType": None,
                "complainedRecipients": [{"emailAddress": TO}],
                "timestamp": "2026-11-23T11:14:07.000Z",
                "userAgent": "Mozilla/5.0 (compatible; feedback-loop)",
                "complaintFeedbackType": "abuse",
                "arrivalDate": "2026-11-23T11:13:59.000Z",
            },
        ),
        "Open": (
            "open",
            {
                "timestamp": "2026-11-23T10:12:45.000Z",
                "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
                "ipAddress": "198.51.100.77",
            },
        ),
        "DeliveryDelay": (
            "deliveryDelay",
            {
                "timestamp": "2026-11-23T10:20:00.000Z",
                "delayType": "TransientCommunicationFailure",
                "expirationTime": "2026-11-24T10:00:00.000Z",
                "delayedRecipients": [
                    {
                        "emailAddress": TO,
                        "status": "4.4.1",
                        "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to the remote host",
                    }
                ],
                "reportingMTA": "a8-30.smtp-out.amazonses.com",
            },
        ),
    }
    key, detail = details[event_type]
    return {"eventType": event_type, "mail": mail, key: detail}


def _sns_message_id(event_type: str) -> str:
    digest = hashlib.sha256(f"sns-{event_type}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _sns_fields(event_type: str) -> dict[str, str]:
    return {
        "Type": "Notification",
        "MessageId": _sns_message_id(event_type),
        "TopicArn": TOPIC_ARN,
        "Message": json.dumps(ses_event(event_type), separators=(",", ":")),
        "Timestamp": "2026-11-23T10:20:00.512Z",
        "SignatureVersion": "1",
        "Signature": "RXhhbXBsZSBzaWduYXR1cmU7IFNOUyBzaWducyB0aGUgcmVhbCBvbmUu",
    }


def tracking_sns(event_type: str) -> dict[str, Any]:
    """SNS invoking the function directly (its keys say `Url`, unlike the SQS envelope's `URL`)."""
    subscription = f"{TOPIC_ARN}:5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
    sns: dict[str, Any] = {
        **_sns_fields(event_type),
        "Subject": None,
        "SigningCertUrl": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000000000.pem",
        "UnsubscribeUrl": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}",
        "MessageAttributes": {},
    }
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription,
        "Sns": sns,
    }
    return {"Records": [record]}


def tracking_sqs(event_type: str) -> dict[str, Any]:
    """SQS invoking the function with the SNS envelope as the body (the subscription is not raw)."""
    subscription = f"{TOPIC_ARN}:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
    envelope = {
        **_sns_fields(event_type),
        "SigningCertURL": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000000000000000.pem",
        "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}",
    }
    body = json.dumps(envelope, indent=2)
    record = {
        "messageId": _sns_message_id(f"sqs-{event_type}"),
        "receiptHandle": "AQEBexampleReceiptHandleOnlyValidForTheQueueThatSentIt==",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795429200512",
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "ApproximateFirstReceiveTimestamp": "1795429200530",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }
    return {"Records": [record]}


def all_events() -> dict[str, dict[str, Any]]:
    """File name -> event."""
    events = {
        "inbound_ses_receipt.json": inbound_ses_receipt(),
        "outbound_schedule.json": outbound_schedule(),
        **{name: outbound_webhook(version) for version, name in WEBHOOK_FILES.items()},
    }
    for event_type in TRACKED_TYPES:
        name = event_type.lower()
        events[f"tracking_sns_{name}.json"] = tracking_sns(event_type)
        events[f"tracking_sqs_{name}.json"] = tracking_sqs(event_type)
    return events


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2) + "\n"


def main() -> None:
    for name, event in all_events().items():
        (HERE / name).write_text(render(event), encoding="utf-8")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
