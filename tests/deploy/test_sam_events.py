"""The sample events (deploy/sam/events, deploy/cdk/events) fed to the code that reads them: each is
current with its generator, the webhook's signature is valid for the stated test secret, the handlers' own
readers take every event, and each event, fed to its handler against moto's server and the real NetBox, gives
the result the docs state."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import SNSEvent

from sesflow.netbox.records import PreparedNotification
from sesflow.notices import tracking
from sesflow.notices.inbound.receipt import check_gate, read_receipts
from sesflow.notices.outbound import lambda_handler as outbound_handler
from sesflow.notices.outbound.events import ScheduledPoll, WebhookRequest, read_event
from sesflow.notices.outbound.webhook import WebhookAnswer, webhook_resolver
from sesflow.notices.rounds import round_of
from sesflow.notices.tracking import wiring as tracking_wiring
from sesflow.notices.tracking.events import EventType, read_message

from ..conftest import DEVICE_MAIL
from ..notices.conftest import BUCKET, PREFIX, corpus_path

#: The module, under a name the `outbound` fixture does not shadow.
outbound_module = outbound_handler
REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "deploy" / "sam" / "events"
RELAY_EVENT = REPO / "deploy" / "cdk" / "events" / "relay_sqs_s3.json"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sesflow_sam_events", EVENTS / "make_events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_events = _generator()


def event(name: str) -> dict[str, Any]:
    return dict(json.loads((EVENTS / name).read_text(encoding="utf-8")))


class _Context:
    function_name = "sesflow-notices"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sesflow-notices"
    aws_request_id = "req-1"


# --- files and signature -----------------------------------------------------------------------------------


@pytest.mark.unit
def test_event_files_are_what_the_generator_writes() -> None:
    expected = make_events.all_events()
    on_disk = {path.name for path in EVENTS.glob("*.json")}
    assert on_disk == set(expected), "run: python deploy/sam/events/make_events.py"
    for name, content in expected.items():
        assert (EVENTS / name).read_text(encoding="utf-8") == make_events.render(content), name


#: NetBox version → its sample webhook event (bodies differ: 4.7 dropped `username` and `request_id`).
WEBHOOKS = dict(make_events.WEBHOOK_FILES)


@pytest.mark.unit
@pytest.mark.parametrize("version", sorted(WEBHOOKS))
def test_webhook_signature_is_valid_for_the_stated_secret(version: str) -> None:
    webhook = event(WEBHOOKS[version])
    body = webhook["body"].encode()
    assert not webhook["isBase64Encoded"]
    expected = hmac.new(b"webhook-test-secret", body, hashlib.sha512).hexdigest()
    assert webhook["headers"]["x-hook-signature"] == expected
    assert make_events.WEBHOOK_SECRET == "webhook-test-secret"
    assert webhook["headers"]["content-length"] == str(len(body))
    payload = json.loads(body)
    # NetBox >= 4.5 sends `object_type` (no `model`) and a plain-string status.
    assert payload["object_type"] == "notices.preparednotification" and "model" not in payload
    assert payload["data"]["status"] == "ready"
    # The keys that tell the versions apart: `request` came with 4.6, `username`/`request_id` went with 4.7.
    assert ("request" in payload) == (version != "4.5")
    assert ("username" in payload) == ("request_id" in payload) == (version != "4.7")


@pytest.mark.unit
@pytest.mark.parametrize("name", sorted(p.name for p in EVENTS.glob("tracking_sqs_*.json")))
def test_sqs_records_carry_the_md5_of_their_body(name: str) -> None:
    (record,) = event(name)["Records"]
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()


# --- outbound ----------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_outbound_handler_tells_its_two_triggers_apart() -> None:
    schedule, webhook = event("outbound_schedule.json"), event("outbound_webhook.json")
    assert isinstance(read_event(schedule), ScheduledPoll)
    assert isinstance(read_event(webhook), WebhookRequest)


@pytest.mark.unit
@pytest.mark.parametrize("version", sorted(WEBHOOKS))
@pytest.mark.parametrize(("secret", "status"), [("webhook-test-secret", 202), ("another-secret", 403)])
def test_the_webhook_event_is_verified_and_names_the_notification(
    secret: str, status: int, version: str
) -> None:
    asked: list[int] = []

    def send(notification_id: int) -> WebhookAnswer:
        asked.append(notification_id)
        return WebhookAnswer(notification_id, "sent")

    answer = webhook_resolver(secret, send).resolve(event(WEBHOOKS[version]), _Context())  # type: ignore[arg-type]
    assert answer["statusCode"] == status
    assert asked == ([make_events.NOTIFICATION_ID] if status == 202 else [])


# --- tracking ----------------------------------------------------------------------------------------------

TRACKED = {
    "delivery": EventType.DELIVERY,
    "bounce": EventType.BOUNCE,
    "complaint": EventType.COMPLAINT,
    "open": EventType.OPEN,
    "deliverydelay": EventType.DELIVERY_DELAY,
}


@pytest.mark.unit
@pytest.mark.parametrize("transport", ["sns", "sqs"])
@pytest.mark.parametrize("kind", sorted(TRACKED))
def test_tracking_events_read_as_the_ses_event_they_carry(kind: str, transport: str) -> None:
    sample = event(f"tracking_{transport}_{kind}.json")
    (record,) = sample["Records"]
    assert isinstance(tracking_wiring.trigger_of(sample), SNSEvent) == (transport == "sns")
    message = record["Sns"]["Message"] if transport == "sns" else record["body"]
    ses = read_message(message)
    assert ses.type is TRACKED[kind]
    assert ses.message_id == make_events.SES_MESSAGE_ID
    assert ses.notification_id == make_events.NOTIFICATION_ID
    assert ses.destination == (make_events.TO,)
    detail = json.loads(json.loads(record["body"])["Message"] if transport == "sqs" else message)
    own_time = next(value["timestamp"] for key, value in detail.items() if key not in {"eventType", "mail"})
    assert ses.observations
    for observation in ses.observations:
        assert observation.timestamp == datetime.fromisoformat(own_time.replace("Z", "+00:00"))
        assert observation.recipient in {"", make_events.TO}
    if kind == "bounce":
        assert ses.bounce_type == "Permanent" and ses.is_failure


# --- inbound -----------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_receipt_event_reads_and_passes_the_gate() -> None:
    (receipt,) = read_receipts(event("inbound_ses_receipt.json"))
    assert receipt.message_id == "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
    assert receipt.header_senders == ("mr@zayo.com",)
    assert set(receipt.verdicts.values()) == {"PASS"}
    gate = check_gate(receipt, require_auth=True, trusted_forwarders=())
    assert gate.refusal is None


@pytest.mark.netbox
@pytest.mark.integration
def test_the_inbound_handler_applies_the_sample_event(
    make_inbox: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sample receipt, with the Zayo notice it names stored where the S3 action puts it."""
    from sesflow.notices.inbound import lambda_handler as inbound

    inbox = make_inbox()
    sample = event("inbound_ses_receipt.json")
    message_id = sample["Records"][0]["ses"]["mail"]["messageId"]
    inbox.aws.s3.put_object(
        Bucket=BUCKET, Key=PREFIX + message_id, Body=corpus_path("zayo", "zayo4.eml").read_bytes()
    )
    monkeypatch.setattr(inbound, "default_deps", lambda: inbox.deps)
    answer = inbound.handler(sample, _Context())  # type: ignore[arg-type]
    assert answer == {"results": [{"message_id": message_id, "result": "applied"}]}


# --- relay -------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_relay_sample_event_relays_the_mail_it_names(world: Any) -> None:
    from sesflow.relay.distribute import process_batch

    sample = json.loads(RELAY_EVENT.read_text(encoding="utf-8"))
    (record,) = sample["Records"]
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
    notification = json.loads(record["body"])
    s3 = notification["Records"][0]["s3"]
    # The sample names a deployed bucket; here the world's bucket stands in for it.
    s3["bucket"]["name"] = world.incoming
    record["body"] = json.dumps(notification)
    world.s3.s3.put_object(Bucket=world.incoming, Key=s3["object"]["key"], Body=DEVICE_MAIL.read_bytes())

    assert process_batch(sample, None, world.deps) == {"batchItemFailures": []}
    (sent,) = world.sent()
    assert sorted(sent.destinations) == [
        "ANYUSER1@domain-a.example",
        "ANYUSER2@domain-b.example",
        "ANYUSERX@domain-y.example",
    ]


# --- outbound and tracking, end to end ---------------------------------------------------------------------


def _resigned_webhook(notification_id: int, name: str = "outbound_webhook.json") -> dict[str, Any]:
    """The sample webhook naming a notification of this NetBox, signed again with the stated test secret."""
    sample = event(name)
    body = json.loads(sample["body"])
    body["data"]["id"] = notification_id
    raw = json.dumps(body, separators=(",", ":")).encode()
    sample["body"] = raw.decode()
    sample["headers"]["content-length"] = str(len(raw))
    sample["headers"]["x-hook-signature"] = make_events.signature(raw)
    return sample


@pytest.mark.netbox
@pytest.mark.integration
def test_the_schedule_event_sends_the_ready_notification(
    outbound: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ..notices.outbound.conftest import sent_mails

    [notification_id] = outbound.ready()
    monkeypatch.setattr(outbound_module, "default_deps", outbound.deps)
    answer = outbound_module.handler(event("outbound_schedule.json"), _Context())  # type: ignore[arg-type]
    assert answer == {"results": [{"notification_id": notification_id, "result": "sent"}]}
    assert outbound.status(notification_id) == "sent" and len(sent_mails()) == 1


@pytest.mark.netbox
@pytest.mark.integration
@pytest.mark.parametrize("version", sorted(WEBHOOKS))
def test_the_webhook_event_sends_the_notification_it_names(
    outbound: Any, monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    from ..notices.outbound.conftest import sent_mails

    [notification_id] = outbound.ready()
    monkeypatch.setattr(
        outbound_module, "default_deps", lambda: outbound.deps(WEBHOOK_SECRET=make_events.WEBHOOK_SECRET)
    )
    webhook = _resigned_webhook(notification_id, WEBHOOKS[version])
    answer = outbound_module.handler(webhook, _Context())  # type: ignore[arg-type]
    assert answer["statusCode"] == 202
    assert outbound.status(notification_id) == "sent" and len(sent_mails()) == 1


#: What each sample tracking event does to a `sent` notification with one recipient (docs/tracking.md).
TRACKED_OUTCOME = {
    "delivery": ("delivered", "[SES Delivery]"),
    "bounce": ("failed", "Bounce"),
    "complaint": ("failed", "Complaint"),
    "open": ("sent", "[SES Open]"),
    "deliverydelay": ("sent", "[SES DeliveryDelay]"),
}


def _retargeted_tracking_event(
    name: str, notification: PreparedNotification, recipient: str
) -> dict[str, Any]:
    """The sample SQS event, about a mail of this NetBox's notification (its id, round and recipient)."""
    sample = event(name)
    (record,) = sample["Records"]
    envelope = json.loads(record["body"])
    message = envelope["Message"].replace(make_events.TO, recipient)
    ses_event = json.loads(message)
    ses_event["mail"]["tags"]["notification_id"] = [str(notification.id)]
    ses_event["mail"]["tags"]["outbound_round"] = [round_of(notification)]
    envelope["Message"] = json.dumps(ses_event)
    record["body"] = json.dumps(envelope)
    record["md5OfBody"] = hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
    return sample


@pytest.mark.netbox
@pytest.mark.integration
@pytest.mark.parametrize("kind", sorted(TRACKED_OUTCOME))
def test_each_tracking_event_gives_its_documented_result(
    kind: str, prepared: Any, aws: Any, nb_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ..notices.tracking.conftest import RECIPIENTS, create_table, make_deps

    create_table(aws)
    recipient = RECIPIENTS[0]
    notification = prepared.sent([recipient])
    monkeypatch.setattr(tracking_wiring, "default_deps", lambda: make_deps(aws, nb_client, []))
    sample = _retargeted_tracking_event(f"tracking_sqs_{kind}.json", notification, recipient)
    assert tracking.handler(sample, _Context()) == {"batchItemFailures": []}  # type: ignore[arg-type]
    status, journal_mark = TRACKED_OUTCOME[kind]
    assert prepared.api.get_prepared_notification(notification.id).status == status
    entries = [entry.comments for entry in prepared.api.journal_entries(notification.id)]
    assert any(journal_mark in entry for entry in entries), entries
