"""The queue S3 notifies of each stored mail, with its dead-letter queue."""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from .buckets import RelayBuckets, cfn_bucket
from .description import (
    FUNCTION_TIMEOUT,
    INCOMING_PREFIX,
    MAX_RECEIVE_COUNT,
    QUEUE_RETENTION,
    VISIBILITY_FACTOR,
)


class RelayQueue:
    """`queue` and its `dlq`, both encrypted with the stack's key and TLS only."""

    def __init__(self, stack: Stack, key: kms.IKey) -> None:
        self.dlq = sqs.Queue(
            stack,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            retention_period=QUEUE_RETENTION,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            stack,
            "IncomingQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            retention_period=QUEUE_RETENTION,
            visibility_timeout=Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * VISIBILITY_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVE_COUNT),
            enforce_ssl=True,
        )

    def notified_by(self, buckets: RelayBuckets) -> None:
        """Each object stored under `incoming/` notifies the queue; only that bucket, in this account, may."""
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": buckets.incoming_arn},
                },
            )
        )
        cfn_bucket(
            buckets.incoming
        ).notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                s3.CfnBucket.QueueConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    queue=self.queue.queue_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(
                            rules=[s3.CfnBucket.FilterRuleProperty(name="prefix", value=INCOMING_PREFIX)]
                        )
                    ),
                )
            ]
        )
        # S3 checks that it may write to the queue when the notification is set.
        queue_policy = self.queue.node.try_find_child("Policy")
        assert queue_policy is not None
        buckets.incoming.node.add_dependency(queue_policy)
