"""The relay pipeline end to end on real local servers: S3 in SeaweedFS, SES/SNS/DynamoDB in moto's server."""

from __future__ import annotations

import email
import json
import urllib.request
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.config import Config

from sesflow import faults
from sesflow.aws.clients import AwsClients
from sesflow.aws.ses import UNCERTAIN_CODE, SesSender, UncertainSendError
from sesflow.relay.distribute import Refused, Relayed, Skipped, process_batch, process_message

from ..conftest import DEVICE_MAIL
from ..harness.aws_faults import fail_sends
from .builders import device_mail
from .conftest import RelayWorld

pytestmark = pytest.mark.integration


def sent_message(world: RelayWorld, index: int = -1) -> EmailMessage:
    parsed = email.message_from_string(world.sent()[index].raw_data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_seed_example_is_relayed_end_to_end(world: RelayWorld) -> None:
    key = world.put_mail(DEVICE_MAIL.read_bytes(), "seed-example-0001")
    [outcome] = process_message(world.s3_event(key), world.deps)

    assert isinstance(outcome, Relayed)
    assert outcome.recipients == (
        "ANYUSER1@domain-a.example",
        "ANYUSER2@domain-b.example",
        "ANYUSERX@domain-y.example",
    )
    [send] = world.sent()
    assert sorted(send.destinations) == sorted(outcome.recipients)
    stored = world.s3.s3.get_object(Bucket=world.attachments, Key="seed-example-0001/1-demo64.txt")
    assert stored["Body"].read() == b"content\n"
    assert stored["Metadata"]["source-key"] == key

    message = sent_message(world)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Email_Rxers_Code" not in text and "Email_Rxers_Code" not in html
    assert "Line1:This is a Test email" in text and "Line3:Last line." in text
    assert message["From"] == "relay@ingest.example.com"
    assert message["Reply-To"] == "sensor-gw@iot.example.com"
    assert message["Subject"] == "Demo from openssl"
    [link] = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("- demo64.txt")]
    with urllib.request.urlopen(link, timeout=10) as response:
        assert response.read() == b"content\n"
    assert not list(message.iter_attachments())
    assert world.fallback_notices() == []


def test_received_and_dkim_headers_are_not_carried_over(world: RelayWorld) -> None:
    raw = (
        b"Received: from evil\r\nDKIM-Signature: v=1; a=rsa\r\nReturn-Path: <x@y.example>\r\n"
        + device_mail("ops@plant.example.com", attachment=False)
    )
    process_message(world.s3_event(world.put_mail(raw)), world.deps)
    message = sent_message(world)
    assert (
        message["Received"] is None and message["DKIM-Signature"] is None and message["Return-Path"] is None
    )


def test_header_injection_in_subject_is_neutralised(world: RelayWorld) -> None:
    raw = device_mail("ops@plant.example.com", attachment=False).replace(
        b"Subject: Readings", b"Subject: =?utf-8?q?Readings=0D=0ABcc=3A_victim=40evil.example?="
    )
    process_message(world.s3_event(world.put_mail(raw)), world.deps)
    [send] = world.sent()
    assert send.destinations == ["ops@plant.example.com"]
    message = sent_message(world)
    assert message["Bcc"] is None
    assert message["Subject"] == "Readings Bcc: victim@evil.example"


def test_120_recipients_go_in_three_sends(world: RelayWorld) -> None:
    recipients = ", ".join(f"user{n}@plant.example.com" for n in range(120))
    [outcome] = process_message(world.s3_event(world.put_mail(device_mail(recipients))), world.deps)
    assert isinstance(outcome, Relayed)
    sends = world.sent()
    assert [len(send.destinations) for send in sends] == [50, 50, 20]
    everyone = [address for send in sends for address in send.destinations]
    assert sorted(everyone) == sorted(f"user{n}@plant.example.com" for n in range(120))


def test_redelivered_message_is_not_sent_twice(world: RelayWorld) -> None:
    recipients = ", ".join(f"user{n}@plant.example.com" for n in range(60))
    body = world.s3_event(world.put_mail(device_mail(recipients)))
    first = process_message(body, world.deps)
    second = process_message(body, world.deps)
    assert len(world.sent()) == 2
    assert isinstance(first[0], Relayed) and isinstance(second[0], Relayed)
    assert [c.message_id for c in first[0].chunks] == [c.message_id for c in second[0].chunks]


class CrashAfter:
    """Lets `allowed` sends through, then fails every later one as a killed worker would (mid-message)."""

    def __init__(self, world: RelayWorld, allowed: int) -> None:
        self.calls = 0
        self.allowed = allowed
        world.aws.sesv2.meta.events.register("before-call.sesv2.SendEmail", self)

    def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.calls > self.allowed:
            raise RuntimeError("worker killed")


def test_crash_after_chunk_one_of_three_sends_each_chunk_once(
    world: RelayWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipients = ", ".join(f"user{n}@plant.example.com" for n in range(120))
    body = world.s3_event(world.put_mail(device_mail(recipients)))
    monkeypatch.setenv(faults.KILL_AT, "relay.chunk_recorded")  # the worker dies once chunk 1 is recorded
    faults.reset()
    with pytest.raises(faults.Killed):
        process_message(body, world.deps)
    assert len(world.sent()) == 1
    monkeypatch.delenv(faults.KILL_AT)
    faults.reset()
    [outcome] = process_message(body, world.deps)
    assert isinstance(outcome, Relayed)
    sends = world.sent()
    assert [len(send.destinations) for send in sends] == [50, 50, 20]
    assert len({address for send in sends for address in send.destinations}) == 120
    assert world.fallback_notices() == []


def test_an_error_inside_the_ses_call_leaves_the_chunk_unsent_again_and_announced(world: RelayWorld) -> None:
    """An error that is not an answer from SES (here raised as the request is built) cannot tell whether
    SES took the chunk: the retry announces it on the fallback topic rather than risk a second copy."""
    recipients = ", ".join(f"user{n}@plant.example.com" for n in range(120))
    body = world.s3_event(world.put_mail(device_mail(recipients)))
    crash = CrashAfter(world, allowed=1)
    with pytest.raises(RuntimeError, match="worker killed"):
        process_message(body, world.deps)
    crash.allowed = 10**6
    [outcome] = process_message(body, world.deps)
    assert isinstance(outcome, Relayed)
    assert [len(send.destinations) for send in world.sent()] == [50, 20]
    assert [chunk.number for chunk in outcome.chunks if chunk.uncertain] == [2]
    [notice] = world.fallback_notices()
    assert notice["reason"] == "ses_answer_lost" and notice["addresses_total"] == 50


def test_each_chunk_with_a_lost_answer_is_announced_with_its_own_recipients(
    world: RelayWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipients = ", ".join(f"user{n}@plant.example.com" for n in range(120))
    body = world.s3_event(world.put_mail(device_mail(recipients)))
    real_send = world.deps.sender.send_raw
    calls = [0]

    def first_two_answers_lost(raw: bytes, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= 2:
            raise UncertainSendError("SES answer lost: Connection was closed", code=UNCERTAIN_CODE)
        return real_send(raw, **kwargs)

    monkeypatch.setattr(world.deps.sender, "send_raw", first_two_answers_lost)
    [outcome] = process_message(body, world.deps)
    [outcome_again] = process_message(body, world.deps)  # a redelivery announces nothing more
    assert isinstance(outcome, Relayed) and outcome_again == outcome
    assert [len(send.destinations) for send in world.sent()] == [20]
    notices = sorted(world.fallback_notices(), key=lambda notice: int(notice["chunk"]))
    assert [(notice["reason"], notice["chunk"]) for notice in notices] == [
        ("ses_answer_lost", 1),
        ("ses_answer_lost", 2),
    ]
    assert notices[0]["addresses_total"] == notices[1]["addresses_total"] == 50
    assert notices[0]["addresses"][0] == "user0@plant.example.com"
    assert notices[1]["addresses"][0] == "user50@plant.example.com"


def test_throttled_send_is_retried_by_the_client_and_sent_once(world: RelayWorld) -> None:
    throttled = fail_sends(world.deps.sender.sesv2, "TooManyRequestsException", times=1)
    result = process_batch(
        world.sqs_event(world.s3_event(world.put_mail(device_mail("a@plant.example.com")))), None, world.deps
    )
    assert result["batchItemFailures"] == []
    assert len(throttled) == 1 and len(world.sent()) == 1


def test_throttled_send_is_retried_by_sqs_and_sent_once(world: RelayWorld, moto_server: Any) -> None:
    no_retries = AwsClients(
        endpoint_url=moto_server.endpoint_url, config=Config(retries={"total_max_attempts": 1})
    )
    world.deps.sender = SesSender(no_retries.sesv2, rate_source=lambda _: 1000.0, attempts=1)
    throttled = fail_sends(no_retries.sesv2, "TooManyRequestsException", times=1)
    event = world.sqs_event(world.s3_event(world.put_mail(device_mail("a@plant.example.com"))))
    # A batch whose every message failed fails the invocation: SQS then retries the batch.
    with pytest.raises(BatchProcessingError, match="TooManyRequestsException"):
        process_batch(event, None, world.deps)
    assert world.sent() == []
    assert process_batch(event, None, world.deps)["batchItemFailures"] == []
    assert len(throttled) == 1 and len(world.sent()) == 1


def test_permanent_ses_rejection_goes_to_the_fallback_topic(world: RelayWorld) -> None:
    world.with_settings(sender_email="unverified@ingest.example.com")
    key = world.put_mail(device_mail("ops@plant.example.com"))
    [outcome] = process_message(world.s3_event(key), world.deps)
    assert isinstance(outcome, Refused) and outcome.reason == "ses_rejected"
    [notice] = world.fallback_notices()
    assert notice["reason"] == "ses_rejected"
    assert "MessageRejected" in notice["detail"]
    assert notice["location"] == f"s3://{world.incoming}/{key}"
    assert "Hourly readings" not in str(notice)


def test_virus_verdict_quarantines_and_reports(world: RelayWorld) -> None:
    raw = b"X-SES-Virus-Verdict: FAIL\r\nX-SES-Spam-Verdict: PASS\r\n" + device_mail("ops@plant.example.com")
    key = world.put_mail(raw, "virus-0001")
    [outcome] = process_message(world.s3_event(key), world.deps)
    assert isinstance(outcome, Refused) and outcome.reason == "virus"
    assert world.sent() == []
    keys = [o["Key"] for o in world.s3.s3.list_objects_v2(Bucket=world.incoming).get("Contents", [])]
    assert keys == ["quarantine/virus-0001"]
    [notice] = world.fallback_notices()
    assert notice["location"] == f"s3://{world.incoming}/quarantine/virus-0001"
    # A redelivery after the move neither fails nor announces twice.
    [again] = process_message(_event_for(world, key), world.deps)
    assert isinstance(again, Refused) and again.reason == "virus"
    assert world.fallback_notices() == []


def _event_for(world: RelayWorld, key: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": world.incoming},
                        "object": {"key": key, "size": 1, "eTag": "x"},
                    },
                }
            ]
        }
    )


def test_forged_verdict_below_ses_header_is_ignored(world: RelayWorld) -> None:
    raw = b"X-SES-Virus-Verdict: PASS\r\n" + device_mail(
        "ops@plant.example.com",
        extra_headers="X-SES-Virus-Verdict: FAIL",
        body_extra="X-SES-Virus-Verdict: FAIL",
    )
    [outcome] = process_message(world.s3_event(world.put_mail(raw)), world.deps)
    assert isinstance(outcome, Relayed)


def test_spam_is_reported_not_relayed_unless_configured(world: RelayWorld) -> None:
    raw = b"X-SES-Spam-Verdict: FAIL\r\n" + device_mail("ops@plant.example.com")
    [outcome] = process_message(world.s3_event(world.put_mail(raw)), world.deps)
    assert isinstance(outcome, Refused) and outcome.reason == "spam"
    world.with_settings(relay_spam=True)
    [outcome] = process_message(world.s3_event(world.put_mail(raw)), world.deps)
    assert isinstance(outcome, Relayed)


@pytest.mark.parametrize(
    ("changes", "recipients", "reason"),
    [
        ({"allowed_senders": ("@other.example",)}, "ops@plant.example.com", "sender_not_allowed"),
        (
            {"allowed_recipient_domains": ("corp.example",)},
            "ops@plant.example.com",
            "recipient_domain_not_allowed",
        ),
        ({}, "not-an-address, also bad", "none_valid"),
    ],
)
def test_refused_mail_is_reported_and_kept(
    world: RelayWorld, changes: dict[str, Any], recipients: str, reason: str
) -> None:
    world.with_settings(**changes)
    key = world.put_mail(device_mail(recipients))
    [outcome] = process_message(world.s3_event(key), world.deps)
    assert isinstance(outcome, Refused)
    assert outcome.reason == reason
    assert world.sent() == []
    [notice] = world.fallback_notices()
    assert notice["reason"] == reason and notice["key"] == key
    assert world.s3.s3.head_object(Bucket=world.incoming, Key=key)["ContentLength"] > 0


def test_recipients_outside_allowed_domains_are_left_out_and_reported(world: RelayWorld) -> None:
    world.with_settings(allowed_recipient_domains=("plant.example.com",))
    [outcome] = process_message(
        world.s3_event(world.put_mail(device_mail("ops@plant.example.com, boss@evil.example"))), world.deps
    )
    assert isinstance(outcome, Relayed)
    assert [send.destinations for send in world.sent()] == [["ops@plant.example.com"]]
    [notice] = world.fallback_notices()
    assert notice["reason"] == "some_recipients_not_relayed"
    assert notice["addresses"] == ["boss@evil.example"]


def test_test_event_and_setup_notification_are_skipped(world: RelayWorld) -> None:
    test_event = '{"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "x"}'
    assert isinstance(process_message(test_event, world.deps)[0], Skipped)
    key = world.put_mail(b"setup", "AMAZON_SES_SETUP_NOTIFICATION")
    assert isinstance(process_message(world.s3_event(key), world.deps)[0], Skipped)
    assert world.sent() == [] and world.fallback_notices() == []


def test_batch_of_ten_reports_only_the_failing_message(world: RelayWorld) -> None:
    bodies = [world.s3_event(world.put_mail(device_mail(f"user{n}@plant.example.com"))) for n in range(10)]
    failing = bodies[6]

    def fail_one(params: dict[str, Any], **_: Any) -> None:
        if b"user6%40plant" in params["body"] or b"user6@plant" in params["body"]:
            raise ConnectionError("SES endpoint reset the connection")

    world.aws.sesv2.meta.events.register("before-call.sesv2.SendEmail", fail_one)
    result = process_batch(world.sqs_event(*bodies), None, world.deps)
    assert result["batchItemFailures"] == [{"itemIdentifier": "m-6"}]
    assert len(world.sent()) == 9
    assert failing in world.sqs_event(*bodies)["Records"][6]["body"]


def test_internationalised_domains_are_sent_in_punycode_and_utf8_local_parts_reported(
    world: RelayWorld,
) -> None:
    raw = device_mail("ops@bücher.example, jürgen@plant.example.com, a@plant.example.com", attachment=False)
    raw = raw.replace(b"Content-Type: text/plain", b"Content-Type: text/plain; charset=utf-8")
    [outcome] = process_message(world.s3_event(world.put_mail(raw)), world.deps)
    assert isinstance(outcome, Relayed)
    assert outcome.recipients == ("ops@xn--bcher-kva.example", "a@plant.example.com"), outcome
    assert [send.destinations for send in world.sent()] == [
        ["ops@xn--bcher-kva.example", "a@plant.example.com"]
    ]
    [notice] = world.fallback_notices()
    assert notice["reason"] == "some_recipients_not_relayed"
    assert notice["addresses"] == ["jürgen@plant.example.com"]
