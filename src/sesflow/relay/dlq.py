"""What the relay's dead-letter queue holds, and moving it back to the queue for another try."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from sesflow.mail import parse_mail
from sesflow.relay.records import UnreadableRecordError, read_record

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

#: Enough of a mail to read its headers without downloading attachments.
HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class DeadLetter:
    key: str
    sender: str
    subject: str
    receive_count: int


def _headers_of(s3: S3Client, bucket: str, key: str) -> tuple[str, str]:
    try:
        head = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_BYTES - 1}")["Body"].read()
    except ClientError as error:
        return "?", f"(mail not readable: {error.response.get('Error', {}).get('Code', 'error')})"
    mail = parse_mail(head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
    return mail.header("From") or "?", mail.header("Subject") or ""


def list_dead_letters(sqs: SQSClient, s3: S3Client, dlq_url: str, *, limit: int = 100) -> list[DeadLetter]:
    """Peek at the DLQ: messages are received with no visibility timeout, so they stay available."""
    letters: list[DeadLetter] = []
    seen: set[str] = set()
    while len(letters) < limit:
        got = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        fresh = [message for message in got if message["MessageId"] not in seen]
        if not fresh:
            return letters
        for message in fresh:
            seen.add(message["MessageId"])
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0"))
            try:
                locations = read_record(message["Body"])
            except UnreadableRecordError as error:
                letters.append(DeadLetter("(unreadable)", "?", str(error), count))
                continue
            for location in locations:
                sender, subject = _headers_of(s3, location.bucket, location.key)
                letters.append(DeadLetter(location.key, sender, subject, count))
    return letters


def redrive(sqs: SQSClient, dlq_url: str, queue_url: str) -> str:
    """Move the DLQ's messages back: SQS's own move task where supported, else one by one."""
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    try:
        task = sqs.start_message_move_task(SourceArn=dlq_arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        # An endpoint without move tasks (an older region, an emulator) answers 400/404/5xx; moving one by one
        # is slower but just as safe. A permission problem is the operator's to fix, so it is raised.
        if "AccessDenied" in code or not (status in {400, 404} or status >= 500):
            raise
        return f"moved {move_one_by_one(sqs, dlq_url, queue_url)} message(s) one by one ({code or status})"
    return f"SQS move task started: {task['TaskHandle']}"


def move_one_by_one(sqs: SQSClient, dlq_url: str, queue_url: str) -> int:
    """Send each message to the queue, then delete it from the DLQ: a crash between the two duplicates
    a message (the relay's sends are idempotent) and never loses one."""
    moved = 0
    while True:
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not got:
            return moved
        for message in got:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
