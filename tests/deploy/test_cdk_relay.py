"""The relay's CDK stack, synthesized offline and checked with `aws_cdk.assertions`.

Each template is synthesized once per module: CDK runs on node through jsii, a few seconds a stack.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk")
if shutil.which("node") is None:
    pytest.skip("aws-cdk-lib needs node on PATH", allow_module_level=True)

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from sesflow.config import COMMON_VARIABLES, VARIABLES, Flow, load_settings

from .cdk_support import REPO, REQUIRED, cdk_app_module, relay_stack_module

relay_stack = relay_stack_module()
cdk_app = cdk_app_module()
from relay_parts import description, permissions  # noqa: E402
from relay_parts.context import ContextError, RelayContext  # noqa: E402

pytestmark = pytest.mark.unit

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:relay-signing-AbCdEf"
FULL = {
    **REQUIRED,
    "AllowedSenders": "@devices.example.com",
    "AllowedRecipientDomains": "example.com example.org",
    "PresignedExpiration": "259200",
    "PresignCredentialsSecretArn": SECRET_ARN,
    "ActivateRuleSet": "true",
    "ReservedConcurrency": "5",
    "OldestMessageAlarmSeconds": "300",
    "ReceivedAlarmThreshold": "500",
    "FallbackEmail": "ops@example.com",
    "AlarmEmail": "alarms@example.com",
}
#: What a deployed stack resolves the template's references to, to run the real settings loader on them.
RESOLVED = {
    "INCOMING_BUCKET": "sesflowrelay-abc123-incoming-123456789012-eu-west-1",
    "ATTACHMENTS_BUCKET": "sesflowrelay-attachmentsbucket-1a2b3c",
    "SNS_TOPIC": "arn:aws:sns:eu-west-1:123456789012:SesflowRelay-FallbackTopic",
    "IDEMPOTENCY_TABLE": "SesflowRelay-IdempotencyTable-1A2B3C",
}


def synth(context: dict[str, str]) -> Template:
    app = cdk.App(context=context)
    stack = relay_stack.RelayStack(
        app,
        "SesflowRelay",
        settings=RelayContext.from_node(app.node),
        code=lambda_.Code.from_asset(str(REPO / "src")),
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def full() -> Iterator[Template]:
    yield synth(FULL)


@pytest.fixture(scope="module")
def minimal() -> Iterator[Template]:
    yield synth(REQUIRED)


def only(template: Template, kind: str) -> dict[str, Any]:
    found = template.find_resources(kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return dict(next(iter(found.values())))


def relay_function(template: Template) -> dict[str, Any]:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "sesflow.relay.distribute.handler"}}
    )
    assert len(functions) == 1
    return dict(next(iter(functions.values())))


def logical_id(template: Template, kind: str, properties: dict[str, Any] | None = None) -> str:
    found = template.find_resources(kind, {"Properties": properties} if properties else None)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found))


# --- resources ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "count"),
    [
        ("AWS::S3::Bucket", 2),
        ("AWS::SQS::Queue", 2),
        ("AWS::SNS::Topic", 2),
        ("AWS::KMS::Key", 1),
        ("AWS::DynamoDB::Table", 1),
        ("AWS::Lambda::EventSourceMapping", 1),
        ("AWS::SES::ReceiptRuleSet", 1),
        ("AWS::SES::ReceiptRule", 1),
        ("AWS::CloudWatch::Alarm", 4),
        ("AWS::Logs::LogGroup", 1),
    ],
)
def test_resource_counts(minimal: Template, kind: str, count: int) -> None:
    minimal.resource_count_is(kind, count)


#: A deployed stack's logical IDs: CloudFormation replaces a resource whose ID changes (and the retained
#: buckets' fixed names would then collide), so how deploy/cdk divides its code must leave them alone.
LOGICAL_IDS = {
    "AWS679f53fac002430cb0da5b7982bd22872D164C4C",
    "AWS679f53fac002430cb0da5b7982bd2287ServiceRoleC1EA0FF2",
    "ActivateRuleSet3E62562C",
    "ActivateRuleSetCustomResourcePolicyA902BA36",
    "AlarmTopicD01E77F9",
    "AlarmTopicPolicy309DB5F8",
    "AlarmTopicalarmsexamplecomF366C947",
    "AttachmentsBucket8E14A36F",
    "AttachmentsBucketPolicy66DD7E0A",
    "DeadLetterQueue9F481546",
    "DeadLetterQueuePolicyB1FB890C",
    "DeadLettersAlarm3F8DE0AC",
    "FallbackTopic812624C5",
    "FallbackTopicPolicy52B56FD2",
    "FallbackTopicopsexamplecom7DCD1430",
    "FunctionErrorsAlarm60070EC7",
    "IdempotencyTable22A5A209",
    "IncomingBucket8258DE13",
    "IncomingBucketPolicyD1ACB2A5",
    "IncomingQueue2DEF62EA",
    "IncomingQueuePolicyD07B62B6",
    "OldestMessageAlarm96719BF1",
    "ReceiptRule",
    "RelayAliasC63C5FF2",
    "RelayAliasSqsEventSourceSesflowRelayIncomingQueue414CFE39D396F94B",
    "RelayFunctionCurrentVersion1E3FB4ED",  # + a hash of the function's code and settings: new each deploy
    "RelayFunctionD137DF95",
    "RelayKey735F9B76",
    "RelayLogs019433A2",
    "RelayRoleDefaultPolicyF6F9CA99",
    "RelayRoleF85CA969",
    "RuleSet",
    "TrafficSpikeAlarm3A41C650",
}


def test_logical_ids_and_outputs_stay_those_of_a_deployed_stack(full: Template) -> None:
    template = full.to_json()
    assert {re.sub(r"[0-9a-f]{32}$", "", logical) for logical in template["Resources"]} == LOGICAL_IDS
    assert set(template["Outputs"]) == {
        "IncomingBucketName",
        "AttachmentsBucketName",
        "QueueUrl",
        "DeadLetterQueueUrl",
        "FallbackTopicArn",
        "ReceiptRuleSetName",
        "FunctionName",
    }


def test_function_runtime_memory_and_code(full: Template) -> None:
    props = relay_function(full)["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["MemorySize"] >= 256
    assert props["Timeout"] == description.FUNCTION_TIMEOUT.to_seconds()
    assert props["ReservedConcurrentExecutions"] == 5
    assert "S3Key" in props["Code"]  # an asset, not inline code


def test_reserved_concurrency_is_optional(minimal: Template) -> None:
    assert "ReservedConcurrentExecutions" not in relay_function(minimal)["Properties"]


def test_queue_visibility_is_six_times_the_timeout_with_a_dlq(full: Template) -> None:
    timeout = relay_function(full)["Properties"]["Timeout"]
    dlq_id = logical_id(full, "AWS::SQS::Queue", {"RedrivePolicy": Match.absent()})
    queue = full.find_resources("AWS::SQS::Queue", {"Properties": {"RedrivePolicy": Match.any_value()}})
    (props,) = (resource["Properties"] for resource in queue.values())
    assert props["VisibilityTimeout"] >= 6 * timeout
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": description.MAX_RECEIVE_COUNT,
    }
    for resource in full.find_resources("AWS::SQS::Queue").values():
        assert resource["Properties"]["MessageRetentionPeriod"] == 14 * 86_400
        assert resource["Properties"]["KmsMasterKeyId"] == {
            "Fn::GetAtt": [logical_id(full, "AWS::KMS::Key"), "Arn"]
        }


def test_event_source_reports_partial_batch_failures(full: Template) -> None:
    props = only(full, "AWS::Lambda::EventSourceMapping")["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= props["BatchSize"] <= 10
    queue_id = logical_id(full, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})
    assert props["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_snapstart_runs_the_published_version_the_queue_invokes(full: Template, minimal: Template) -> None:
    """SnapStart snapshots published versions only: the queue's mapping names the alias of the version this
    deploy published, never the bare function (which would run `$LATEST`, cold and unprimed)."""
    for template in (full, minimal):
        function_id = logical_id(template, "AWS::Lambda::Function", {"Handler": description.HANDLER})
        assert relay_function(template)["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        version_id = logical_id(template, "AWS::Lambda::Version")
        assert only(template, "AWS::Lambda::Version")["Properties"]["FunctionName"] == {"Ref": function_id}
        alias = only(template, "AWS::Lambda::Alias")["Properties"]
        assert alias["Name"] == description.ALIAS
        assert alias["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
        alias_id = logical_id(template, "AWS::Lambda::Alias")
        # CDK names the alias as `<function name>:<alias>`, the function's name taken from the alias's ARN.
        target = only(template, "AWS::Lambda::EventSourceMapping")["Properties"]["FunctionName"]
        assert target["Fn::Join"][1][1] == f":{description.ALIAS}"
        assert {"Ref": alias_id} in target["Fn::Join"][1][0]["Fn::Select"][1]["Fn::Split"]


def test_incoming_objects_notify_the_queue(full: Template) -> None:
    queue_id = logical_id(full, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})
    full.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "NotificationConfiguration": {
                "QueueConfigurations": [
                    {
                        "Event": "s3:ObjectCreated:*",
                        "Queue": {"Fn::GetAtt": [queue_id, "Arn"]},
                        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "incoming/"}]}},
                    }
                ]
            }
        },
    )
    # S3 may send only from this bucket, in this account; and only once that policy exists.
    full.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sqs:SendMessage",
                                "Principal": {"Service": "s3.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                    "ArnEquals": {"aws:SourceArn": Match.any_value()},
                                },
                            }
                        )
                    ]
                )
            }
        },
    )
    incoming = full.find_resources(
        "AWS::S3::Bucket", {"Properties": {"NotificationConfiguration": Match.any_value()}}
    )
    (bucket,) = incoming.values()
    assert any("QueuePolicy" in dependency for dependency in bucket["DependsOn"])


def test_buckets_are_private_encrypted_and_tls_only(full: Template) -> None:
    for bucket_id, bucket in full.find_resources("AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        full.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                            )
                        ]
                    )
                },
            },
        )


def test_incoming_lifecycle_covers_incoming_and_quarantine(minimal: Template) -> None:
    incoming = minimal.find_resources(
        "AWS::S3::Bucket", {"Properties": {"NotificationConfiguration": Match.any_value()}}
    )
    (bucket,) = incoming.values()
    rules = {rule.get("Prefix"): rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["incoming/"]["ExpirationInDays"] == 30
    assert rules["quarantine/"]["ExpirationInDays"] == 90
    assert rules[None]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


@pytest.mark.parametrize(("template_name", "link_seconds"), [("minimal", 129_600), ("full", 259_200)])
def test_attachments_outlive_their_links(
    request: pytest.FixtureRequest, template_name: str, link_seconds: int
) -> None:
    template: Template = request.getfixturevalue(template_name)
    buckets = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"NotificationConfiguration": Match.absent()}}
    )
    (bucket,) = buckets.values()
    (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] * 86_400 >= link_seconds + 86_400  # a day of margin
    assert relay_function(template)["Properties"]["Environment"]["Variables"]["PRESIGNED_EXPIRATION"] == str(
        link_seconds
    )


def test_ses_may_write_only_incoming_from_this_rule(full: Template) -> None:
    full.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "s3:PutObject",
                                "Principal": {"Service": "ses.amazonaws.com"},
                                "Condition": {
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                                    "ArnLike": {"aws:SourceArn": Match.any_value()},
                                },
                            }
                        )
                    ]
                )
            }
        },
    )
    policy = full.find_resources("AWS::S3::BucketPolicy")
    text = str(policy)
    assert "receipt-rule-set/SesflowRelay-rules:receipt-rule/SesflowRelay-relay" in text


def test_receipt_rule_scans_requires_tls_and_stores_under_incoming(full: Template) -> None:
    bucket_id = logical_id(full, "AWS::S3::Bucket", {"NotificationConfiguration": Match.any_value()})
    rule = only(full, "AWS::SES::ReceiptRule")
    assert rule["Properties"]["Rule"] == {
        "Name": "SesflowRelay-relay",
        "Enabled": True,
        "Recipients": [REQUIRED["RecipientEmail"]],
        "ScanEnabled": True,
        "TlsPolicy": "Require",
        "Actions": [{"S3Action": {"BucketName": {"Ref": bucket_id}, "ObjectKeyPrefix": "incoming/"}}],
    }
    assert rule["Properties"]["RuleSetName"] == "SesflowRelay-rules"
    assert any("BucketPolicy" in dependency for dependency in rule["DependsOn"])
    full.has_resource_properties("AWS::SES::ReceiptRuleSet", {"RuleSetName": "SesflowRelay-rules"})


def test_rule_set_is_activated_only_when_asked(full: Template, minimal: Template) -> None:
    minimal.resource_count_is("Custom::AWS", 0)
    activation = only(full, "Custom::AWS")["Properties"]
    assert '"action":"setActiveReceiptRuleSet"' in activation["Create"]
    assert '"RuleSetName":"SesflowRelay-rules"' in activation["Create"]
    assert "setActiveReceiptRuleSet" in activation["Delete"]


def test_idempotency_table_matches_powertools_defaults(full: Template) -> None:
    props = only(full, "AWS::DynamoDB::Table")["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_optional_email_subscriptions(full: Template, minimal: Template) -> None:
    minimal.resource_count_is("AWS::SNS::Subscription", 0)
    full.resource_count_is("AWS::SNS::Subscription", 2)
    full.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


# --- alarms ----------------------------------------------------------------------------------------------


def alarm(template: Template, metric: str) -> dict[str, Any]:
    found = template.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"MetricName": metric}})
    assert len(found) == 1, f"expected one alarm on {metric}"
    return dict(next(iter(found.values()))["Properties"])


@pytest.mark.parametrize(("template_name", "age", "received"), [("minimal", 180, 180), ("full", 300, 500)])
def test_the_three_queue_alarms(
    request: pytest.FixtureRequest, template_name: str, age: int, received: int
) -> None:
    template: Template = request.getfixturevalue(template_name)
    alarm_topic = logical_id(template, "AWS::SNS::Topic", {"DisplayName": "sesflow relay alarms"})
    dlq_id = logical_id(template, "AWS::SQS::Queue", {"RedrivePolicy": Match.absent()})
    queue_id = logical_id(template, "AWS::SQS::Queue", {"RedrivePolicy": Match.any_value()})

    dead = alarm(template, "ApproximateNumberOfMessagesVisible")
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    assert (dead["Threshold"], dead["ComparisonOperator"]) == (0, "GreaterThanThreshold")

    oldest = alarm(template, "ApproximateAgeOfOldestMessage")
    assert oldest["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert (oldest["Threshold"], oldest["ComparisonOperator"]) == (age, "GreaterThanThreshold")

    spike = alarm(template, "NumberOfMessagesSent")
    assert (spike["Threshold"], spike["Period"], spike["Statistic"]) == (received, 300, "Sum")

    errors = alarm(template, "Errors")
    assert errors["Namespace"] == "AWS/Lambda"
    for props in (dead, oldest, spike, errors):
        assert props["AlarmActions"] == [{"Ref": alarm_topic}]
        assert props["TreatMissingData"] == "notBreaching"


# --- environment contract ----------------------------------------------------------------------------------


def test_every_variable_is_one_the_relay_reads(full: Template) -> None:
    variables = relay_function(full)["Properties"]["Environment"]["Variables"]
    known = set(VARIABLES[Flow.RELAY]) | set(COMMON_VARIABLES)
    assert set(variables) <= known, f"not in sesflow.config: {set(variables) - known}"
    assert set(VARIABLES[Flow.RELAY]) <= set(variables), "the full context sets every relay variable"


@pytest.mark.parametrize("template_name", ["minimal", "full"])
def test_the_settings_loader_accepts_the_environment(
    request: pytest.FixtureRequest, template_name: str
) -> None:
    template: Template = request.getfixturevalue(template_name)
    variables = relay_function(template)["Properties"]["Environment"]["Variables"]
    environ = {name: value if isinstance(value, str) else RESOLVED[name] for name, value in variables.items()}
    settings = load_settings(Flow.RELAY, environ)  # raises ConfigError listing anything missing or malformed
    assert settings.sender_email == REQUIRED["SenderEmail"]
    assert settings.configuration_set == REQUIRED["ConfigurationSetName"]


def test_references_point_at_the_stacks_own_resources(full: Template) -> None:
    variables = relay_function(full)["Properties"]["Environment"]["Variables"]
    assert variables["INCOMING_BUCKET"] == {
        "Ref": logical_id(full, "AWS::S3::Bucket", {"NotificationConfiguration": Match.any_value()})
    }
    assert variables["ATTACHMENTS_BUCKET"] == {
        "Ref": logical_id(full, "AWS::S3::Bucket", {"NotificationConfiguration": Match.absent()})
    }
    assert variables["SNS_TOPIC"] == {
        "Ref": logical_id(full, "AWS::SNS::Topic", {"DisplayName": "sesflow relay: mail not relayed"})
    }
    assert variables["IDEMPOTENCY_TABLE"] == {"Ref": logical_id(full, "AWS::DynamoDB::Table")}
    assert variables["PRESIGN_CREDENTIALS_SECRET_ARN"] == SECRET_ARN
    assert variables["ALLOWED_SENDERS"] == "@devices.example.com"


# --- IAM ---------------------------------------------------------------------------------------------------


def allow_statements(template: Template) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    for policy in template.find_resources("AWS::IAM::ManagedPolicy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    for role in template.find_resources("AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            statements += inline["PolicyDocument"]["Statement"]
    return [statement for statement in statements if statement["Effect"] == "Allow"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("template_name", ["minimal", "full"])
def test_no_wildcard_actions(request: pytest.FixtureRequest, template_name: str) -> None:
    statements = allow_statements(request.getfixturevalue(template_name))
    assert statements
    for statement in statements:
        assert "NotAction" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"wildcard action {action!r} in {statement}"


@pytest.mark.parametrize("template_name", ["minimal", "full"])
def test_resource_star_only_where_iam_has_no_resource_level_permission(
    request: pytest.FixtureRequest, template_name: str
) -> None:
    for statement in allow_statements(request.getfixturevalue(template_name)):
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= permissions.RESOURCE_WILDCARD_ACTIONS, statement


def test_ses_send_is_scoped_to_the_identity_and_configuration_set(full: Template) -> None:
    (send,) = [s for s in allow_statements(full) if "ses:SendEmail" in as_list(s["Action"])]
    resources = str(send["Resource"])
    assert ":identity/relay@ingest.example.com" in resources
    assert ":identity/ingest.example.com" in resources
    assert ":configuration-set/relay-tracking" in resources


def test_signing_secret_is_readable_only_when_configured(full: Template, minimal: Template) -> None:
    def secret_reads(template: Template) -> list[dict[str, Any]]:
        return [
            s for s in allow_statements(template) if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        ]

    assert secret_reads(minimal) == []
    (read,) = secret_reads(full)
    assert read["Resource"] == SECRET_ARN


def test_relay_role_has_no_managed_policies(full: Template) -> None:
    roles = full.find_resources(
        "AWS::IAM::Role", {"Properties": {"Description": Match.string_like_regexp("sesflow relay")}}
    )
    (role,) = roles.values()
    assert "ManagedPolicyArns" not in role["Properties"]


# --- context -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_missing_context_names_the_value(missing: str) -> None:
    context = {name: value for name, value in REQUIRED.items() if name != missing}
    app = cdk.App(context=context)
    with pytest.raises(ContextError, match=rf"{missing} is required: cdk deploy --context {missing}="):
        RelayContext.from_node(app.node)


def test_every_context_problem_is_reported_at_once() -> None:
    app = cdk.App(
        context={
            "SenderEmail": "not-an-address",
            "RecipientEmail": "devices@ingest.example.com",
            "PresignedExpiration": "999999",
            "ActivateRuleSet": "maybe",
        }
    )
    with pytest.raises(ContextError) as caught:
        RelayContext.from_node(app.node)
    message = str(caught.value)
    for name in ("SenderEmail", "ConfigurationSetName", "PresignedExpiration", "ActivateRuleSet"):
        assert name in message


def test_app_requires_the_built_bundle(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match=r"bundle\.py"):
        cdk_app.build_app(cdk.App(context=REQUIRED), bundle=tmp_path)


def test_app_builds_the_stack_from_a_bundle() -> None:
    app = cdk_app.build_app(cdk.App(context=REQUIRED), bundle=REPO / "src")
    assert [child.node.id for child in app.node.children] == ["SesflowRelay"]


def test_cfn_lint_finds_nothing(full: Template) -> None:
    """cfn-lint on the template; W3005 (a DependsOn a GetAtt already implies) is CDK's own habit."""
    api = pytest.importorskip("cfnlint.api")
    matches = api.lint(
        json.dumps(full.to_json()),
        config=api.ManualArgs(ignore_checks=["W3005"], regions=["us-east-1", "eu-west-1"]),
    )
    assert [str(match) for match in matches] == []
