"""Both templates created as stacks on moto's CloudFormation, and the resources read back through the
services' own APIs: references resolve and the resources CloudFormation would create come up wired together.

moto's CloudFormation covers part of what the templates hold: it skips SES (receipt rules, configuration
sets), API Gateway v2, CloudWatch alarms, bucket/topic/queue policies, SNS subscriptions, event-invoke
configs, S3 lifecycles and notifications, and DynamoDB TTL (`No Moto CloudFormation support for ...`). Those
are checked on the templates themselves (test_sam_template.py, test_cdk_relay.py); here only what moto
really builds is asserted."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from sesflow.aws.clients import AwsClients
from sesflow.resources import RESOURCES

from .sam_support import parameters_for, transform

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto:UserWarning"),
]

REPO = Path(__file__).resolve().parents[2]


def empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("sesflow/__init__.py", "")
    return buffer.getvalue()


@pytest.fixture
def client(aws: AwsClients, moto_server: Any) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_server.endpoint_url)  # type: ignore[call-overload]

    return make


def without_aliases(template: dict[str, Any]) -> dict[str, Any]:
    """The template with each function's alias replaced by the function itself: moto's CloudFormation has no
    AWS::Lambda::Alias, and a reference to one resolves to nothing there. The triggers' targets are checked
    on the templates (every one names the alias); here they name the function the alias points at."""
    resources = template["Resources"]
    function_of = {
        name: resource["Properties"]["FunctionName"]["Ref"]
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Alias"
    }

    def names_alias(node: Any) -> str | None:
        if isinstance(node, dict):
            if node.get("Ref") in function_of:
                return str(node["Ref"])
            return next((found for value in node.values() if (found := names_alias(value))), None)
        if isinstance(node, list):
            return next((found for value in node if (found := names_alias(value))), None)
        return None

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            alias = (
                names_alias(node) if len(node) == 1 and next(iter(node)).startswith(("Ref", "Fn::")) else None
            )
            if alias is not None:
                return {"Fn::GetAtt": [function_of[alias], "Arn"]}
            return {key: rewrite(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rewrite(value) for value in node]
        return node

    kept = {}
    for name, resource in resources.items():
        if name in function_of:
            continue
        resource = rewrite(resource)
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [depends] if isinstance(depends, str) else depends
            resource["DependsOn"] = [item for item in depends if item not in function_of]
        kept[name] = resource
    return {**template, "Resources": kept}


def create_stack(
    client: Callable[[str], Any], name: str, template: dict[str, Any], **parameters: str
) -> None:
    cloudformation = client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(without_aliases(template)),
        Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")


def functions_by_handler(client: Callable[[str], Any]) -> dict[str, dict[str, Any]]:
    return {f["Handler"]: f for f in client("lambda").list_functions()["Functions"]}


def queue_attributes(client: Callable[[str], Any], fragment: str) -> dict[str, str]:
    sqs = client("sqs")
    (url,) = [url for url in sqs.list_queues().get("QueueUrls", []) if fragment in url]
    return dict(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"])


def test_the_notices_stack_comes_up_on_moto(client: Callable[[str], Any]) -> None:
    parameters = parameters_for(inbound=True, polling=True, webhook=True, vpc=False)
    (template,) = transform([parameters])
    client("s3").create_bucket(Bucket="sesflow-artifacts")  # where `sam package` would have put the code
    client("s3").put_object(Bucket="sesflow-artifacts", Key="notices.zip", Body=empty_zip())
    create_stack(client, "sesflow-notices", template, **parameters)

    notices = RESOURCES.notices
    functions = functions_by_handler(client)
    assert set(functions) == {notices.inbound.handler, notices.outbound.handler, notices.tracking.handler}
    for function in functions.values():
        assert (function["Runtime"], function["MemorySize"]) == ("python3.12", 256)
        assert function["Environment"]["Variables"]["NETBOX_URL"] == parameters["NetBoxUrl"]
        assert function["Environment"]["Variables"]["IDEMPOTENCY_TABLE"].startswith(
            "sesflow-notices-Idempotency"
        )
    inbound = functions[notices.inbound.handler]["Environment"]["Variables"]
    assert inbound["S3_BUCKET_NAME"] == parameters["InboundS3BucketName"]
    client("s3").head_bucket(Bucket=parameters["InboundS3BucketName"])

    tracking = queue_attributes(client, "-TrackingQueue-")
    dead_letters = queue_attributes(client, "-TrackingDeadLetterQueue-")
    assert json.loads(tracking["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters["QueueArn"],
        "maxReceiveCount": notices.tracking_queue.max_receive_count,
    }
    assert int(tracking["VisibilityTimeout"]) == notices.tracking_queue.visibility_timeout_seconds
    (mapping,) = client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mapping["EventSourceArn"] == tracking["QueueArn"]
    assert mapping["FunctionArn"] == functions[notices.tracking.handler]["FunctionArn"]

    (rule,) = client("events").list_rules()["Rules"]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    (target,) = client("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == functions[notices.outbound.handler]["FunctionArn"]
    table = client("dynamodb").describe_table(TableName=inbound["IDEMPOTENCY_TABLE"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_the_relay_stack_comes_up_on_moto(client: Callable[[str], Any], tmp_path: Path) -> None:
    pytest.importorskip("aws_cdk")
    import aws_cdk as cdk
    from aws_cdk import aws_lambda as lambda_

    from .cdk_support import REQUIRED, relay_stack_module

    relay_stack = relay_stack_module()

    app = cdk.App(context=REQUIRED, outdir=str(tmp_path))
    stack = relay_stack.RelayStack(
        app,
        "SesflowRelay",
        settings=relay_stack.RelayContext.from_node(app.node),
        code=lambda_.Code.from_asset(str(REPO / "src" / "sesflow" / "relay")),
        env=cdk.Environment(account="123456789012", region="us-east-1"),
    )
    template = app.synth().get_stack_by_name(stack.stack_name).template
    code = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    # What `cdk bootstrap` leaves in an account: the assets bucket and the version the template checks.
    assets = "cdk-hnb659fds-assets-123456789012-us-east-1"
    client("s3").create_bucket(Bucket=assets)
    client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String")
    client("s3").put_object(Bucket=assets, Key=code["Properties"]["Code"]["S3Key"], Body=empty_zip())
    create_stack(client, "SesflowRelay", template)

    relay = RESOURCES.relay
    (function,) = functions_by_handler(client).values()
    assert function["Handler"] == relay.function.handler
    assert function["Timeout"] == relay.function.timeout_seconds
    variables = function["Environment"]["Variables"]
    client("s3").head_bucket(Bucket=variables["INCOMING_BUCKET"])
    client("s3").head_bucket(Bucket=variables["ATTACHMENTS_BUCKET"])
    queue = queue_attributes(client, "-IncomingQueue")
    dead_letters = queue_attributes(client, "-DeadLetterQueue")
    assert json.loads(queue["RedrivePolicy"])["deadLetterTargetArn"] == dead_letters["QueueArn"]
    assert json.loads(queue["RedrivePolicy"])["maxReceiveCount"] == relay.queue.max_receive_count
    assert int(queue["VisibilityTimeout"]) == relay.queue.visibility_timeout_seconds
    (mapping,) = client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mapping["EventSourceArn"] == queue["QueueArn"]
    assert mapping["FunctionArn"] == function["FunctionArn"]
    topic_arns = {topic["TopicArn"] for topic in client("sns").list_topics()["Topics"]}
    assert variables["SNS_TOPIC"] in topic_arns
