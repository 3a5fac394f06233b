"""Tracking tests' shared pieces: the real NetBox with three contacts and a template, the idempotency table
and the SES topic → SQS queue (with a DLQ) on moto's server, and a worker that plays the Lambda trigger."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.aws.tracking_ledger import TrackingTable
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.local.netbox.seed import ContactSeed, SeedData, Seeded, TemplateSeed, seed_netbox
from sesflow.local.ses_events import sqs_record
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus, PreparedNotification
from sesflow.notices.claims import ClaimTable
from sesflow.notices.tracking.deps import TrackingDeps
from sesflow.notices.tracking.notifications import NetBoxNotifications
from sesflow.notices.tracking.outcomes import Tracked
from sesflow.notices.tracking.wiring import process_batch
from sesflow.resources import RESOURCES

from ...netbox.conftest import clean_netbox, nb_client, netbox, notices  # noqa: F401

TABLE = RESOURCES.idempotency.name
CONTACTS = (
    ContactSeed("NOC", "noc@example.net"),
    ContactSeed("On call", "oncall@example.net"),
    ContactSeed("Field team", "field@example.org"),
)
RECIPIENTS = tuple(contact.email for contact in CONTACTS)


@pytest.fixture
def tracking_seeded(nb_client: NetBoxClient) -> Seeded:  # noqa: F811
    return seed_netbox(nb_client, SeedData(contacts=CONTACTS, template=TemplateSeed()))


@dataclass
class Notifications:
    """Prepared notifications in the states the tests start from."""

    api: NoticesApi
    seeded: Seeded

    def ready(self, emails: Sequence[str] = RECIPIENTS) -> PreparedNotification:
        assert self.seeded.template is not None
        created = self.api.create_prepared_notification(
            template_id=self.seeded.template,
            subject="Planned maintenance",
            body_text="Work on ZAYO-0001",
            contact_ids=[self.seeded.contacts[email] for email in emails],
        )
        return self.api.transition(created.id, NotificationStatus.READY, message="approved")

    def sent(self, emails: Sequence[str] = RECIPIENTS) -> PreparedNotification:
        ready = self.ready(emails)
        return self.mark_sent(ready.id)

    def mark_sent(self, notification_id: int, message_id: str = "outbound") -> PreparedNotification:
        return self.api.transition(
            notification_id, NotificationStatus.SENT, message=f"Sent via SES (MessageId: {message_id})"
        )


@pytest.fixture
def prepared(notices: NoticesApi, tracking_seeded: Seeded) -> Notifications:  # noqa: F811
    return Notifications(notices, tracking_seeded)


def create_table(aws: AwsClients) -> None:
    create_idempotency_table(aws)


def make_deps(aws: AwsClients, client: NetBoxClient, outcomes: list[Tracked]) -> TrackingDeps:
    return TrackingDeps(
        ledger=TrackingTable(TABLE, aws.dynamodb),
        claims=ClaimTable(TABLE, aws.dynamodb),
        notifications=NetBoxNotifications(NoticesApi(client)),
        on_outcome=outcomes.append,
    )


@dataclass
class TrackingPipe:
    """SES's configuration-set topic → an SQS queue (SNS envelope, no raw delivery, a DLQ after 3 receives),
    and a worker that hands each batch to the handler's batch function and deletes what succeeded."""

    aws: AwsClients
    deps: TrackingDeps
    topic_arn: str
    queue_url: str
    dlq_url: str
    outcomes: list[Tracked] = field(default_factory=list)

    def publish(self, *events: Mapping[str, Any]) -> None:
        for event in events:
            self.aws.sns.publish(TopicArn=self.topic_arn, Message=json.dumps(event))

    def drain(self, deps: TrackingDeps | None = None) -> list[str]:
        """Run batches until no message is visible; returns the SES event types that failed (left in the
        queue: visible again after the 1 s visibility timeout)."""
        failed: list[str] = []
        while True:
            answer = self.aws.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages = answer.get("Messages", [])
            if not messages:
                return failed
            event = {"Records": [sqs_record(m["Body"], message_id=m["MessageId"]) for m in messages]}
            response = process_batch(event, None, deps or self.deps)
            failures = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] in failures:
                    failed.append(json.loads(json.loads(message["Body"])["Message"])["eventType"])
                else:
                    self.aws.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )

    def send_through(self, *events: Mapping[str, Any]) -> list[str]:
        self.publish(*events)
        return self.drain()


@pytest.fixture
def pipe(aws: AwsClients, nb_client: NetBoxClient) -> TrackingPipe:  # noqa: F811
    create_table(aws)
    topic_arn = aws.sns.create_topic(Name="ses-tracking")["TopicArn"]
    dlq_url = aws.sqs.create_queue(QueueName="ses-tracking-dlq")["QueueUrl"]
    dlq_arn = aws.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = aws.sqs.create_queue(
        QueueName="ses-tracking",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "false"},
    )
    outcomes: list[Tracked] = []
    return TrackingPipe(aws, make_deps(aws, nb_client, outcomes), topic_arn, queue_url, dlq_url, outcomes)


def now() -> datetime:
    return datetime.now(UTC)


type Clock = Callable[[], datetime]


def to_ms(moment: datetime) -> datetime:
    """SES's timestamps have milliseconds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def wait_past(moment: datetime) -> None:
    """NetBox refuses a timestamp ahead of its clock, and its Date header has whole seconds: let its clock
    pass the events' times before they are applied (both run on this machine)."""
    delay = (moment - datetime.now(UTC)).total_seconds() + 1.1
    if delay > 0:
        time.sleep(delay)


def journal(api: NoticesApi, notification_id: int) -> list[str]:
    return [entry.comments for entry in api.journal_entries(notification_id)]
