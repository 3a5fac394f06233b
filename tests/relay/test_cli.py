"""`sesflow relay process / revoke / dlq` against moto's server, as an operator would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from typer.testing import CliRunner

from sesflow.aws.clients import AwsClients
from sesflow.cli import app
from sesflow.local.aws_setup import create_idempotency_table

from ..conftest import DEVICE_MAIL

pytestmark = pytest.mark.integration


@pytest.fixture
def relay_env(aws: AwsClients, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    aws.s3.create_bucket(Bucket="relay-incoming")
    aws.s3.create_bucket(Bucket="relay-attachments")
    aws.sesv2.create_email_identity(EmailIdentity="relay@ingest.example.com")
    create_idempotency_table(aws)
    topic = aws.sns.create_topic(Name="relay-fallback")["TopicArn"]
    env = {
        "IDEMPOTENCY_TABLE": "sesflow-idempotency",
        "INCOMING_BUCKET": "relay-incoming",
        "ATTACHMENTS_BUCKET": "relay-attachments",
        "SENDER_EMAIL": "relay@ingest.example.com",
        "SNS_TOPIC": topic,
        "COLUMNS": "200",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def sends() -> int:
    return len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def test_dry_run_of_a_file_shows_the_plan_and_touches_nothing(moto_server: object) -> None:
    before = sends()
    result = CliRunner().invoke(
        app, ["relay", "process", str(DEVICE_MAIL), "--dry-run"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "would relay to 3 recipient(s) in 1 send(s)" in result.output
    assert "ANYUSER2@domain-b.example" in result.output
    assert "iot-seed-example/1-demo64.txt" in result.output
    assert "nothing was written or sent" in result.output
    assert sends() == before


def test_dry_run_reports_a_refusal(tmp_path: Path, moto_server: object) -> None:
    mail = tmp_path / "no-marker.eml"
    mail.write_bytes(b"From: gw@plant.example.com\r\nSubject: hi\r\n\r\nno list here\r\n")
    result = CliRunner().invoke(app, ["relay", "process", str(mail), "--dry-run"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "would not relay: no_marker" in result.output


def test_process_relays_a_file_then_revoke_deletes_its_attachments(
    aws: AwsClients, relay_env: dict[str, str]
) -> None:
    before = sends()
    result = CliRunner().invoke(app, ["relay", "process", str(DEVICE_MAIL)])
    assert result.exit_code == 0, result.output
    assert "relayed to 3 recipient(s) in 1 send(s)" in result.output
    assert sends() == before + 1
    [key] = [o["Key"] for o in aws.s3.list_objects_v2(Bucket="relay-attachments")["Contents"]]
    message_id = key.split("/")[0]
    assert key == f"{message_id}/1-demo64.txt"

    listed = CliRunner().invoke(app, ["relay", "revoke", message_id, "--dry-run"])
    assert listed.exit_code == 0 and "1 object(s) (dry run)" in listed.output
    assert "Contents" in aws.s3.list_objects_v2(Bucket="relay-attachments")

    revoked = CliRunner().invoke(app, ["relay", "revoke", message_id])
    assert revoked.exit_code == 0, revoked.output
    assert "1 object(s)" in revoked.output and key in revoked.output
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="relay-attachments")


def test_revoke_older_than_keeps_recent_attachments(aws: AwsClients, relay_env: dict[str, str]) -> None:
    aws.s3.put_object(Bucket="relay-attachments", Key="m1/1-a.txt", Body=b"a")
    result = CliRunner().invoke(app, ["relay", "revoke", "--older-than", "1h"])
    assert result.exit_code == 0, result.output
    assert "0 object(s)" in result.output
    assert aws.s3.head_object(Bucket="relay-attachments", Key="m1/1-a.txt")["ContentLength"] == 1
    bad = CliRunner().invoke(app, ["relay", "revoke", "--older-than", "soon"])
    assert bad.exit_code != 0


def test_dlq_lists_and_redrives(aws: AwsClients, relay_env: dict[str, str]) -> None:
    queue = aws.sqs.create_queue(QueueName="relay")["QueueUrl"]
    dlq = aws.sqs.create_queue(QueueName="relay-dlq")["QueueUrl"]
    aws.s3.put_object(Bucket="relay-incoming", Key="incoming/stuck1", Body=DEVICE_MAIL.read_bytes())
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": "relay-incoming"},
            "object": {"key": "incoming/stuck1", "size": 1, "eTag": "e"},
        },
    }
    aws.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"Records": [record]}))
    aws.sqs.send_message(QueueUrl=dlq, MessageBody="not json")

    listed = CliRunner().invoke(app, ["relay", "dlq", "--dlq-url", dlq])
    assert listed.exit_code == 0, listed.output
    assert "2 message(s) in the DLQ" in listed.output
    assert "incoming/stuck1" in listed.output and "Demo from openssl" in listed.output

    moved = CliRunner().invoke(app, ["relay", "dlq", "--dlq-url", dlq, "--queue-url", queue, "--redrive"])
    assert moved.exit_code == 0, moved.output
    assert "moved 2 message(s)" in moved.output
    bodies = [m["Body"] for m in aws.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    assert len(bodies) == 2 and "not json" in bodies
    assert "Messages" not in aws.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)
