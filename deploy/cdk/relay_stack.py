"""The relay as a CDK v2 stack: SES receiving -> S3 -> SQS (+DLQ) -> Lambda -> SES sending.

Every variable the function reads is a contract with `sesflow.config` (docs/configuration.md).
IAM is written out statement by statement instead of through CDK's `grant*` helpers, so no action carries a
wildcard and every resource is one of this stack's own ARNs. The only `Resource: "*"` statements are for
actions that have no resource-level permissions in IAM (see `RESOURCE_WILDCARD_ACTIONS`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Aws,
    CfnOutput,
    Duration,
    Environment,
    Fn,
    RemovalPolicy,
    Stack,
    Validations,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct, Node

from sesflow.resources import RESOURCES, Bucket

#: The relay's resources as the local stack also builds them (sesflow.resources): one description, two users.
RELAY: Final = RESOURCES.relay
HANDLER: Final = RELAY.function.handler
#: The alias every trigger invokes: it points at the version published (and snapshotted) by each deploy.
ALIAS: Final = "live"
INCOMING_PREFIX: Final = RELAY.incoming_prefix
QUARANTINE_PREFIX: Final = RELAY.quarantine_prefix
FUNCTION_TIMEOUT: Final = Duration.seconds(RELAY.function.timeout_seconds)
#: AWS asks for a visibility timeout of at least six times the consumer's timeout.
VISIBILITY_FACTOR: Final = RELAY.queue.visibility_factor
MAX_RECEIVE_COUNT: Final = RELAY.queue.max_receive_count
BATCH_SIZE: Final = RELAY.queue.batch_size
QUEUE_RETENTION: Final = Duration.days(RELAY.queue.retention_days)
MAX_PRESIGN_SECONDS: Final = 7 * 24 * 3600
#: IAM actions that have no resource-level permissions: AWS only accepts `Resource: "*"` for them.
RESOURCE_WILDCARD_ACTIONS: Final = frozenset(
    {
        "ses:GetAccount",  # SES v2 GetAccount: the account's send quota and rate
        "ses:GetSendQuota",  # SES v1 fallback for the same
        "ses:SetActiveReceiptRuleSet",  # the opt-in activation custom resource
    }
)

#: cdk-nag (AwsSolutions) findings this stack accepts, and why; `_acknowledge_nag_findings` applies them to
#: the exact resources. Anything else cdk-nag reports fails `cdk synth`.
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

_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_CONFIG_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SECRET_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def expiration_days(bucket: Bucket, prefix: str) -> int:
    """The lifecycle sesflow.resources gives the prefix's objects."""
    (days,) = [rule.expiration_days for rule in bucket.lifecycle if rule.prefix == prefix]
    return days


class ContextError(ValueError):
    """A missing or malformed `--context` value; the message names it and shows how to set it."""


@dataclass(frozen=True)
class RelayContext:
    """What `cdk deploy --context Name=value` sets.

    Required: SenderEmail, RecipientEmail, ConfigurationSetName; everything else has a default.
    """

    sender_email: str
    recipient: str
    configuration_set: str
    allowed_senders: str = ""
    allowed_recipient_domains: str = ""
    presigned_expiration: int = 129_600
    presign_credentials_secret_arn: str | None = None
    activate_rule_set: bool = False
    reserved_concurrency: int | None = None
    dlq_alarm_threshold: int = RELAY.alarms.dlq_messages_threshold
    oldest_message_alarm_seconds: int = RELAY.alarms.oldest_message_seconds
    received_alarm_threshold: int = RELAY.alarms.received_per_period_threshold
    incoming_retention_days: int = expiration_days(RELAY.incoming, INCOMING_PREFIX)
    quarantine_retention_days: int = expiration_days(RELAY.incoming, QUARANTINE_PREFIX)
    fallback_email: str | None = None
    alarm_email: str | None = None

    @property
    def link_days(self) -> int:
        """Days an attachment must outlive its link: the link lifetime rounded up, plus one day of margin."""
        return math.ceil(self.presigned_expiration / 86_400) + 1

    @classmethod
    def from_node(cls, node: Node) -> RelayContext:
        """Read and check the context; one ContextError lists every problem."""
        problems: list[str] = []

        def text(name: str, *, required: bool = False) -> str:
            raw: object = node.try_get_context(name)
            value = "" if raw is None else str(raw).strip()
            if required and not value:
                problems.append(f"{name} is required: cdk deploy --context {name}=...")
            return value

        def number(name: str, default: int, low: int, high: int) -> int:
            raw = text(name)
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name} must be a whole number, got {raw!r}")
                return default
            if not low <= value <= high:
                problems.append(f"{name} must be between {low} and {high}, got {value}")
                return default
            return value

        def boolean(name: str) -> bool:
            raw = text(name).lower()
            if raw in _TRUE:
                return True
            if raw and raw not in _FALSE:
                problems.append(f"{name} must be true or false, got {raw!r}")
            return False

        def email(name: str, *, required: bool = False) -> str | None:
            value = text(name, required=required)
            if value and not _EMAIL.match(value):
                problems.append(f"{name} must be an email address, got {value!r}")
            return value or None

        sender = email("SenderEmail", required=True)
        recipient = text("RecipientEmail", required=True)
        if recipient and not (_EMAIL.match(recipient) or _DOMAIN.match(recipient)):
            problems.append(
                f"RecipientEmail must be an address or a domain SES receives for, got {recipient!r}"
            )
        config_set = text("ConfigurationSetName", required=True)
        if config_set and not _CONFIG_SET.match(config_set):
            problems.append(
                f"ConfigurationSetName must be up to 64 letters, digits, '-' or '_', got {config_set!r}"
            )
        secret_arn = text("PresignCredentialsSecretArn") or None
        if secret_arn and not _SECRET_ARN.match(secret_arn):
            problems.append(
                f"PresignCredentialsSecretArn must be a Secrets Manager secret ARN, got {secret_arn!r}"
            )
        reserved = number("ReservedConcurrency", 0, 0, 1000)
        context = cls(
            sender_email=sender or "",
            recipient=recipient,
            configuration_set=config_set,
            allowed_senders=text("AllowedSenders"),
            allowed_recipient_domains=text("AllowedRecipientDomains"),
            presigned_expiration=number("PresignedExpiration", 129_600, 1, MAX_PRESIGN_SECONDS),
            presign_credentials_secret_arn=secret_arn,
            activate_rule_set=boolean("ActivateRuleSet"),
            reserved_concurrency=reserved or None,
            dlq_alarm_threshold=number("DlqAlarmThreshold", cls.dlq_alarm_threshold, 0, 100_000),
            oldest_message_alarm_seconds=number(
                "OldestMessageAlarmSeconds", cls.oldest_message_alarm_seconds, 60, 14 * 86_400
            ),
            received_alarm_threshold=number(
                "ReceivedAlarmThreshold", cls.received_alarm_threshold, 1, 10_000_000
            ),
            incoming_retention_days=number("IncomingRetentionDays", cls.incoming_retention_days, 1, 3650),
            quarantine_retention_days=number(
                "QuarantineRetentionDays", cls.quarantine_retention_days, 1, 3650
            ),
            fallback_email=email("FallbackEmail"),
            alarm_email=email("AlarmEmail"),
        )
        if problems:
            raise ContextError("the relay stack's context is incomplete:\n  - " + "\n  - ".join(problems))
        return context


def _name_prefix(stack_name: str) -> str:
    """A bucket-safe, stack-unique prefix: lower-case stack name (cut short) plus a short hash of it."""
    safe = re.sub(r"[^a-z0-9-]", "-", stack_name.lower()).strip("-")[:16].strip("-") or "relay"
    return f"{safe}-{hashlib.sha256(stack_name.encode()).hexdigest()[:6]}"


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
        super().__init__(scope, construct_id, env=env, description=description)
        self.settings = settings
        prefix = _name_prefix(self.stack_name)
        rule_set_name = f"{self.stack_name}-rules"
        rule_name = f"{self.stack_name}-relay"

        # --- encryption key for the queues and topics (notices name senders and subjects) -----------------
        self.key = kms.Key(
            self,
            "RelayKey",
            description="sesflow relay: SQS queues and SNS topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        for service in ("s3.amazonaws.com", "cloudwatch.amazonaws.com"):
            # S3 event notifications to the encrypted queue; CloudWatch alarm actions to the encrypted topic.
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=["*"],  # in a key policy "*" means this key
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                )
            )

        # --- buckets -------------------------------------------------------------------------------------
        # The incoming bucket has a name known before it exists, so the queue policy can name it without a
        # cycle (bucket -> notification -> queue policy -> bucket ARN) and with no custom resource.
        incoming_name = Fn.join("-", [f"{prefix}-incoming", Aws.ACCOUNT_ID, Aws.REGION])
        self.incoming = s3.Bucket(
            self,
            "IncomingBucket",
            bucket_name=incoming_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-incoming",
                    prefix=INCOMING_PREFIX,
                    expiration=Duration.days(settings.incoming_retention_days),
                ),
                s3.LifecycleRule(
                    id="expire-quarantine",
                    prefix=QUARANTINE_PREFIX,
                    expiration=Duration.days(settings.quarantine_retention_days),
                ),
                s3.LifecycleRule(
                    id="abort-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
        )
        self.attachments = s3.Bucket(
            self,
            "AttachmentsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # pre-signed GETs need no KMS grant this way
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-after-links",
                    expiration=Duration.days(settings.link_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

        # --- queue, DLQ, S3 -> SQS -----------------------------------------------------------------------
        self.dlq = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            retention_period=QUEUE_RETENTION,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "IncomingQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            retention_period=QUEUE_RETENTION,
            visibility_timeout=Duration.seconds(FUNCTION_TIMEOUT.to_seconds() * VISIBILITY_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVE_COUNT),
            enforce_ssl=True,
        )
        incoming_arn = Fn.join("", [f"arn:{Aws.PARTITION}:s3:::", incoming_name])
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnEquals": {"aws:SourceArn": incoming_arn},
                },
            )
        )
        cfn_incoming = self.incoming.node.default_child
        assert isinstance(cfn_incoming, s3.CfnBucket)
        cfn_incoming.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
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
        self.incoming.node.add_dependency(queue_policy)

        # --- topics, table ------------------------------------------------------------------------------
        self.fallback_topic = sns.Topic(
            self, "FallbackTopic", display_name="sesflow relay: mail not relayed", master_key=self.key
        )
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name="sesflow relay alarms", master_key=self.key
        )
        for topic in (self.fallback_topic, self.alarm_topic):
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
            self.fallback_topic.add_subscription(subscriptions.EmailSubscription(settings.fallback_email))
        if settings.alarm_email:
            self.alarm_topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))

        self.table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.DESTROY,
        )

        # --- the function ------------------------------------------------------------------------------
        self.log_group = logs.LogGroup(
            self, "RelayLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "RelayRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="sesflow relay function: only this stack's resources",
        )
        self.function = lambda_.Function(
            self,
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
            environment=self.function_environment(),
            description="sesflow relay: SES-received mail to its listed recipients",
            # The snapshot of an initialised (and primed: `sesflow.snapstart`) environment is what each new
            # container resumes from; it is taken of a published version, so the queue invokes the alias.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS,
        )
        self.alias = lambda_.Alias(
            self, "RelayAlias", alias_name=ALIAS, version=self.function.current_version
        )
        self.alias.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=BATCH_SIZE,
                max_batching_window=Duration.seconds(5),
                report_batch_item_failures=True,
            )
        )
        self._grant(settings)

        # --- SES receiving -------------------------------------------------------------------------------
        rule_arn = self.format_arn(
            service="ses",
            resource="receipt-rule-set",
            resource_name=f"{rule_set_name}:receipt-rule/{rule_name}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.incoming.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSESPuts",
                principals=[iam.ServicePrincipal("ses.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.incoming.arn_for_objects(f"{INCOMING_PREFIX}*")],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": rule_arn},
                },
            )
        )
        self.rule_set = ses.CfnReceiptRuleSet(self, "RuleSet", rule_set_name=rule_set_name)
        self.rule = ses.CfnReceiptRule(
            self,
            "ReceiptRule",
            rule_set_name=rule_set_name,
            rule=ses.CfnReceiptRule.RuleProperty(
                name=rule_name,
                enabled=True,
                recipients=[settings.recipient],
                scan_enabled=True,
                tls_policy="Require",
                actions=[
                    ses.CfnReceiptRule.ActionProperty(
                        s3_action=ses.CfnReceiptRule.S3ActionProperty(
                            bucket_name=self.incoming.bucket_name, object_key_prefix=INCOMING_PREFIX
                        )
                    )
                ],
            ),
        )
        self.rule.node.add_dependency(self.rule_set)
        bucket_policy = self.incoming.policy
        assert bucket_policy is not None
        self.rule.node.add_dependency(bucket_policy)  # SES test-writes to the bucket when the rule is created
        if settings.activate_rule_set:
            self._activate(rule_set_name)

        self._alarms(settings)
        self._acknowledge_nag_findings()
        CfnOutput(self, "IncomingBucketName", value=self.incoming.bucket_name)
        CfnOutput(self, "AttachmentsBucketName", value=self.attachments.bucket_name)
        CfnOutput(self, "QueueUrl", value=self.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.dlq.queue_url)
        CfnOutput(self, "FallbackTopicArn", value=self.fallback_topic.topic_arn)
        CfnOutput(self, "ReceiptRuleSetName", value=rule_set_name)
        CfnOutput(self, "FunctionName", value=self.function.function_name)

    def function_environment(self) -> dict[str, str]:
        """The function's variables, named exactly as `sesflow.config` reads them."""
        settings = self.settings
        env = {
            "IDEMPOTENCY_TABLE": self.table.table_name,
            "LOG_LEVEL": "INFO",
            "POWERTOOLS_SERVICE_NAME": "sesflow-relay",
            "INCOMING_BUCKET": self.incoming.bucket_name,
            "ATTACHMENTS_BUCKET": self.attachments.bucket_name,
            "SENDER_EMAIL": settings.sender_email,
            "SNS_TOPIC": self.fallback_topic.topic_arn,
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
        env.update({name: value for name, value in optional.items() if value})
        return env

    def _grant(self, settings: RelayContext) -> None:
        """Least privilege, one statement per purpose; no wildcard actions."""
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
            iam.PolicyStatement(
                sid="ReadAndQuarantineMail",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[
                    self.incoming.arn_for_objects(f"{INCOMING_PREFIX}*"),
                    self.incoming.arn_for_objects(f"{QUARANTINE_PREFIX}*"),
                ],
            ),
            iam.PolicyStatement(
                # Without it a missing object answers 403, not 404, and the relay cannot tell "gone" apart.
                sid="TellMissingMail",
                actions=["s3:ListBucket"],
                resources=[self.incoming.bucket_arn],
            ),
            iam.PolicyStatement(
                sid="StoreAttachments",
                # GetObject: links signed with the function's own credentials must be allowed to read.
                actions=["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                resources=[self.attachments.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="SendAsSender",
                actions=[
                    "ses:SendEmail",
                    "ses:SendRawEmail",
                ],  # SES v2 raw content has been checked as either
                resources=[
                    self.format_arn(service="ses", resource="identity", resource_name=settings.sender_email),
                    self.format_arn(
                        service="ses",
                        resource="identity",
                        resource_name=settings.sender_email.rpartition("@")[2],
                    ),
                    self.format_arn(
                        service="ses", resource="configuration-set", resource_name=settings.configuration_set
                    ),
                ],
            ),
            iam.PolicyStatement(
                sid="ReadSendRate",
                actions=sorted({"ses:GetAccount", "ses:GetSendQuota"}),
                resources=["*"],  # no resource-level permissions exist for these two
            ),
            iam.PolicyStatement(
                sid="PublishFallback",
                actions=["sns:Publish"],
                resources=[self.fallback_topic.topic_arn],
            ),
            iam.PolicyStatement(
                sid="EncryptForTopic",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
            ),
            iam.PolicyStatement(
                sid="IdempotencyRecords",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[self.table.table_arn],
            ),
        ]
        if settings.presign_credentials_secret_arn:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadSigningKey",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[settings.presign_credentials_secret_arn],
                )
            )
        for statement in statements:
            self.role.add_to_policy(statement)

    def _activate(self, rule_set_name: str) -> None:
        """Make this rule set the account's active one (only one can be active per region)."""
        call = cr.AwsSdkCall(
            service="SES",
            action="setActiveReceiptRuleSet",
            parameters={"RuleSetName": rule_set_name},
            physical_resource_id=cr.PhysicalResourceId.of(f"active-{rule_set_name}"),
        )
        activation = cr.AwsCustomResource(
            self,
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

    def _acknowledge_nag_findings(self) -> None:
        """Each accepted cdk-nag finding, on the resource it concerns, with its reason (NAG_REASONS)."""

        def accept(construct: IConstruct, rule: str, finding: str = "") -> None:
            Validations.of(construct).acknowledge(
                Acknowledgment(id=f"{rule}{finding}", reason=NAG_REASONS[rule])
            )

        incoming = self.get_logical_id(self._cfn(self.incoming))
        attachments = self.get_logical_id(self._cfn(self.attachments))
        for bucket in (self.incoming, self.attachments):
            accept(bucket, "AwsSolutions-S1")
        for resource in (
            f"<{incoming}.Arn>/{INCOMING_PREFIX}*",
            f"<{incoming}.Arn>/{QUARANTINE_PREFIX}*",
            f"<{attachments}.Arn>/*",
            "*",
        ):
            accept(self.role, "AwsSolutions-IAM5", f"[Resource::{resource}]")
        accept(self.function, "AwsSolutions-L1")
        accept(self.table, "AwsSolutions-DDB3")
        activation = self.node.try_find_child("ActivateRuleSet")
        if activation is not None:
            accept(activation, "AwsSolutions-IAM5", "[Resource::*]")
            # CDK's singleton provider function, named after its fixed UUID.
            provider = self.node.try_find_child(
                "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
            )
            assert provider is not None
            policy = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            accept(provider, "AwsSolutions-IAM4", f"[Policy::{policy}]")

    @staticmethod
    def _cfn(bucket: s3.Bucket) -> s3.CfnBucket:
        resource = bucket.node.default_child
        assert isinstance(resource, s3.CfnBucket)
        return resource

    def _alarms(self, settings: RelayContext) -> None:
        action = cw_actions.SnsAction(self.alarm_topic)
        alarms = [
            cloudwatch.Alarm(
                self,
                "DeadLettersAlarm",
                alarm_description="Relay mail reached the dead-letter queue (sesflow relay dlq redrive)",
                metric=self.dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=settings.dlq_alarm_threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "OldestMessageAlarm",
                alarm_description="Mail waits in the relay queue longer than expected",
                metric=self.queue.metric_approximate_age_of_oldest_message(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                threshold=settings.oldest_message_alarm_seconds,
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "TrafficSpikeAlarm",
                alarm_description="More mail arrived in five minutes than the devices normally send",
                metric=self.queue.metric_number_of_messages_sent(period=Duration.minutes(5), statistic="Sum"),
                threshold=settings.received_alarm_threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "FunctionErrorsAlarm",
                alarm_description="The relay function crashed or timed out",
                metric=self.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        for alarm in alarms:
            alarm.add_alarm_action(action)
