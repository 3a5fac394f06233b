"""A relay wired to real local servers: moto's server for SES, SNS, SQS and DynamoDB; SeaweedFS for S3."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from sesflow.aws.clients import AwsClients
from sesflow.aws.ses import SesSender
from sesflow.aws.sns import Publisher
from sesflow.aws.store import ObjectStore
from sesflow.config import Flow, RelaySettings, load_settings
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.local.seaweedfs import SeaweedS3
from sesflow.relay.deps import RelayDeps
from sesflow.relay.links import LinkSigner
from sesflow.relay.wiring import relay_attempts
from sesflow.resources import RESOURCES

from .builders import s3_notification, sqs_event

SENDER = "relay@ingest.example.com"
TABLE = RESOURCES.idempotency.name


@dataclass
class RelayWorld:
    """The relay's deps plus handles to look at what happened."""

    deps: RelayDeps
    aws: AwsClients
    s3: AwsClients
    fallback_queue: str
    incoming: str
    attachments: str
    counter: int = field(default=0)

    def put_mail(self, raw: bytes, message_id: str | None = None) -> str:
        self.counter += 1
        key = f"incoming/{message_id or f'msg{self.counter:04d}{uuid.uuid4().hex[:8]}'}"
        self.s3.s3.put_object(Bucket=self.incoming, Key=key, Body=raw)
        return key

    def s3_event(self, *keys: str) -> str:
        heads = [(key, self.s3.s3.head_object(Bucket=self.incoming, Key=key)) for key in keys]
        return s3_notification(
            self.incoming, [(key, head["ContentLength"], head["ETag"]) for key, head in heads]
        )

    def sqs_event(self, *bodies: str) -> dict[str, Any]:
        return sqs_event(*bodies)

    def sent(self) -> list[Any]:
        return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)

    def fallback_notices(self) -> list[dict[str, Any]]:
        notices = []
        while True:
            got = self.aws.sqs.receive_message(QueueUrl=self.fallback_queue, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return notices
            for message in got["Messages"]:
                notices.append(json.loads(json.loads(message["Body"])["Message"]))
                self.aws.sqs.delete_message(
                    QueueUrl=self.fallback_queue, ReceiptHandle=message["ReceiptHandle"]
                )

    def with_settings(self, **changes: Any) -> RelayDeps:
        self.deps = replace(self.deps, settings=replace(self.deps.settings, **changes))
        return self.deps


def relay_settings(topic_arn: str, incoming: str, attachments: str, **extra: str) -> RelaySettings:
    return load_settings(
        Flow.RELAY,
        {
            "IDEMPOTENCY_TABLE": TABLE,
            "INCOMING_BUCKET": incoming,
            "ATTACHMENTS_BUCKET": attachments,
            "SENDER_EMAIL": SENDER,
            "SNS_TOPIC": topic_arn,
            "CONFIGURATION_SET": "relay-tracking",
            **extra,
        },
    )


def drop_bucket(s3: AwsClients, bucket: str) -> None:
    for page in s3.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def world(aws: AwsClients, seaweed: SeaweedS3) -> Iterator[RelayWorld]:
    """A relay on fresh buckets; they are dropped afterwards, as SeaweedFS gives each bucket a volume of its
    own and has about 80 of them."""
    s3 = seaweed.clients()
    incoming, attachments = f"in-{uuid.uuid4().hex[:10]}", f"att-{uuid.uuid4().hex[:10]}"
    s3.s3.create_bucket(Bucket=incoming)
    s3.s3.create_bucket(Bucket=attachments)
    aws.sesv2.create_email_identity(EmailIdentity=SENDER)
    aws.sesv2.create_configuration_set(ConfigurationSetName="relay-tracking")
    create_idempotency_table(aws)
    topic = aws.sns.create_topic(Name="relay-fallback")["TopicArn"]
    queue = aws.sqs.create_queue(QueueName="fallback-watch")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    settings = relay_settings(topic, incoming, attachments)
    store = ObjectStore(s3.s3)
    deps = RelayDeps(
        settings=settings,
        store=store,
        signer=LinkSigner(store, timedelta(seconds=settings.presigned_expiration), None),
        sender=SesSender(aws.sesv2, rate_source=lambda _: 1000.0),
        publisher=Publisher(aws.sns),
        persistence=DynamoDBPersistenceLayer(table_name=TABLE, boto3_client=aws.dynamodb),
        attempts=relay_attempts(TABLE, aws),
    )
    yield RelayWorld(deps, aws, s3, queue, incoming, attachments)
    for bucket in (incoming, attachments):
        drop_bucket(s3, bucket)
