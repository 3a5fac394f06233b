"""The notices SAM template (deploy/sam/template.yaml): cfn-lint and `sam validate --lint`, the resources each
of the sixteen switch combinations creates (inbound, polling, webhook, VPC), the functions' environment
against `sesflow.config`, least-privilege IAM, and the values shared with `sesflow.resources`.

The template is transformed by the SAM CLI's own translator (in its tool environment) and its conditions
are evaluated here, so each combination is checked as CloudFormation would create it."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import tomllib
from typing import Any

import pytest

from sesflow.config import COMMON_VARIABLES, VARIABLES, Flow, load_settings
from sesflow.netbox.event_rules import READY_CHANGE, READY_STATE
from sesflow.notices.claims import EVIDENCE_WAIT_SECONDS
from sesflow.resources import RESOURCES

from ..harness.tools import tool_path
from .sam_support import (
    REPO,
    SAM_DIR,
    TEMPLATE,
    Evaluator,
    load_template,
    parameters_for,
    require_sam,
    tool_environment,
    transform,
)

pytestmark = pytest.mark.unit

SWITCH_NAMES = ("inbound", "polling", "webhook", "vpc")
COMBINATIONS = [
    dict(zip(SWITCH_NAMES, values, strict=True)) for values in itertools.product((False, True), repeat=4)
]
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:netbox-token-AbCdEf"
WITH_SECRET = {**parameters_for(inbound=True), "NetBoxApiToken": "", "NetBoxApiTokenSecretArn": SECRET_ARN}

ALWAYS = {
    "IdempotencyTable": "AWS::DynamoDB::Table",
    "AlarmTopic": "AWS::SNS::Topic",
    "OutboundFunction": "AWS::Lambda::Function",
    "OutboundFunctionVersion": "AWS::Lambda::Version",
    "OutboundFunctionAliaslive": "AWS::Lambda::Alias",
    "OutboundRole": "AWS::IAM::Role",
    "OutboundLogGroup": "AWS::Logs::LogGroup",
    "OutboundInvokeConfig": "AWS::Lambda::EventInvokeConfig",
    "OutboundErrorsAlarm": "AWS::CloudWatch::Alarm",
    "ConfigurationSet": "AWS::SES::ConfigurationSet",
    "TrackingEventDestination": "AWS::SES::ConfigurationSetEventDestination",
    "TrackingTopic": "AWS::SNS::Topic",
    "TrackingTopicPolicy": "AWS::SNS::TopicPolicy",
    "TrackingQueue": "AWS::SQS::Queue",
    "TrackingDeadLetterQueue": "AWS::SQS::Queue",
    "TrackingQueuePolicy": "AWS::SQS::QueuePolicy",
    "TrackingSubscription": "AWS::SNS::Subscription",
    "TrackingFunction": "AWS::Lambda::Function",
    "TrackingFunctionVersion": "AWS::Lambda::Version",
    "TrackingFunctionAliaslive": "AWS::Lambda::Alias",
    "TrackingFunctionQueue": "AWS::Lambda::EventSourceMapping",
    "TrackingRole": "AWS::IAM::Role",
    "TrackingLogGroup": "AWS::Logs::LogGroup",
    "TrackingDeadLettersAlarm": "AWS::CloudWatch::Alarm",
    "TrackingBacklogAlarm": "AWS::CloudWatch::Alarm",
    "TrackingErrorsAlarm": "AWS::CloudWatch::Alarm",
}
WHEN = {
    "inbound": {
        "InboundBucket": "AWS::S3::Bucket",
        "InboundBucketPolicy": "AWS::S3::BucketPolicy",
        "InboundFunction": "AWS::Lambda::Function",
        "InboundFunctionVersion": "AWS::Lambda::Version",
        "InboundFunctionAliaslive": "AWS::Lambda::Alias",
        "InboundRole": "AWS::IAM::Role",
        "InboundLogGroup": "AWS::Logs::LogGroup",
        "InboundFailureQueue": "AWS::SQS::Queue",
        "InboundInvokeConfig": "AWS::Lambda::EventInvokeConfig",
        "InboundSesPermission": "AWS::Lambda::Permission",
        "ReceiptRuleSet": "AWS::SES::ReceiptRuleSet",
        "ReceiptRule": "AWS::SES::ReceiptRule",
        "InboundFailuresAlarm": "AWS::CloudWatch::Alarm",
        "InboundErrorsAlarm": "AWS::CloudWatch::Alarm",
    },
    "polling": {
        "OutboundSchedule": "AWS::Events::Rule",
        "OutboundSchedulePermission": "AWS::Lambda::Permission",
    },
    "webhook": {
        "WebhookApi": "AWS::ApiGatewayV2::Api",
        "WebhookIntegration": "AWS::ApiGatewayV2::Integration",
        "WebhookRoute": "AWS::ApiGatewayV2::Route",
        "WebhookStage": "AWS::ApiGatewayV2::Stage",
        "WebhookPermission": "AWS::Lambda::Permission",
    },
    "vpc": {},  # no resources of its own: the functions' VpcConfig and the roles' ENI statements
}
FUNCTIONS = {
    "InboundFunction": Flow.INBOUND,
    "OutboundFunction": Flow.OUTBOUND,
    "TrackingFunction": Flow.TRACKING,
}
#: SES event publishing's event types, as the configuration set's destination names them.
SES_EVENT_TYPES = {
    "send",
    "reject",
    "bounce",
    "complaint",
    "delivery",
    "open",
    "click",
    "renderingFailure",
    "deliveryDelay",
}
#: Actions IAM grants on "*" only.
RESOURCE_WILDCARD_ACTIONS = {
    "ses:GetAccount",
    "ses:GetSendQuota",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
}


#: The alias every trigger invokes (AutoPublishAlias), and how SAM names the resources it makes for it.
ALIAS = "live"


def alias_of(function: str) -> dict[str, str]:
    """How a template refers to the function's alias (`!Ref <function>.Alias`, once transformed)."""
    return {"Ref": f"{function}Alias{ALIAS}"}


def without_version_hash(logical_id: str) -> str:
    """SAM names each published version `<function>Version<hash of the code>`: the hash is left out."""
    return re.sub(r"(Function)Version[0-9a-f]{10}$", r"\1Version", logical_id)


def combo_id(combo: dict[str, bool]) -> str:
    return "-".join(f"{name}={'on' if on else 'off'}" for name, on in combo.items())


@pytest.fixture(scope="module")
def transformed() -> dict[str, tuple[dict[str, Any], Evaluator]]:
    """Every combination (and the secret-token variant), transformed in one run of the translator."""
    parameter_sets = {combo_id(combo): parameters_for(**combo) for combo in COMBINATIONS}
    parameter_sets["secret"] = WITH_SECRET
    templates = transform(list(parameter_sets.values()))
    return {
        name: (template, Evaluator(template, parameters))
        for (name, parameters), template in zip(parameter_sets.items(), templates, strict=True)
    }


@pytest.fixture(scope="module")
def full(transformed: dict[str, tuple[dict[str, Any], Evaluator]]) -> dict[str, dict[str, Any]]:
    template, evaluator = transformed[combo_id(dict.fromkeys(SWITCH_NAMES, True))]
    return evaluator.resources(template)


# --- linters ----------------------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing() -> None:
    from cfnlint import api

    matches = api.lint(
        TEMPLATE.read_text(encoding="utf-8"), config=api.ManualArgs(regions=["us-east-1", "eu-west-1"])
    )
    assert [str(match) for match in matches] == []


def test_cfn_lint_finds_nothing_in_the_transformed_template(
    transformed: dict[str, tuple[dict[str, Any], Evaluator]],
) -> None:
    from cfnlint import api

    template, _ = transformed[combo_id(dict.fromkeys(SWITCH_NAMES, True))]
    matches = api.lint(json.dumps(template), config=api.ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [str(match) for match in matches] == []


def test_sam_validate_lint_passes() -> None:
    sam = require_sam()
    done = subprocess.run(
        [str(sam), "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        env=tool_environment(),
        cwd=SAM_DIR,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


# --- the sixteen combinations ---------------------------------------------------------------------------


@pytest.mark.parametrize("combo", COMBINATIONS, ids=combo_id)
def test_each_combination_creates_exactly_its_resources(
    transformed: dict[str, tuple[dict[str, Any], Evaluator]], combo: dict[str, bool]
) -> None:
    template, evaluator = transformed[combo_id(combo)]
    expected = dict(ALWAYS)
    for name, on in combo.items():
        if on:
            expected.update(WHEN[name])
    resources = evaluator.resources(template)
    assert {without_version_hash(name): resource["Type"] for name, resource in resources.items()} == expected

    for logical_id in FUNCTIONS.keys() & resources.keys():
        vpc = resources[logical_id]["Properties"].get("VpcConfig")
        if combo["vpc"]:
            assert vpc == {
                "SubnetIds": {"Fn::Split": [",", {"Ref": "VpcSubnetIds"}]},
                "SecurityGroupIds": {"Fn::Split": [",", {"Ref": "VpcSecurityGroupIds"}]},
            }
        else:
            assert vpc is None
    eni = [s for s in allow_statements(resources) if "ec2:CreateNetworkInterface" in as_list(s["Action"])]
    assert len(eni) == (sum(1 for f in FUNCTIONS if f in resources) if combo["vpc"] else 0)

    outputs = evaluator.outputs(template)
    assert ("WebhookUrl" in outputs) == ("WebhookEventRuleConditions" in outputs) == combo["webhook"]
    assert ("InboundBucketName" in outputs) == ("ReceiptRuleSetName" in outputs) == combo["inbound"]
    secret = resources["OutboundFunction"]["Properties"]["Environment"]["Variables"].get("WEBHOOK_SECRET")
    assert secret == ({"Ref": "WebhookSecret"} if combo["webhook"] else None)


def test_the_defaults_are_the_documented_ones() -> None:
    parameters = load_template()["Parameters"]
    defaults = {name: spec.get("Default") for name, spec in parameters.items()}
    assert defaults == {
        "NetBoxUrl": None,
        "NetBoxApiToken": "",
        "NetBoxApiTokenSecretArn": "",
        "SesReceiptDomain": "",
        "SesFromAddress": "noc@example.com",
        "SesConfigSetName": "netbox-notices-tracking",
        "EnableOutboundPolling": "true",
        "OutboundPollInterval": "rate(5 minutes)",
        "InboundS3BucketName": None,
        "WebhookSecret": "",
        "VpcSubnetIds": "",
        "VpcSecurityGroupIds": "",
        "ProviderMap": "",
        "NetBoxProviderMap": "",
        "InboundSourceHeader": "",
    }
    assert parameters["NetBoxApiToken"]["NoEcho"] is True
    assert parameters["WebhookSecret"]["NoEcho"] is True


# --- what the resources say ------------------------------------------------------------------------------


def test_functions_runtime_memory_handlers_and_log_retention(full: dict[str, dict[str, Any]]) -> None:
    notices = RESOURCES.notices
    specs = {"InboundFunction": notices.inbound, "OutboundFunction": notices.outbound}
    specs["TrackingFunction"] = notices.tracking
    for logical_id, spec in specs.items():
        props = full[logical_id]["Properties"]
        assert (props["Runtime"], props["Handler"], props["Timeout"]) == (
            "python3.12",
            spec.handler,
            spec.timeout_seconds,
        )
        assert props["MemorySize"] == spec.memory_mb == 256
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert full[log_group]["Properties"]["RetentionInDays"] == 30
        assert props["Role"] == {"Fn::GetAtt": [logical_id.replace("Function", "Role"), "Arn"]}


def test_inbound_bucket_takes_ses_mail_only_from_this_account_and_rule(
    full: dict[str, dict[str, Any]],
) -> None:
    bucket = full["InboundBucket"]["Properties"]
    (expiry,) = [rule for rule in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in rule]
    (rule,) = RESOURCES.notices.inbound_bucket.lifecycle
    assert (
        (expiry["Prefix"], expiry["ExpirationInDays"])
        == (rule.prefix, rule.expiration_days)
        == ("inbound/", 30)
    )
    assert bucket["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    (allow,) = [
        s
        for s in full["InboundBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow"
    ]
    assert allow["Principal"] == {"Service": "ses.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert allow["Condition"]["StringEquals"] == {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert (
        "receipt-rule/${AWS::StackName}-receive" in allow["Condition"]["ArnLike"]["AWS:SourceArn"]["Fn::Sub"]
    )


def test_receipt_rule_stores_then_invokes_with_scan_and_tls(full: dict[str, dict[str, Any]]) -> None:
    rule = full["ReceiptRule"]["Properties"]["Rule"]
    assert (rule["Enabled"], rule["ScanEnabled"], rule["TlsPolicy"]) == (True, True, "Require")
    assert rule["Recipients"] == [{"Ref": "SesReceiptDomain"}]
    s3_action, lambda_action = rule["Actions"]
    assert s3_action == {"S3Action": {"BucketName": {"Ref": "InboundBucket"}, "ObjectKeyPrefix": "inbound/"}}
    assert lambda_action == {
        "LambdaAction": {"FunctionArn": alias_of("InboundFunction"), "InvocationType": "Event"}
    }
    assert set(full["ReceiptRule"]["DependsOn"]) == {"InboundBucketPolicy", "InboundSesPermission"}
    # The function reads the mail where the S3 action puts it.
    variables = full["InboundFunction"]["Properties"]["Environment"]["Variables"]
    assert (
        variables["S3_KEY_PREFIX"]
        == s3_action["S3Action"]["ObjectKeyPrefix"]
        == RESOURCES.notices.inbound_prefix
    )
    permission = full["InboundSesPermission"]["Properties"]
    assert permission["Principal"] == "ses.amazonaws.com"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_failed_inbound_invocations_land_in_a_queue(full: dict[str, dict[str, Any]]) -> None:
    config = full["InboundInvokeConfig"]["Properties"]
    assert config["MaximumRetryAttempts"] == RESOURCES.notices.async_retry_attempts
    assert config["MaximumEventAgeInSeconds"] == RESOURCES.notices.max_event_age_seconds
    assert config["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": ["InboundFailureQueue", "Arn"]}}
    }
    failures = full["InboundFailureQueue"]["Properties"]
    assert failures["MessageRetentionPeriod"] == RESOURCES.notices.inbound_failures.retention_seconds


def test_configuration_set_publishes_every_event_type_to_the_tracking_queue(
    full: dict[str, dict[str, Any]],
) -> None:
    destination = full["TrackingEventDestination"]["Properties"]
    assert destination["ConfigurationSetName"] == {"Ref": "ConfigurationSet"}
    event_destination = destination["EventDestination"]
    assert set(event_destination["MatchingEventTypes"]) == SES_EVENT_TYPES
    assert event_destination["SnsDestination"] == {"TopicARN": {"Ref": "TrackingTopic"}}
    subscription = full["TrackingSubscription"]["Properties"]
    assert subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["TrackingQueue", "Arn"]}
    (statement,) = full["TrackingQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "TrackingTopic"}}}
    (publish,) = full["TrackingTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert publish["Principal"] == {"Service": "ses.amazonaws.com"}
    assert publish["Condition"]["StringEquals"] == {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_tracking_queue_matches_the_shared_description(full: dict[str, dict[str, Any]]) -> None:
    spec = RESOURCES.notices.tracking_queue
    queue = full["TrackingQueue"]["Properties"]
    timeout = full["TrackingFunction"]["Properties"]["Timeout"]
    assert spec.consumer_timeout_seconds == timeout
    assert queue["VisibilityTimeout"] == spec.visibility_timeout_seconds >= 6 * timeout
    assert queue["MessageRetentionPeriod"] == spec.retention_seconds
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["TrackingDeadLetterQueue", "Arn"]},
        "maxReceiveCount": spec.max_receive_count,
    }
    assert full["TrackingDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == spec.retention_seconds
    mapping = full["TrackingFunctionQueue"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == spec.batch_size
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["TrackingQueue", "Arn"]}


def test_schedule_and_webhook_reach_the_outbound_function(
    transformed: dict[str, tuple[dict[str, Any], Evaluator]], full: dict[str, dict[str, Any]]
) -> None:
    schedule = full["OutboundSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "OutboundPollInterval"}
    template, _ = transformed[combo_id(dict.fromkeys(SWITCH_NAMES, True))]
    default_rate = template["Parameters"]["OutboundPollInterval"]["Default"]
    assert default_rate == f"rate({RESOURCES.notices.outbound_poll_seconds // 60} minutes)"
    assert schedule["Targets"] == [{"Id": "outbound", "Arn": alias_of("OutboundFunction")}]
    assert full["WebhookRoute"]["Properties"]["RouteKey"] == "POST /webhook/outbound"
    integration = full["WebhookIntegration"]["Properties"]
    assert (integration["IntegrationType"], integration["PayloadFormatVersion"]) == ("AWS_PROXY", "2.0")
    assert full["WebhookApi"]["Properties"]["ProtocolType"] == "HTTP"
    assert "/POST/webhook/outbound" in full["WebhookPermission"]["Properties"]["SourceArn"]["Fn::Sub"]
    url = template["Outputs"]["WebhookUrl"]["Value"]["Fn::Sub"]
    assert url.endswith("/webhook/outbound") and "${WebhookApi}" in url
    conditions = template["Outputs"]["WebhookEventRuleConditions"]
    assert json.loads(conditions["Value"]) == READY_CHANGE
    assert json.dumps(READY_STATE) in conditions["Description"]


def test_snapstart_snapshots_published_versions_and_every_trigger_invokes_the_alias(
    full: dict[str, dict[str, Any]],
) -> None:
    """SnapStart exists only for published versions: a trigger that named the function itself would run
    `$LATEST`, cold and unprimed. Each function gets one version and one alias, and every trigger, every
    permission and the async invoke configurations name that alias."""
    for function in FUNCTIONS:
        properties = full[function]["Properties"]
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert properties["Runtime"] == "python3.12"  # SnapStart takes Python 3.12 and later
        # Neither is supported with SnapStart.
        assert "FileSystemConfigs" not in properties
        assert properties.get("EphemeralStorage", {"Size": 512})["Size"] <= 512
        (version,) = (name for name in full if without_version_hash(name) == f"{function}Version")
        alias = full[f"{function}Alias{ALIAS}"]["Properties"]
        assert alias["Name"] == ALIAS
        assert alias["FunctionVersion"] == {"Fn::GetAtt": [version, "Version"]}
        assert (
            "ProvisionedConcurrencyConfig" not in alias
        )  # SnapStart and provisioned concurrency exclude each other
    # The triggers
    assert full["ReceiptRule"]["Properties"]["Rule"]["Actions"][1]["LambdaAction"]["FunctionArn"] == alias_of(
        "InboundFunction"
    )
    assert full["OutboundSchedule"]["Properties"]["Targets"][0]["Arn"] == alias_of("OutboundFunction")
    uri = full["WebhookIntegration"]["Properties"]["IntegrationUri"]
    assert uri == alias_of("OutboundFunction")
    assert full["TrackingFunctionQueue"]["Properties"]["FunctionName"] == alias_of("TrackingFunction")
    # Their permissions, and what Lambda does with a failed asynchronous invoke
    for permission, function in (
        ("InboundSesPermission", "InboundFunction"),
        ("OutboundSchedulePermission", "OutboundFunction"),
        ("WebhookPermission", "OutboundFunction"),
    ):
        assert full[permission]["Properties"]["FunctionName"] == alias_of(function)
    for config, function in (
        ("InboundInvokeConfig", "InboundFunction"),
        ("OutboundInvokeConfig", "OutboundFunction"),
    ):
        assert full[config]["Properties"]["Qualifier"] == ALIAS
        assert f"{function}Alias{ALIAS}" in full[config]["DependsOn"]


def test_idempotency_table_matches_the_shared_description(full: dict[str, dict[str, Any]]) -> None:
    table = full["IdempotencyTable"]["Properties"]
    spec = RESOURCES.idempotency
    assert table["KeySchema"] == [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": spec.partition_key, "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"


def test_every_dead_letter_queue_and_function_has_an_alarm(full: dict[str, dict[str, Any]]) -> None:
    alarms = [r["Properties"] for r in full.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched_queues = {
        a["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for a in alarms
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
    }
    assert watched_queues == {"TrackingDeadLetterQueue", "InboundFailureQueue"}
    watched_functions = {a["Dimensions"][0]["Value"]["Ref"] for a in alarms if a["MetricName"] == "Errors"}
    assert watched_functions == set(FUNCTIONS)
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        if alarm["MetricName"] == "ApproximateNumberOfMessagesVisible":
            assert alarm["Threshold"] == RESOURCES.notices.alarms.dlq_messages_threshold


def test_tracking_backlog_alarms_well_before_outbound_stops_waiting_for_evidence(
    full: dict[str, dict[str, Any]],
) -> None:
    """A send whose answer was lost waits for SES's events; a tracking backlog near that wait could let it
    be sent again, so the queue's oldest message alarms at a fifth of the wait."""
    alarm = full["TrackingBacklogAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["TrackingQueue", "QueueName"]}
    assert alarm["Threshold"] == RESOURCES.notices.alarms.oldest_message_seconds
    assert alarm["Threshold"] * 5 <= EVIDENCE_WAIT_SECONDS


# --- environment contract --------------------------------------------------------------------------------

#: What a deployed stack resolves the references to, to run the real settings loader on them.
RESOLVED = {
    "IdempotencyTable": "sesflow-notices-IdempotencyTable-1A2B3C",
    "InboundBucket": parameters_for()["InboundS3BucketName"],
    "ConfigurationSet": "netbox-notices-tracking",
}


def resolve_reference(value: Any, parameters: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    name = value["Ref"]
    return RESOLVED.get(name) or parameters[name]


@pytest.mark.parametrize("variant", ["all-on", "secret"])
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_environment_is_what_its_flow_reads(
    transformed: dict[str, tuple[dict[str, Any], Evaluator]], function: str, variant: str
) -> None:
    name = combo_id(dict.fromkeys(SWITCH_NAMES, True)) if variant == "all-on" else "secret"
    template, evaluator = transformed[name]
    flow = FUNCTIONS[function]
    variables = evaluator.resources(template)[function]["Properties"]["Environment"]["Variables"]
    known = set(VARIABLES[flow]) | set(COMMON_VARIABLES)
    assert set(variables) <= known, f"not in sesflow.config: {set(variables) - known}"
    environ = {key: resolve_reference(value, evaluator.parameters) for key, value in variables.items()}
    settings = load_settings(flow, environ)  # raises ConfigError listing anything missing or malformed
    assert settings.common.idempotency_table == RESOLVED["IdempotencyTable"]
    if variant == "secret":
        assert settings.netbox.api_token is None
        assert settings.netbox.api_token_secret_arn == SECRET_ARN
    else:
        assert settings.netbox.api_token == parameters_for()["NetBoxApiToken"]


# --- IAM --------------------------------------------------------------------------------------------------


def allow_statements(resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                statements += policy["PolicyDocument"]["Statement"]
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return [statement for statement in statements if statement["Effect"] == "Allow"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_roles_have_no_managed_policies_and_no_wildcard_actions(full: dict[str, dict[str, Any]]) -> None:
    roles = [r for r in full.values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 3
    for role in roles:
        assert "ManagedPolicyArns" not in role["Properties"]
    statements = allow_statements(full)
    assert statements
    for statement in statements:
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, f"wildcard action {action!r} in {statement}"


def test_every_resource_is_the_stacks_own(full: dict[str, dict[str, Any]]) -> None:
    """ "*" only for the actions IAM grants on "*" alone; otherwise a reference to this stack's resources, or
    an ARN in this account and region (S3 ARNs name no account: they name the stack's bucket)."""
    for statement in allow_statements(full):
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                assert set(as_list(statement["Action"])) <= RESOURCE_WILDCARD_ACTIONS, statement
            elif isinstance(resource, dict) and "Fn::Sub" in resource:
                text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
                assert text.startswith("arn:${AWS::Partition}:"), statement
                assert "${AWS::AccountId}" in text or text.startswith(
                    "arn:${AWS::Partition}:s3:::${InboundS3BucketName}"
                ), statement
                assert "*" not in text.removesuffix("/inbound/*").removesuffix(":*"), statement
            else:
                assert isinstance(resource, dict) and set(resource) <= {"Ref", "Fn::GetAtt"}, statement


def test_outbound_sends_only_as_its_identity_and_configuration_set(full: dict[str, dict[str, Any]]) -> None:
    (send,) = [s for s in allow_statements(full) if "ses:SendRawEmail" in as_list(s["Action"])]
    text = json.dumps(send["Resource"])
    assert "identity/${SesFromAddress}" in text
    assert "identity/${Domain}" in text
    assert "configuration-set/${SesConfigSetName}" in text


def test_the_token_secret_is_readable_only_when_configured(
    transformed: dict[str, tuple[dict[str, Any], Evaluator]], full: dict[str, dict[str, Any]]
) -> None:
    def reads(resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            s for s in allow_statements(resources) if "secretsmanager:GetSecretValue" in as_list(s["Action"])
        ]

    assert reads(full) == []
    template, evaluator = transformed["secret"]
    secret_reads = reads(evaluator.resources(template))
    assert len(secret_reads) == 3  # inbound, outbound, tracking
    assert all(s["Resource"] == {"Ref": "NetBoxApiTokenSecretArn"} for s in secret_reads)


# --- the build's inputs ------------------------------------------------------------------------------------


def _pins(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_requirements_are_the_locked_runtime_dependencies() -> None:
    """deploy/sam/requirements.txt is `uv export` of the runtime dependencies plus the notices extra."""
    uv = tool_path("uv")
    committed = (SAM_DIR / "requirements.txt").read_text(encoding="utf-8")
    command = re.search(r"^#\s+(uv export .*)$", committed, re.MULTILINE)
    assert command is not None, "requirements.txt names the command that made it"
    arguments = command.group(1).split()[2:]
    arguments = [a for a in arguments if a not in {"-o", "deploy/sam/requirements.txt"}]
    exported = subprocess.run(
        [uv, "export", *arguments], capture_output=True, text=True, cwd=REPO, check=True, timeout=120
    ).stdout
    assert _pins(committed) == _pins(exported), "regenerate: " + command.group(1)

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["notices"]]
    names = {re.split(r"[=<>~ ;\[]", pin, maxsplit=1)[0].lower() for pin in _pins(committed)}
    for requirement in wanted:
        assert re.split(r"[=<>~ ;\[]", requirement, maxsplit=1)[0].lower() in names
    assert "boto3" not in names and "botocore" not in names  # the runtime has them
    assert not names & {"pytest", "moto", "hypothesis", "typer", "rich", "aiosmtpd"}


def test_samconfig_builds_with_the_requirements() -> None:
    config = tomllib.loads((SAM_DIR / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["default"]["build"]["parameters"]["manifest"] == "requirements.txt"
    assert config["default"]["deploy"]["parameters"]["capabilities"] == "CAPABILITY_IAM"
    assert load_template()["Globals"]["Function"]["CodeUri"] == "../../src"
