"""Reading SES events in both shapes, from every wrapper the triggers use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sesflow.local import ses_events as ses
from sesflow.notices.tracking.events import EventType, UnreadableEvent, read_message, read_ses_event

pytestmark = pytest.mark.unit

SENT = datetime(2026, 11, 23, 12, 0, 0, 123000, tzinfo=UTC)
LATER = SENT + timedelta(seconds=3)
TO = ["noc@example.net", "Field Team <Field@Example.org>"]
MAIL = ses.mail_object("0100abc", TO, sent=SENT, tags={"notification_id": ["42"], "team": ["noc"]})

EVENTS: dict[str, tuple[dict[str, Any], list[str], datetime]] = {
    "send": (ses.send_event(MAIL), [""], SENT),
    "delivery": (ses.delivery_event(MAIL, TO, at=LATER), ["noc@example.net", "field@example.org"], LATER),
    "bounce": (ses.bounce_event(MAIL, [TO[1]], at=LATER), ["field@example.org"], LATER),
    "complaint": (ses.complaint_event(MAIL, [TO[0]], at=LATER), ["noc@example.net"], LATER),
    "reject": (ses.reject_event(MAIL), ["noc@example.net, field@example.org"], SENT),
    "rendering": (ses.rendering_failure_event(MAIL), ["noc@example.net, field@example.org"], SENT),
    "delay": (ses.delivery_delay_event(MAIL, [TO[0]], at=LATER), ["noc@example.net"], LATER),
    "open": (ses.open_event(MAIL, at=LATER), [""], LATER),
    "click": (ses.click_event(MAIL, at=LATER), [""], LATER),
}


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_event_type_reads_the_same_from_every_wrapper(name: str) -> None:
    raw, recipients, when = EVENTS[name]
    bodies = [raw, json.dumps(raw), json.dumps(ses.sns_envelope(raw))]
    read = [read_message(body) for body in bodies]
    assert read[0] == read[1] == read[2]
    event = read[0]
    assert event.type == EventType(raw["eventType"])
    assert event.message_id == "0100abc"
    assert event.notification_id == 42
    assert event.sent_at == SENT
    assert [o.recipient for o in event.observations] == recipients
    assert all(o.timestamp == when for o in event.observations)
    assert not event.legacy


@pytest.mark.parametrize("name", ["delivery", "bounce", "complaint"])
def test_the_older_notification_shape_reads_as_the_same_event(name: str) -> None:
    raw, _, _ = EVENTS[name]
    new = read_ses_event(raw)
    old = read_ses_event(ses.legacy(raw, keep_tags=True))
    assert old.legacy
    assert (old.type, old.observations, old.sent_at, old.notification_id) == (
        new.type,
        new.observations,
        new.sent_at,
        new.notification_id,
    )
    # Identity does not depend on the shape: the same outcome via both feeds is one event.
    assert [old.identity(o) for o in old.observations] == [new.identity(o) for o in new.observations]
    assert read_ses_event(ses.legacy(raw)).notification_id is None  # SES publishes no tags there


def test_bounce_diagnostics_and_types_are_kept() -> None:
    event = read_ses_event(ses.bounce_event(MAIL, [TO[0]], at=LATER, bounce_type="Transient"))
    assert event.bounce_type == "Transient"
    assert not event.is_failure
    assert event.observations[0].detail == "smtp; 550 5.1.1 user unknown"
    assert read_ses_event(ses.bounce_event(MAIL, [TO[0]], at=LATER)).is_failure


def test_opens_of_the_same_recipient_share_an_identity_but_deliveries_do_not() -> None:
    one = ses.mail_object("m1", ["a@example.net"], sent=SENT, tags={})
    first = read_ses_event(ses.open_event(one, at=LATER))
    second = read_ses_event(ses.open_event(one, at=LATER + timedelta(minutes=5)))
    assert first.observations[0].recipient == "a@example.net"
    assert first.identity(first.observations[0]) == second.identity(second.observations[0])
    d1 = read_ses_event(ses.delivery_event(one, ["a@example.net"], at=LATER))
    d2 = read_ses_event(ses.delivery_event(one, ["a@example.net"], at=LATER + timedelta(seconds=1)))
    assert d1.identity(d1.observations[0]) != d2.identity(d2.observations[0])


def test_other_senders_events_have_no_notification() -> None:
    other = ses.mail_object("m2", ["x@example.com"], sent=SENT, tags={"campaign": ["spring"]})
    assert read_ses_event(ses.delivery_event(other, ["x@example.com"], at=LATER)).notification_id is None


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"eventType": "Teleport", "mail": MAIL}),
        json.dumps({"eventType": "Delivery"}),
        json.dumps({"eventType": "Delivery", "mail": {**MAIL, "timestamp": "yesterday"}, "delivery": {}}),
    ],
)
def test_unreadable_messages_raise(body: str) -> None:
    with pytest.raises(UnreadableEvent):
        read_message(body)


def test_sns_and_sqs_lambda_events_carry_the_envelope() -> None:
    raw = EVENTS["delivery"][0]
    sns = ses.sns_event([raw])
    assert sns["Records"][0]["EventSource"] == "aws:sns"
    assert read_message(sns["Records"][0]["Sns"]["Message"]) == read_ses_event(raw)
    sqs = ses.sqs_event([json.dumps(ses.sns_envelope(raw))])
    assert read_message(sqs["Records"][0]["body"]) == read_ses_event(raw)
