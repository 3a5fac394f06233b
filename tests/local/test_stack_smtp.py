"""The local stack end to end, without NetBox: SMTP ingress as SES receiving, the relay worker as Lambda
behind SQS, the outbox as SES delivery, and the failure paths (DLQ, async retries, a killed worker)."""

from __future__ import annotations

import base64
import json
import smtplib
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sesflow.relay.distribute as distribute
from sesflow.local.outbox import read_maildir
from sesflow.local.smtp_ingress import IngressSettings
from sesflow.local.stack import Stack, StackOptions, start_stack
from sesflow.resources import RESOURCES

from ..conftest import SAMPLES
from .conftest import (
    CREDENTIALS,
    SMTP_PASSWORD,
    SMTP_USER,
    parsed,
    relayed_for,
    smtp_client,
    submit,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:No application metrics to publish")]

#: A 3 s consumer timeout with a visibility factor of 1: a message not deleted is back after 3 s.
RESOURCES_FOR_TESTS = replace(
    RESOURCES.with_consumer_timeout(3, visibility_factor=1),
    notices=replace(
        RESOURCES.notices,
        tracking_queue=replace(
            RESOURCES.notices.tracking_queue,
            consumer_timeout_seconds=2,
            visibility_factor=1,
            max_receive_count=2,
        ),
    ),
)
POISON = "poison-for-the-dlq"


class Recorder:
    """Stands in for a handler to see exactly what the stack hands it; fails when told to."""

    def __init__(self, fail_when: str | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.fail_when = fail_when
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert context.get_remaining_time_in_millis() > 0
        with self.lock:
            self.events.append(event)
        failures = [
            {"itemIdentifier": record["messageId"]}
            for record in event.get("Records", [])
            if self.fail_when is not None and self.fail_when in record.get("body", "")
        ]
        if self.fail_when == "always":
            raise RuntimeError("this invocation fails on purpose")
        return {"batchItemFailures": failures}


@pytest.fixture(scope="module")
def trackers() -> dict[str, Recorder]:
    return {
        "tracking": Recorder(fail_when=POISON),
        "inbound": Recorder(fail_when="always"),
        "outbound": Recorder(),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, trackers: dict[str, Recorder]) -> Iterator[Stack]:
    notices = RESOURCES_FOR_TESTS.notices
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("stack"),
        resources=RESOURCES_FOR_TESTS,
        smtp=IngressSettings(credentials=CREDENTIALS),
        start_netbox=False,
        async_retry_delays=(0.2, 0.4),
        log_level="WARNING",
        handler_overrides={
            notices.tracking.handler: trackers["tracking"],
            notices.inbound.handler: trackers["inbound"],
            notices.outbound.handler: trackers["outbound"],
        },
        outbound_poll_seconds=0.5,
    )
    running = start_stack(options)
    yield running
    running.stop()


def seed_session(user: str, password: str, mail_from: str, to: str) -> bytes:
    text = (SAMPLES / "iot-seed-openssl-session.txt").read_text()
    for name, value in {
        "{USER_B64}": base64.b64encode(user.encode()).decode(),
        "{PASS_B64}": base64.b64encode(password.encode()).decode(),
        "{FROM}": mail_from,
        "{TO}": to,
    }.items():
        text = text.replace(name, value)
    return text.encode()


def test_the_seed_openssl_session_ends_in_a_relayed_mail(stack: Stack) -> None:
    device = "openssl-gw@iot.example.com"
    done = subprocess.run(
        [
            "openssl",
            "s_client",
            "-starttls",
            "smtp",
            "-crlf",
            "-quiet",
            "-connect",
            f"127.0.0.1:{stack.ingress.port}",
        ],
        input=seed_session(SMTP_USER, SMTP_PASSWORD, device, stack.options.relay_address),
        capture_output=True,
        timeout=60,
        check=False,
    )
    answers = done.stdout.decode()
    assert "235 2.7.0 Authentication successful" in answers
    assert "250 Ok " in answers and "221 Bye" in answers
    [relayed] = relayed_for(stack, device)
    assert set(relayed.destinations) == {
        "ANYUSER1@domain-a.example",
        "ANYUSER2@domain-b.example",
        "ANYUSERX@domain-y.example",
    }
    text = parsed(relayed).get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "Email_Rxers_Code" not in body and "demo64.txt" in body
    assert relayed.configuration_set == RESOURCES.relay.configuration_set


def test_smtplib_with_starttls_and_auth_relays_the_seed_mail(stack: Stack) -> None:
    raw = (SAMPLES / "iot-seed-example.eml").read_bytes()
    message_id = submit(stack, raw, "sensor-gw@iot.example.com", stack.options.relay_address)
    [relayed] = relayed_for(stack, "sensor-gw@iot.example.com")
    assert len(relayed.destinations) == 3
    # What SES's S3 action stored, with SES's headers on top of the device's bytes, under incoming/.
    stored = stack.clients.s3.get_object(Bucket=RESOURCES.relay.incoming.name, Key=f"incoming/{message_id}")
    body = stored["Body"].read()
    assert body.endswith(raw)
    assert b"X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n" in body
    assert b"Authentication-Results: amazonses.com; spf=pass" in body
    [delivered] = [
        m for m in read_maildir(stack.outbox.maildir) if m["X-SES-Message-ID"] == relayed.message_id
    ]
    assert delivered["X-Original-To"] == ", ".join(relayed.destinations)


def test_a_mail_is_stored_before_the_250(stack: Stack) -> None:
    raw = b"From: probe@iot.example.com\r\nSubject: stored first\r\n\r\nno recipients line\r\n"
    message_id = submit(stack, raw, "probe@iot.example.com", stack.options.relay_address)
    # The 250 was read; the object must already be there (no waiting).
    head = stack.clients.s3.head_object(Bucket=RESOURCES.relay.incoming.name, Key=f"incoming/{message_id}")
    assert head["ContentLength"] > len(raw)


def test_an_oversized_mail_gets_552(stack: Stack) -> None:
    raw = b"From: big@iot.example.com\r\nSubject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * (41 * 1024)
    with smtp_client(stack) as client:
        client.mail("big@iot.example.com")
        client.rcpt(stack.options.relay_address)
        code, answer = client.data(raw)
    assert code == 552, answer


def test_the_size_limit_is_announced_and_checked_at_mail_from(stack: Stack) -> None:
    with smtp_client(stack) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == str(40 * 1024 * 1024)
        code, _ = client.mail("big@iot.example.com", options=[f"SIZE={41 * 1024 * 1024}"])
    assert code == 552


def test_an_unknown_recipient_gets_550(stack: Stack) -> None:
    with smtp_client(stack) as client:
        client.mail("sensor-gw@iot.example.com")
        code, answer = client.rcpt("nobody@ingest.example.com")
    assert code == 550, answer


def test_auth_is_required_and_a_wrong_password_gets_535(stack: Stack) -> None:
    with smtp_client(stack, login=False) as client:
        code, _ = client.mail("sensor-gw@iot.example.com")
        assert code == 530  # authentication required
        client.user, client.password = SMTP_USER, "not-the-password"
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused_plain:
            client.auth("PLAIN", client.auth_plain)
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused_login:
            client.auth("LOGIN", client.auth_login, initial_response_ok=False)
    assert refused_plain.value.smtp_code == 535
    assert refused_login.value.smtp_code == 535


def test_auth_needs_tls_first(stack: Stack) -> None:
    with smtplib.SMTP(stack.ingress.host, stack.ingress.port, timeout=10) as client:
        client.ehlo()
        assert "auth" not in client.esmtp_features
        code, _ = client.mail("sensor-gw@iot.example.com")
    assert code == 530  # STARTTLS first


def test_a_worker_killed_mid_message_is_redelivered_and_sends_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_report = distribute.report
    killed: list[str] = []

    def report_or_die(outcome: distribute.Outcome, deps: distribute.RelayDeps) -> None:
        # Dies after the send step, before the message is deleted: the worst moment for a duplicate.
        if not killed:
            killed.append("report")
            raise SystemExit("killed between send and report")
        real_report(outcome, deps)

    monkeypatch.setattr(distribute, "report", report_or_die)
    worker = stack.workers[RESOURCES.relay.function.name]
    crashed_before = worker.counters.crashed
    raw = (SAMPLES / "iot-seed-example.eml").read_bytes().replace(b"sensor-gw@", b"killed-gw@")
    submit(stack, raw, "killed-gw@iot.example.com", stack.options.relay_address)
    assert wait_for(lambda: worker.counters.crashed > crashed_before or None, timeout=30)
    # Back after the visibility timeout (3 s), processed again, deleted: and the mail went out once.
    assert wait_for(lambda: ("report" in killed and _queue_empty(stack)) or None, timeout=30)
    assert len(relayed_for(stack, "killed-gw@iot.example.com")) == 1


def _queue_empty(stack: Stack) -> bool:
    attributes = stack.clients.sqs.get_queue_attributes(
        QueueUrl=stack.aws.relay_queue.url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"] == "0"
        and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def test_ses_events_reach_the_tracking_queue_with_the_tags(
    stack: Stack, trackers: dict[str, Recorder]
) -> None:
    sent = stack.clients.sesv2.send_email(
        FromEmailAddress=stack.options.notices_sender,
        Destination={"ToAddresses": ["success@simulator.amazonses.com", "bounce@simulator.amazonses.com"]},
        Content={"Raw": {"Data": b"From: notices@example.net\r\nSubject: tracked\r\n\r\nhello\r\n"}},
        ConfigurationSetName=RESOURCES.notices.configuration_set,
        EmailTags=[{"Name": "notification_id", "Value": "42"}],
    )

    def events() -> list[dict[str, Any]] | None:
        found = [
            json.loads(json.loads(record["body"])["Message"])
            for event in list(trackers["tracking"].events)
            for record in event["Records"]
            if sent["MessageId"] in record["body"]
        ]
        return found if len(found) >= 3 else None

    found = wait_for(events) or []
    by_type = {event["eventType"]: event for event in found}
    assert set(by_type) == {"Send", "Delivery", "Bounce"}
    assert by_type["Delivery"]["delivery"]["recipients"] == ["success@simulator.amazonses.com"]
    bounce = by_type["Bounce"]["bounce"]
    assert bounce["bounceType"] == "Permanent"
    assert [r["emailAddress"] for r in bounce["bouncedRecipients"]] == ["bounce@simulator.amazonses.com"]
    for event in found:
        assert event["mail"]["messageId"] == sent["MessageId"]
        assert event["mail"]["tags"]["notification_id"] == ["42"]
        assert event["mail"]["tags"]["ses:configuration-set"] == [RESOURCES.notices.configuration_set]
    record = next(
        r for e in trackers["tracking"].events for r in e["Records"] if sent["MessageId"] in r["body"]
    )
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == stack.aws.tracking_queue.arn


def test_a_message_that_keeps_failing_ends_in_the_dlq(stack: Stack) -> None:
    sqs = stack.clients.sqs
    sqs.send_message(QueueUrl=stack.aws.tracking_queue.url, MessageBody=json.dumps({"note": POISON}))

    def in_dlq() -> list[dict[str, Any]] | None:
        answer = sqs.receive_message(QueueUrl=stack.aws.tracking_queue.dlq_url, WaitTimeSeconds=1)
        return answer.get("Messages") or None

    # maxReceiveCount 2 with a 2 s visibility timeout: two failed receives, then moto's redrive.
    [dead] = wait_for(in_dlq, timeout=40) or [None]
    assert dead is not None and POISON in dead["Body"]


def test_a_failing_async_invoke_is_retried_twice_then_sent_to_the_failure_destination(
    stack: Stack, trackers: dict[str, Recorder]
) -> None:
    before = len(trackers["inbound"].events)
    raw = b"From: noc@provider.example\r\nTo: notices@example.net\r\nSubject: window\r\n\r\nplanned work\r\n"
    message_id = submit(stack, raw, "noc@provider.example", stack.options.notices_address)
    assert stack.inbound.wait_idle(30)
    attempts = trackers["inbound"].events[before:]
    assert len(attempts) == 3  # the first call and Lambda's two retries
    record = attempts[0]["Records"][0]
    assert record["eventSource"] == "aws:ses"
    assert record["ses"]["mail"]["messageId"] == message_id
    assert record["ses"]["receipt"]["recipients"] == [stack.options.notices_address]
    assert record["ses"]["receipt"]["spfVerdict"] == {"status": "PASS"}
    assert record["ses"]["receipt"]["action"]["invocationType"] == "Event"
    headers = {h["name"] for h in record["ses"]["mail"]["headers"]}
    assert {"X-SES-Spam-Verdict", "X-SES-Virus-Verdict", "Received-SPF", "X-SES-RECEIPT"} <= headers
    stack.clients.s3.head_object(Bucket=RESOURCES.notices.inbound_bucket.name, Key=f"inbound/{message_id}")

    def failure() -> dict[str, Any] | None:
        answer = stack.clients.sqs.receive_message(QueueUrl=stack.aws.inbound_failures.url, WaitTimeSeconds=1)
        bodies = [json.loads(m["Body"]) for m in answer.get("Messages") or ()]
        return next((b for b in bodies if message_id in json.dumps(b["requestPayload"])), None)

    destination = wait_for(failure, timeout=15)
    assert destination is not None
    assert destination["requestContext"]["condition"] == "RetriesExhausted"
    assert destination["requestContext"]["approximateInvokeCount"] == 3
    assert destination["responsePayload"]["errorType"] == "RuntimeError"


def test_the_stack_is_made_from_the_resources_description(stack: Stack) -> None:
    sqs = stack.clients.sqs
    attributes = sqs.get_queue_attributes(QueueUrl=stack.aws.relay_queue.url, AttributeNames=["All"])[
        "Attributes"
    ]
    queue = RESOURCES_FOR_TESTS.relay.queue
    assert attributes["VisibilityTimeout"] == str(queue.visibility_timeout_seconds)
    assert attributes["MessageRetentionPeriod"] == str(queue.retention_seconds)
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": stack.aws.relay_queue.dlq_arn,
        "maxReceiveCount": queue.max_receive_count,
    }
    table = stack.clients.dynamodb.describe_table(TableName=RESOURCES.idempotency.name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    lifecycle = stack.clients.s3.get_bucket_lifecycle_configuration(Bucket=RESOURCES.relay.incoming.name)
    assert {(r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in lifecycle["Rules"]} == {
        ("incoming/", 30),
        ("quarantine/", 90),
    }
    subscriptions = stack.clients.sns.list_subscriptions_by_topic(TopicArn=stack.aws.tracking_topic_arn)
    assert [s["Endpoint"] for s in subscriptions["Subscriptions"]] == [stack.aws.tracking_queue.arn]
    assert stack.wired == {
        "sesflow-relay": True,
        "sesflow-notices-inbound": True,
        "sesflow-notices-outbound": True,
        "sesflow-notices-tracking": True,
    }


def test_outbox_relays_to_a_real_smtp_server(stack: Stack, smtp_peer: Any, tmp_path: Path) -> None:
    from sesflow.local.outbox import Outbox
    from sesflow.local.ses_wire import AcceptedMail

    outbox = Outbox(tmp_path / "outbox", stack.clients.sns, {}, relay_to=(smtp_peer.host, smtp_peer.port))
    outbox.start()
    mail = AcceptedMail(
        "m-1", "relay@ingest.example.com", ("a@example.org",), b"Subject: hi\r\n\r\nbody\r\n", None
    )
    outbox.deliver(mail)
    outbox.stop()
    [received] = smtp_peer.handler.received
    assert received.rcpt_tos == ["a@example.org"] and received.message["Subject"] == "hi"
    assert [m["X-SES-Message-ID"] for m in read_maildir(tmp_path / "outbox")] == ["m-1"]


def test_the_outbound_schedule_fires_on_its_interval(stack: Stack, trackers: dict[str, Recorder]) -> None:
    def scheduled() -> list[dict[str, Any]] | None:
        found = [e for e in list(trackers["outbound"].events) if e.get("detail-type") == "Scheduled Event"]
        return found if len(found) >= 2 else None

    events = wait_for(scheduled, timeout=10) or []
    assert len(events) >= 2
    assert events[0]["source"] == "aws.events" and events[0]["resources"][0].endswith(
        "rule/sesflow-outbound-poll"
    )


def test_the_webhook_route_hands_the_outbound_handler_an_http_api_event(
    stack: Stack, trackers: dict[str, Recorder]
) -> None:
    import urllib.request

    request = urllib.request.Request(
        stack.webhook_url,
        data=b'{"event": "updated", "data": {"id": 5}}',
        method="POST",
        headers={"Content-Type": "application/json", "X-Hook-Signature": "abc"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    [event] = [e for e in list(trackers["outbound"].events) if e.get("version") == "2.0"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["rawPath"] == "/webhook/outbound"
    assert event["headers"]["x-hook-signature"] == "abc"
    assert json.loads(event["body"]) == {"event": "updated", "data": {"id": 5}}
