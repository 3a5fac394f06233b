"""The relay role's policy, written out statement by statement instead of through CDK's `grant*` helpers,
so no action carries a wildcard and every resource is one of this stack's own ARNs. The only `Resource: "*"`
statements are for actions that have no resource-level permissions in IAM (`RESOURCE_WILDCARD_ACTIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns

from .buckets import RelayBuckets
from .context import RelayContext
from .description import INCOMING_PREFIX, QUARANTINE_PREFIX

#: IAM actions that have no resource-level permissions: AWS only accepts `Resource: "*"` for them.
RESOURCE_WILDCARD_ACTIONS: Final = frozenset(
    {
        "ses:GetAccount",  # SES v2 GetAccount: the account's send quota and rate
        "ses:GetSendQuota",  # SES v1 fallback for the same
        "ses:SetActiveReceiptRuleSet",  # the opt-in activation custom resource
    }
)


@dataclass(frozen=True)
class RoleTargets:
    """The stack's resources the relay's role may use."""

    log_group: logs.ILogGroup
    buckets: RelayBuckets
    fallback: sns.ITopic
    key: kms.IKey
    table: dynamodb.ITable


def grant_relay_role(role: iam.Role, settings: RelayContext, targets: RoleTargets) -> None:
    """Least privilege, one statement per purpose; no wildcard actions."""
    statements = [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[targets.log_group.log_group_arn],
        ),
        *_mail_statements(targets.buckets),
        *_send_statements(Stack.of(role), settings),
        *_record_statements(targets),
        *_secret_statements(settings),
    ]
    for statement in statements:
        role.add_to_policy(statement)


def _mail_statements(buckets: RelayBuckets) -> list[iam.PolicyStatement]:
    incoming, attachments = buckets.incoming, buckets.attachments
    return [
        iam.PolicyStatement(
            sid="ReadAndQuarantineMail",
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            resources=[
                incoming.arn_for_objects(f"{INCOMING_PREFIX}*"),
                incoming.arn_for_objects(f"{QUARANTINE_PREFIX}*"),
            ],
        ),
        iam.PolicyStatement(
            # Without it a missing object answers 403, not 404, and the relay cannot tell "gone" apart.
            sid="TellMissingMail",
            actions=["s3:ListBucket"],
            resources=[incoming.bucket_arn],
        ),
        iam.PolicyStatement(
            sid="StoreAttachments",
            # GetObject: links signed with the function's own credentials must be allowed to read.
            actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
            resources=[attachments.arn_for_objects("*")],
        ),
    ]


def _send_statements(stack: Stack, settings: RelayContext) -> list[iam.PolicyStatement]:
    sender = settings.sender_email
    return [
        iam.PolicyStatement(
            sid="SendAsSender",
            actions=["ses:SendEmail", "ses:SendRawEmail"],  # SES v2 raw content has been checked as either
            resources=[
                stack.format_arn(service="ses", resource="identity", resource_name=sender),
                stack.format_arn(service="ses", resource="identity", resource_name=sender.rpartition("@")[2]),
                stack.format_arn(
                    service="ses", resource="configuration-set", resource_name=settings.configuration_set
                ),
            ],
        ),
        iam.PolicyStatement(
            sid="ReadSendRate",
            actions=sorted({"ses:GetAccount", "ses:GetSendQuota"}),
            resources=["*"],  # no resource-level permissions exist for these two
        ),
    ]


def _record_statements(targets: RoleTargets) -> list[iam.PolicyStatement]:
    """The fallback notice (through the key that encrypts its topic) and the idempotency records."""
    return [
        iam.PolicyStatement(
            sid="PublishFallback", actions=["sns:Publish"], resources=[targets.fallback.topic_arn]
        ),
        iam.PolicyStatement(
            sid="EncryptForTopic",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[targets.key.key_arn],
        ),
        iam.PolicyStatement(
            sid="IdempotencyRecords",
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            resources=[targets.table.table_arn],
        ),
    ]


def _secret_statements(settings: RelayContext) -> list[iam.PolicyStatement]:
    if not settings.presign_credentials_secret_arn:
        return []
    return [
        iam.PolicyStatement(
            sid="ReadSigningKey",
            actions=["secretsmanager:GetSecretValue"],
            resources=[settings.presign_credentials_secret_arn],
        )
    ]
