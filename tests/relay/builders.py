"""The relay's test inputs: device mails (a text part with the recipients line, and an attachment if asked),
and the S3 notifications and SQS events that bring them to the relay, as AWS shapes them."""

from __future__ import annotations

import json
from typing import Any


def s3_notification(bucket: str, objects: list[tuple[str, int, str]]) -> str:
    """The SQS body S3 sends for new objects, each `(key, size, etag)`; keys URL-encoded as S3 does."""
    records = [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                "object": {"key": key.replace("/", "%2F"), "size": size, "eTag": etag.strip('"')},
            },
        }
        for key, size, etag in objects
    ]
    return json.dumps({"Records": records})


def sqs_event(*bodies: str) -> dict[str, Any]:
    """The Lambda event of one SQS batch carrying these bodies."""
    return {
        "Records": [
            {
                "messageId": f"m-{n}",
                "receiptHandle": f"rh-{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:relay",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def device_mail(
    recipients: str, *, extra_headers: str = "", body_extra: str = "", attachment: bool = True
) -> bytes:
    parts = [
        "From: sensor-gw@iot.example.com",
        "To: relay@ingest.example.com",
        "Subject: Readings",
        *([extra_headers] if extra_headers else []),  # an empty line here would end the header block
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b1"',
        "",
        "--b1",
        "Content-Type: text/plain",
        "",
        "Hourly readings.",
        f"Email_Rxers_Code:[{recipients}]:Email_Rxers_Code:",
        body_extra,
        "",
    ]
    if attachment:
        parts += [
            "--b1",
            'Content-Type: text/csv; name="r.csv"',
            "Content-Transfer-Encoding: base64",
            'Content-Disposition: attachment; filename="r.csv"',
            "",
            "YSxiCjEsMgo=",
        ]
    parts.append("--b1--")
    return (
        "\r\n".join(line for line in parts if line is not None).replace("\r\n\r\n\r\n", "\r\n\r\n").encode()
    )
