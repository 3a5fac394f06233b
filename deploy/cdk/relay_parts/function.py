"""The relay function with its log group and role, the alias the queue invokes, and its variables."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from .buckets import RelayBuckets
from .context import RelayContext
from .description import ALIAS, BATCH_SIZE, FUNCTION_TIMEOUT, HANDLER, RELAY


class RelayFunction:
    """`function` (python3.12, arm64, SnapStart), its `log_group` and `role`; triggers invoke `alias`."""

    def __init__(
        self, stack: Stack, code: lambda_.Code, settings: RelayContext, environment: Mapping[str, str]
    ) -> None:
        self.log_group = logs.LogGroup(
            stack, "RelayLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            stack,
            "RelayRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="sesflow relay function: only this stack's resources",
        )
        self.function = lambda_.Function(
            stack,
            "RelayFunction",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=code,
            memory_size=RELAY.function.memory_mb,
            timeout=FUNCTION_TIMEOUT,
            role=self.role,
            log_group=self.log_group,
            reserved_concurrent_executions=settings.reserved_concurrency,
            environment=dict(environment),
            description="sesflow relay: SES-received mail to its listed recipients",
            # The snapshot of an initialised (and primed: `sesflow.snapstart`) environment is what each new
            # container resumes from; it is taken of a published version, so the queue invokes the alias.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
        )
        self.alias = lambda_.Alias(
            stack, "RelayAlias", alias_name=ALIAS, version=self.function.current_version
        )

    def consume(self, queue: sqs.IQueue) -> None:
        """The alias takes the queue's messages in batches and reports the mails that failed, one by one."""
        self.alias.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=BATCH_SIZE,
                max_batching_window=Duration.seconds(5),
                report_batch_item_failures=True,
            )
        )


def relay_environment(
    settings: RelayContext, buckets: RelayBuckets, fallback: sns.ITopic, table: dynamodb.ITable
) -> dict[str, str]:
    """The function's variables, named exactly as `sesflow.config` reads them."""
    environment = {
        "IDEMPOTENCY_TABLE": table.table_name,
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "sesflow-relay",
        "INCOMING_BUCKET": buckets.incoming.bucket_name,
        "ATTACHMENTS_BUCKET": buckets.attachments.bucket_name,
        "SENDER_EMAIL": settings.sender_email,
        "SNS_TOPIC": fallback.topic_arn,
        "CONFIGURATION_SET": settings.configuration_set,
        "MAX_RECIPIENTS": "500",
        "PRESIGNED_EXPIRATION": str(settings.presigned_expiration),
        "EMAIL_REGEX_CODE": "Email_Rxers_Code",
        "RELAY_SPAM": "false",
        "INLINE_IMAGE_MAX_BYTES": str(100 * 1024),
    }
    optional: Mapping[str, str | None] = {
        "ALLOWED_SENDERS": settings.allowed_senders,
        "ALLOWED_RECIPIENT_DOMAINS": settings.allowed_recipient_domains,
        "PRESIGN_CREDENTIALS_SECRET_ARN": settings.presign_credentials_secret_arn,
    }
    environment.update({name: value for name, value in optional.items() if value})
    return environment
