"""cdk-nag (AwsSolutions) findings the stack accepts, each on the exact resource it concerns and with its
reason. Anything else cdk-nag reports fails `cdk synth`."""

from __future__ import annotations

from typing import Final

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import custom_resources as cr
from constructs import IConstruct

from .buckets import RelayBuckets, cfn_bucket
from .description import INCOMING_PREFIX, QUARANTINE_PREFIX
from .function import RelayFunction

NAG_REASONS: Final = {
    "AwsSolutions-S1": (
        "Mail and attachments live for days and only this stack's function reads them; object access is "
        "audited with CloudTrail data events where needed, not with a third logging bucket."
    ),
    "AwsSolutions-IAM5": (
        "Object keys are SES message ids, unknown in advance: object actions are granted under this stack's "
        "own prefixes (incoming/, quarantine/, the attachments bucket), and Resource * only for actions IAM "
        "grants on * alone (ses:GetAccount, ses:GetSendQuota, ses:SetActiveReceiptRuleSet)."
    ),
    "AwsSolutions-L1": (
        "python3.12 is the runtime sesflow is built and tested for (and NetBox 4.7's Python); moving to a "
        "newer runtime is a deliberate upgrade, not a drift."
    ),
    "AwsSolutions-IAM4": (
        "CDK's AwsCustomResource provider function (opt-in rule-set activation) uses AWS's "
        "AWSLambdaBasicExecutionRole for its own logs; the provider is CDK's code, not this stack's."
    ),
    "AwsSolutions-DDB3": (
        "The table holds idempotency records that expire within days; restoring an earlier point would "
        "resurrect stale claims, so point-in-time recovery buys nothing."
    ),
}


def accept(construct: IConstruct, rule: str, finding: str = "") -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{rule}{finding}", reason=NAG_REASONS[rule]))


def acknowledge_relay_findings(
    buckets: RelayBuckets, function: RelayFunction, table: IConstruct, activation: IConstruct | None
) -> None:
    """Each accepted finding (NAG_REASONS) on the resource it concerns."""
    stack = Stack.of(function.function)
    incoming = stack.get_logical_id(cfn_bucket(buckets.incoming))
    attachments = stack.get_logical_id(cfn_bucket(buckets.attachments))
    for bucket in (buckets.incoming, buckets.attachments):
        accept(bucket, "AwsSolutions-S1")
    for resource in (
        f"<{incoming}.Arn>/{INCOMING_PREFIX}*",
        f"<{incoming}.Arn>/{QUARANTINE_PREFIX}*",
        f"<{attachments}.Arn>/*",
        "*",
    ):
        accept(function.role, "AwsSolutions-IAM5", f"[Resource::{resource}]")
    accept(function.function, "AwsSolutions-L1")
    accept(table, "AwsSolutions-DDB3")
    if activation is not None:
        accept(activation, "AwsSolutions-IAM5", "[Resource::*]")
        # CDK's singleton provider function, named after its fixed UUID.
        provider = stack.node.try_find_child(
            "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
        )
        assert provider is not None
        policy = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        accept(provider, "AwsSolutions-IAM4", f"[Policy::{policy}]")
