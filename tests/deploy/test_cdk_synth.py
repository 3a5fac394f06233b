"""The relay app as `cdk synth` runs it: cdk-nag's AwsSolutions pack passes with every accepted finding
acknowledged for a written reason, an unacknowledged finding fails the synthesis, and the pinned 2.x CLI
synthesizes the app (the npm `latest` CLI, 3.x, cannot read aws-cdk-lib 2's output)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk")
if shutil.which("node") is None:
    pytest.fail("aws-cdk-lib needs node on PATH", pytrace=False)

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

from sesflow.resources import RESOURCES

from ..harness.tools import tool_path
from .cdk_support import CDK_DIR, REPO, REQUIRED, cdk_app_module, relay_stack_module

relay_stack = relay_stack_module()
cdk_app = cdk_app_module()
from relay_parts import description, nag  # noqa: E402
from relay_parts.context import RelayContext  # noqa: E402

FULL = {
    **REQUIRED,
    "ActivateRuleSet": "true",
    "PresignCredentialsSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:relay-signing-AbCd",
    "FallbackEmail": "ops@example.com",
    "AlarmEmail": "alarms@example.com",
}


def synthesize(context: dict[str, str], outdir: Path, *, extra: Any = None) -> dict[str, Any]:
    """The app as app.py builds it (cdk-nag included); `extra(stack)` may add to the stack first."""
    app = cdk_app.build_app(cdk.App(context=context, outdir=str(outdir)), bundle=REPO / "src")
    if extra is not None:
        extra(app.node.find_child("SesflowRelay"))
    app.synth()
    return dict(json.loads((outdir / "validation-report.json").read_text(encoding="utf-8")))


@pytest.mark.unit
@pytest.mark.parametrize("context", [REQUIRED, FULL], ids=["minimal", "full"])
def test_cdk_nag_finds_nothing_unacknowledged(context: dict[str, str], tmp_path: Path) -> None:
    report = synthesize(context, tmp_path)  # an unacknowledged finding raises here
    assert report["pluginReports"] == []


@pytest.mark.unit
def test_cdk_nag_fails_the_synthesis_on_a_new_finding(tmp_path: Path) -> None:
    def careless_bucket(stack: cdk.Stack) -> None:
        s3.Bucket(stack, "CarelessBucket")  # no TLS-only policy, no logging

    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        synthesize(REQUIRED, tmp_path, extra=careless_bucket)
    message = str(failure.value)
    assert "SesflowRelay/CarelessBucket" in message and "AwsSolutions-S10" in message
    assert "IncomingBucket" not in message, "the stack's own findings stay acknowledged"


@pytest.mark.unit
def test_every_acknowledgment_names_a_rule_with_a_reason() -> None:
    app = cdk_app.build_app(cdk.App(context=FULL), bundle=REPO / "src")
    acknowledged: dict[str, str] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                acknowledged.update(entry.data)
    rules = {re.sub(r"^Annotation::|\[.*\]$", "", finding) for finding in acknowledged}
    assert rules == set(nag.NAG_REASONS)
    for finding, reason in acknowledged.items():
        assert len(reason) >= 60, f"{finding}: the reason is too thin"
    iam5 = [finding for finding in acknowledged if "IAM5" in finding]
    # Wildcards accepted only under the stack's own prefixes, and `*` for the actions IAM grants on * alone.
    for finding in iam5:
        resource = finding.split("[Resource::", 1)[1].rstrip("]")
        assert resource == "*" or re.fullmatch(
            r"<(IncomingBucket|AttachmentsBucket)\w+\.Arn>/\w*/?\*", resource
        )


@pytest.mark.unit
def test_the_stack_reads_the_shared_description() -> None:
    relay = RESOURCES.relay
    stack = (description.HANDLER, description.MAX_RECEIVE_COUNT, description.BATCH_SIZE)
    assert stack == (relay.function.handler, relay.queue.max_receive_count, relay.queue.batch_size)
    assert description.FUNCTION_TIMEOUT.to_seconds() == relay.function.timeout_seconds
    defaults = RelayContext.from_node(cdk.App(context=REQUIRED).node)
    assert defaults.oldest_message_alarm_seconds == relay.alarms.oldest_message_seconds
    assert defaults.received_alarm_threshold == relay.alarms.received_per_period_threshold
    assert defaults.dlq_alarm_threshold == relay.alarms.dlq_messages_threshold
    lifecycle = {rule.prefix: rule.expiration_days for rule in relay.incoming.lifecycle}
    assert (defaults.incoming_retention_days, defaults.quarantine_retention_days) == (
        lifecycle["incoming/"],
        lifecycle["quarantine/"],
    )
    # cdk.json's context would override the description's defaults: it leaves them alone.
    context = json.loads((CDK_DIR / "cdk.json").read_text(encoding="utf-8"))["context"]
    shadowing = {
        "OldestMessageAlarmSeconds",
        "ReceivedAlarmThreshold",
        "DlqAlarmThreshold",
        "IncomingRetentionDays",
        "QuarantineRetentionDays",
    }
    assert not shadowing & set(context)


# --- the pinned CLI --------------------------------------------------------------------------------------


def test_the_cli_is_pinned_to_2x() -> None:
    package = json.loads((CDK_DIR / "package.json").read_text(encoding="utf-8"))
    assert package["devDependencies"]["aws-cdk"].startswith("^2.")
    lock = json.loads((CDK_DIR / "package-lock.json").read_text(encoding="utf-8"))
    locked = lock["packages"]["node_modules/aws-cdk"]["version"]
    assert locked.split(".")[0] == "2" and int(locked.split(".")[1]) >= 1148


@pytest.mark.integration
def test_cdk_synth_through_the_pinned_cli(tmp_path: Path) -> None:
    cli = tool_path("cdk")
    environment = {
        **os.environ,
        # cdk.json runs `python3 app.py`: the project's interpreter, with aws-cdk-lib and sesflow.
        "PATH": os.pathsep.join([str(REPO / ".venv" / "bin"), os.environ["PATH"]]),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    version = subprocess.run(
        [str(cli), "--version"], capture_output=True, text=True, env=environment, check=True, timeout=60
    )
    assert version.stdout.startswith("2.")
    context = [arg for name, value in REQUIRED.items() for arg in ("--context", f"{name}={value}")]
    done = subprocess.run(
        [
            str(cli),
            "synth",
            "--quiet",
            "--no-notices",
            "--output",
            str(tmp_path),
            *context,
            "--context",
            f"Bundle={REPO / 'src'}",
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=CDK_DIR,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    template = json.loads((tmp_path / "SesflowRelay.template.json").read_text(encoding="utf-8"))
    handlers = [
        resource["Properties"]["Handler"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    ]
    assert handlers == [RESOURCES.relay.function.handler]
    report = json.loads((tmp_path / "validation-report.json").read_text(encoding="utf-8"))
    assert report["pluginReports"] == []
