"""The fallback topic (mail the relay could not deliver) and the alarm topic, with optional email
subscriptions."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from .context import RelayContext


class RelayTopics:
    """`fallback` and `alarms`, both encrypted with the stack's key and TLS only."""

    def __init__(self, stack: Stack, key: kms.IKey, settings: RelayContext) -> None:
        self.fallback = sns.Topic(
            stack, "FallbackTopic", display_name="sesflow relay: mail not relayed", master_key=key
        )
        self.alarms = sns.Topic(stack, "AlarmTopic", display_name="sesflow relay alarms", master_key=key)
        for topic in (self.fallback, self.alarms):
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={"Bool": {"aws:SecureTransport": "false"}},
                )
            )
        if settings.fallback_email:
            self.fallback.add_subscription(subscriptions.EmailSubscription(settings.fallback_email))
        if settings.alarm_email:
            self.alarms.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
