"""The stack's KMS key: it encrypts the queues and the topics (notices name senders and subjects)."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms


def relay_key(stack: Stack) -> kms.Key:
    key = kms.Key(
        stack,
        "RelayKey",
        description="sesflow relay: SQS queues and SNS topics",
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    for service in ("s3.amazonaws.com", "cloudwatch.amazonaws.com"):
        # S3 event notifications to the encrypted queue; CloudWatch alarm actions to the encrypted topic.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
    return key
