"""What the relay's dead-letter queue holds, and moving it back to the queue for another try."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sesflow.aws.queues import MoveTasksUnavailable, start_message_move
from sesflow.aws.store import ObjectStore, ObjectUnreadable
from sesflow.mail import parse_mail
from sesflow.relay.records import UnreadableRecordError, read_record

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: Enough of a mail to read its headers without downloading attachments.
HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class DeadLetter:
    key: str
    sender: str
    subject: str
    receive_count: int


def _headers_of(store: ObjectStore, bucket: str, key: str) -> tuple[str, str]:
    try:
        head = store.read_start(bucket, key, HEADER_BYTES)
    except ObjectUnreadable as error:
        return "?", f"(mail not readable: {error.code})"
    mail = parse_mail(head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
    return mail.header("From") or "?", mail.header("Subject") or ""


def list_dead_letters(
    sqs: SQSClient, store: ObjectStore, dlq_url: str, *, limit: int = 100
) -> list[DeadLetter]:
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
                sender, subject = _headers_of(store, location.bucket, location.key)
                letters.append(DeadLetter(location.key, sender, subject, count))
    return letters


def redrive(sqs: SQSClient, dlq_url: str, queue_url: str) -> str:
    """Move the DLQ's messages back: SQS's own move task where supported, else one by one."""
    try:
        handle = start_message_move(sqs, dlq_url)
    except MoveTasksUnavailable as unavailable:
        # Moving one by one is slower but just as safe.
        return f"moved {move_one_by_one(sqs, dlq_url, queue_url)} message(s) one by one ({unavailable.code})"
    return f"SQS move task started: {handle}"


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
