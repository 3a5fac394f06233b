"""SES receiving: the receipt rule set, its rule storing mail under `incoming/`, the bucket policy that lets
SES write there, and (opt-in) the custom resource that makes the rule set the active one."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import custom_resources as cr

from .context import RelayContext
from .description import INCOMING_PREFIX
from .names import StackNames


class RelayReceiving:
    """`rule_set`, its `rule`, and `activation` when the context asks for it (else None)."""

    def __init__(self, stack: Stack, names: StackNames, incoming: s3.Bucket, settings: RelayContext) -> None:
        self._allow_ses_puts(stack, names, incoming)
        self.rule_set = ses.CfnReceiptRuleSet(stack, "RuleSet", rule_set_name=names.rule_set)
        self.rule = ses.CfnReceiptRule(
            stack,
            "ReceiptRule",
            rule_set_name=names.rule_set,
            rule=ses.CfnReceiptRule.RuleProperty(
                name=names.rule,
                enabled=True,
                recipients=[settings.recipient],
                scan_enabled=True,
                tls_policy="Require",
                actions=[
                    ses.CfnReceiptRule.ActionProperty(
                        s3_action=ses.CfnReceiptRule.S3ActionProperty(
                            bucket_name=incoming.bucket_name, object_key_prefix=INCOMING_PREFIX
                        )
                    )
                ],
            ),
        )
        self.rule.node.add_dependency(self.rule_set)
        bucket_policy = incoming.policy
        assert bucket_policy is not None
        self.rule.node.add_dependency(bucket_policy)  # SES test-writes to the bucket when the rule is created
        self.activation = self._activate(stack, names.rule_set) if settings.activate_rule_set else None

    @staticmethod
    def _allow_ses_puts(stack: Stack, names: StackNames, incoming: s3.Bucket) -> None:
        """SES may put objects under `incoming/` only, from this stack's rule, in this account."""
        rule_arn = stack.format_arn(
            service="ses",
            resource="receipt-rule-set",
            resource_name=f"{names.rule_set}:receipt-rule/{names.rule}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        incoming.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSESPuts",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[incoming.arn_for_objects(f"{INCOMING_PREFIX}*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": rule_arn},
                },
            )
        )

    def _activate(self, stack: Stack, rule_set_name: str) -> cr.AwsCustomResource:
        """Make this rule set the account's active one (only one can be active per region)."""
        call = cr.AwsSdkCall(
            service="SES",
            action="setActiveReceiptRuleSet",
            parameters={"RuleSetName": rule_set_name},
            physical_resource_id=cr.PhysicalResourceId.of(f"active-{rule_set_name}"),
        )
        activation = cr.AwsCustomResource(
            stack,
            "ActivateRuleSet",
            on_create=call,
            on_update=call,
            # Deleting the stack leaves no rule set active, rather than one pointing at deleted resources.
            on_delete=cr.AwsSdkCall(service="SES", action="setActiveReceiptRuleSet", parameters={}),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ses:SetActiveReceiptRuleSet"], resources=["*"])]
            ),
            install_latest_aws_sdk=False,
        )
        activation.node.add_dependency(self.rule)
        return activation
