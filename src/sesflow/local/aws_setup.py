"""The AWS side of the local stack, created on moto's server from `sesflow.resources`: buckets with their
lifecycle, queues with DLQs and redrive policies, S3 → SQS for the relay, the tracking topic → queue, the
idempotency table, configuration sets and verified identities."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sesflow.aws.clients import AwsClients
from sesflow.resources import RESOURCES, Bucket, Queue, Resources, Table


@dataclass(frozen=True)
class QueueUrls:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class LocalAws:
    """Where each resource ended up (URLs and ARNs) once created."""

    relay_queue: QueueUrls
    tracking_queue: QueueUrls
    inbound_failures: QueueUrls
    fallback_topic_arn: str
    tracking_topic_arn: str
    #: configuration set → the SNS topic its event destination publishes to
    event_destinations: dict[str, str]


def create_bucket(clients: AwsClients, bucket: Bucket) -> None:
    clients.s3.create_bucket(Bucket=bucket.name)
    if bucket.lifecycle:
        clients.s3.put_bucket_lifecycle_configuration(
            Bucket=bucket.name,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": f"expire-{rule.prefix.strip('/') or 'all'}",
                        "Filter": {"Prefix": rule.prefix},
                        "Status": "Enabled",
                        "Expiration": {"Days": rule.expiration_days},
                    }
                    for rule in bucket.lifecycle
                ]
            },
        )


def create_queue(clients: AwsClients, queue: Queue) -> QueueUrls:
    sqs = clients.sqs
    retention = str(queue.retention_seconds)
    dlq_url = sqs.create_queue(QueueName=queue.dlq_name, Attributes={"MessageRetentionPeriod": retention})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
    url = sqs.create_queue(
        QueueName=queue.name,
        Attributes={
            "VisibilityTimeout": str(queue.visibility_timeout_seconds),
            "MessageRetentionPeriod": retention,
            "RedrivePolicy": json.dumps(redrive),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueUrls(url, arn, dlq_url, dlq_arn)


def create_idempotency_table(clients: AwsClients, table: Table = RESOURCES.idempotency) -> None:
    """The one DynamoDB table every flow keeps its records in, as the templates define it."""
    clients.dynamodb.create_table(
        TableName=table.name,
        KeySchema=[{"AttributeName": table.partition_key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": table.partition_key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clients.dynamodb.update_time_to_live(
        TableName=table.name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
    )


def create_resources(clients: AwsClients, resources: Resources, identities: tuple[str, ...]) -> LocalAws:
    relay, notices = resources.relay, resources.notices
    for bucket in (relay.incoming, relay.attachments, notices.inbound_bucket):
        create_bucket(clients, bucket)
    relay_queue = create_queue(clients, relay.queue)
    tracking_queue = create_queue(clients, notices.tracking_queue)
    inbound_failures = create_queue(clients, notices.inbound_failures)

    # The relay's trigger: SES's S3 action writes under incoming/, S3 notifies the queue.
    clients.s3.put_bucket_notification_configuration(
        Bucket=relay.incoming.name,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": relay_queue.arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": relay.incoming_prefix}]}},
                }
            ]
        },
    )
    fallback_topic = clients.sns.create_topic(Name=relay.fallback_topic.name)["TopicArn"]
    tracking_topic = clients.sns.create_topic(Name=notices.tracking_topic.name)["TopicArn"]
    clients.sns.subscribe(TopicArn=tracking_topic, Protocol="sqs", Endpoint=tracking_queue.arn)

    create_idempotency_table(clients, resources.idempotency)
    for name in (relay.configuration_set, notices.configuration_set):
        clients.sesv2.create_configuration_set(ConfigurationSetName=name)
    for identity in identities:
        clients.sesv2.create_email_identity(EmailIdentity=identity)
    return LocalAws(
        relay_queue=relay_queue,
        tracking_queue=tracking_queue,
        inbound_failures=inbound_failures,
        fallback_topic_arn=fallback_topic,
        tracking_topic_arn=tracking_topic,
        event_destinations={notices.configuration_set: tracking_topic},
    )
