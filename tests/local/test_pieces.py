"""The local stack's pieces on their own: reading SES sends off the wire, the mailbox simulator, receipt
rules, the resources description, and handler wiring by dotted path."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest

from sesflow.local.outbox import delivery_outcomes, events_for, parse_smtp_target, ses_event
from sesflow.local.receipt_rules import ReceiptRule, Verdicts
from sesflow.local.ses_wire import AcceptedMail, read_send
from sesflow.local.stack import _wiring_modules
from sesflow.local.workers import resolve_handler
from sesflow.resources import RESOURCES, VISIBILITY_FACTOR, Function

pytestmark = pytest.mark.unit

RAW = b"From: notices@example.net\r\nTo: a@example.org\r\nSubject: s\r\n\r\nbody\r\n"
SES_AUTH = "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/ses/aws4_request, SignedHeaders=host"


def test_a_v2_raw_send_is_read_with_its_configuration_set_and_tags() -> None:
    body = json.dumps(
        {
            "FromEmailAddress": "notices@example.net",
            "Destination": {"ToAddresses": ["a@example.org"], "BccAddresses": ["b@example.org"]},
            "Content": {"Raw": {"Data": base64.b64encode(RAW).decode()}},
            "ConfigurationSetName": "sesflow-notices",
            "EmailTags": [{"Name": "notification_id", "Value": "7"}],
        }
    ).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v2/email/outbound-emails",
        "HTTP_AUTHORIZATION": SES_AUTH,
    }
    mail = read_send(environ, body, b'{"MessageId": "m-7"}')
    assert mail is not None
    assert (mail.message_id, mail.source, mail.destinations) == (
        "m-7",
        "notices@example.net",
        ("a@example.org", "b@example.org"),
    )
    assert (mail.raw, mail.configuration_set, mail.tags) == (RAW, "sesflow-notices", {"notification_id": "7"})


def test_a_v1_send_raw_email_is_read_with_its_tags() -> None:
    form = {
        "Action": "SendRawEmail",
        "RawMessage.Data": base64.b64encode(RAW).decode(),
        "Destinations.member.1": "a@example.org",
        "ConfigurationSetName": "sesflow-notices",
        "Tags.member.1.Name": "notification_id",
        "Tags.member.1.Value": "9",
    }
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_AUTHORIZATION": SES_AUTH}
    answer = b"<SendRawEmailResponse><SendRawEmailResult><MessageId>m-9</MessageId></SendRawEmailResult>"
    mail = read_send(environ, urlencode(form).encode(), answer)
    assert mail is not None
    assert (mail.message_id, mail.destinations, mail.tags) == (
        "m-9",
        ("a@example.org",),
        {"notification_id": "9"},
    )
    assert mail.source == "notices@example.net"  # from the From header when Source is not given


def test_other_requests_are_not_sends() -> None:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/v2/email/identities", "HTTP_AUTHORIZATION": SES_AUTH}
    assert read_send(environ, b'{"EmailIdentity": "x@example.org"}', b"{}") is None


@pytest.mark.parametrize(
    ("address", "kinds"),
    [
        ("noc@customer.example", ["Delivery"]),
        ("success@simulator.amazonses.com", ["Delivery"]),
        ("bounce+label@simulator.amazonses.com", ["Bounce"]),
        ("complaint@simulator.amazonses.com", ["Delivery", "Complaint"]),
        ("ooto@simulator.amazonses.com", ["Delivery"]),
        ("suppressionlist@simulator.amazonses.com", ["Bounce"]),
    ],
)
def test_the_mailbox_simulator_decides_each_address(address: str, kinds: list[str]) -> None:
    assert [outcome.kind for outcome in delivery_outcomes(address)] == kinds


def test_events_start_with_send_and_group_recipients_by_result() -> None:
    from datetime import UTC, datetime

    mail = AcceptedMail(
        "m-1",
        "notices@example.net",
        ("a@example.org", "b@example.org", "bounce@simulator.amazonses.com"),
        RAW,
        "sesflow-notices",
        {"notification_id": "3"},
    )
    events = events_for(mail, ses_event, datetime.now(UTC))
    assert [e["eventType"] for e in events] == ["Send", "Delivery", "Bounce"]
    assert events[1]["delivery"]["recipients"] == ["a@example.org", "b@example.org"]
    assert all(e["mail"]["tags"]["notification_id"] == ["3"] for e in events)


def test_receipt_rules_match_addresses_and_domains() -> None:
    rule = ReceiptRule("r", ("relay@ingest.example.com", "notices.example.net"), "bucket", "incoming/")
    assert rule.matches("RELAY@ingest.example.com")
    assert rule.matches("anyone@notices.example.net")
    assert not rule.matches("other@ingest.example.com")


def test_verdicts_are_checked_by_name() -> None:
    assert Verdicts.from_mapping({"spf": "fail"}).spf == "FAIL"
    with pytest.raises(ValueError, match="unknown verdicts"):
        Verdicts.from_mapping({"spff": "FAIL"})


def test_queues_follow_the_six_times_rule_and_tests_can_shorten_them() -> None:
    queue = RESOURCES.relay.queue
    assert queue.visibility_timeout_seconds == VISIBILITY_FACTOR * RESOURCES.relay.function.timeout_seconds
    short = RESOURCES.with_consumer_timeout(2, visibility_factor=1)
    assert short.relay.queue.visibility_timeout_seconds == 2
    assert short.relay.queue.max_receive_count == queue.max_receive_count


def test_handlers_resolve_by_dotted_path_and_a_missing_module_is_not_wired() -> None:
    from sesflow.relay.distribute import handler

    assert resolve_handler(RESOURCES.relay.function.handler) is handler
    assert resolve_handler("sesflow.notices.not_written_yet.handler") is None
    assert resolve_handler("sesflow.relay.distribute.no_such_function") is None


def test_outbox_smtp_target_is_host_and_port() -> None:
    assert parse_smtp_target("127.0.0.1:2525") == ("127.0.0.1", 2525)
    with pytest.raises(ValueError, match="host:port"):
        parse_smtp_target("localhost")


@pytest.mark.parametrize(
    "function",
    [
        RESOURCES.relay.function,
        RESOURCES.notices.inbound,
        RESOURCES.notices.outbound,
        RESOURCES.notices.tracking,
    ],
    ids=lambda function: function.name,
)
def test_the_stack_finds_each_handlers_cached_wiring_to_forget(function: Function) -> None:
    # A handler exported by a package is defined in its wiring module: the wiring cached by an earlier stack
    # (another NetBox, another moto) must be found there, or the new stack's functions talk to the old one.
    assert resolve_handler(function.handler) is not None
    wiring = [
        module.default_deps
        for module in _wiring_modules(function.handler)
        if hasattr(getattr(module, "default_deps", None), "cache_clear")
    ]
    assert wiring, f"no cached default_deps found for {function.handler}"
