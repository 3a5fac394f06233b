"""The relay as a CDK v2 stack: SES receiving -> S3 -> SQS (+DLQ) -> Lambda -> SES sending.

Every variable the function reads is a contract with `sesflow.config` (docs/configuration.md). Each part
lives in `relay_parts/`; IAM is written out statement by statement (`relay_parts.permissions`) and every
accepted cdk-nag finding carries its reason (`relay_parts.nag`).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from relay_parts.alarms import add_alarms, alarm_rules
from relay_parts.buckets import RelayBuckets
from relay_parts.context import RelayContext
from relay_parts.encryption import relay_key
from relay_parts.function import RelayFunction, relay_environment
from relay_parts.nag import acknowledge_relay_findings
from relay_parts.names import StackNames
from relay_parts.permissions import RoleTargets, grant_relay_role
from relay_parts.queue import RelayQueue
from relay_parts.receiving import RelayReceiving
from relay_parts.table import idempotency_table
from relay_parts.topics import RelayTopics


class RelayStack(Stack):
    """The relay's resources; see deploy/cdk/README.md for the deployment steps."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: RelayContext,
        code: lambda_.Code,
        env: Environment | None = None,
        description: str | None = None,
    ) -> None:
        """Mail's path top to bottom: key, buckets, queue, topics, table, function, receipt rule, alarms.

        Each part adds its resources in this order, which is also their order in the template.
        """
        super().__init__(scope, construct_id, env=env, description=description)
        self.settings = settings
        names = StackNames.of(self)
        self.key = relay_key(self)
        self.buckets = RelayBuckets(self, names.prefix, settings)
        self.queue = RelayQueue(self, self.key)
        self.queue.notified_by(self.buckets)
        self.topics = RelayTopics(self, self.key, settings)
        self.table = idempotency_table(self)
        environment = relay_environment(settings, self.buckets, self.topics.fallback, self.table)
        self.function = RelayFunction(self, code, settings, environment)
        self.function.consume(self.queue.queue)
        targets = RoleTargets(
            log_group=self.function.log_group,
            buckets=self.buckets,
            fallback=self.topics.fallback,
            key=self.key,
            table=self.table,
        )
        grant_relay_role(self.function.role, settings, targets)
        self.receiving = RelayReceiving(self, names, self.buckets.incoming, settings)
        self.alarms = add_alarms(
            self, alarm_rules(settings, self.queue, self.function.function), self.topics.alarms
        )
        acknowledge_relay_findings(self.buckets, self.function, self.table, self.receiving.activation)
        self._outputs(names)

    def _outputs(self, names: StackNames) -> None:
        CfnOutput(self, "IncomingBucketName", value=self.buckets.incoming.bucket_name)
        CfnOutput(self, "AttachmentsBucketName", value=self.buckets.attachments.bucket_name)
        CfnOutput(self, "QueueUrl", value=self.queue.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.queue.dlq.queue_url)
        CfnOutput(self, "FallbackTopicArn", value=self.topics.fallback.topic_arn)
        CfnOutput(self, "ReceiptRuleSetName", value=names.rule_set)
        CfnOutput(self, "FunctionName", value=self.function.function.function_name)
