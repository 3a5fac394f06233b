"""Hostile mail through the whole relay, on real local servers (SeaweedFS for S3, moto's server for the rest).

One table: the foundation's malformed mails (tests/mail/test_hostile_mail.py), each given a From and a
recipients line where that makes sense or left as it is, plus mails aimed at the relay itself. Each case
states what must become of it — relayed (with how many sends and stored attachments), quarantined, or sent
to the fallback topic with an exact reason — and the one test checks, for every case: no exception escapes
`process_message`; the outcome is the stated one; a relayed mail was sent exactly as often as stated, to
listed recipients only, without a Bcc header or the recipients line, and its attachments are stored under
`{messageId}/` and nowhere else; a mail not relayed is announced by exactly one notice with its reason, a
notice that holds none of the mail's text and stays under `MAX_NOTICE_BYTES` (every notice of the run is
checked, so none exceeds it).
"""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage

import pytest

from sesflow.relay.distribute import Refused, Relayed, process_message

from ..mail.builders import CASES as FOUNDATION_CASES
from .conftest import RelayWorld
from .hostile import FOUNDATION, RELAY, TABLE, Hostile, assert_no_traversal, check_notice

pytestmark = pytest.mark.integration

# --- what happened ----------------------------------------------------------------------------------------


def attachment_keys(world: RelayWorld) -> list[str]:
    keys: list[str] = []
    for page in world.s3.s3.get_paginator("list_objects_v2").paginate(Bucket=world.attachments):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def incoming_keys(world: RelayWorld) -> list[str]:
    listed = world.s3.s3.list_objects_v2(Bucket=world.incoming).get("Contents", [])
    return [item["Key"] for item in listed]


def sent_message(raw_data: str) -> EmailMessage:
    parsed = email.message_from_string(raw_data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("hostile", [pytest.param(case, id=case.name, marks=case.marks) for case in TABLE])
def test_hostile_mail_is_relayed_quarantined_or_reported(world: RelayWorld, hostile: Hostile) -> None:
    world = world
    raw = hostile.build()
    key = world.put_mail(raw)
    message_id = key.rpartition("/")[2]

    [outcome] = process_message(world.s3_event(key), world.deps)

    notices = world.fallback_notices()
    for notice in notices:
        check_notice(notice, raw)
    sends = world.sent()
    stored = attachment_keys(world)
    if hostile.kind == "relayed":
        assert isinstance(outcome, Relayed), outcome
        assert [notice["reason"] for notice in notices] == ([hostile.notice] if hostile.notice else [])
        assert len(sends) == hostile.sends
        for send in sends:
            assert set(send.destinations) <= hostile.allowed_recipients
            message = sent_message(send.raw_data)
            assert message["Bcc"] is None and message["Cc"] is None
            assert message["To"] == "undisclosed-recipients:;"
            assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
            for body in message.walk():
                if body.get_content_maintype() == "text":
                    assert "Email_Rxers_Code" not in body.get_content()
        assert {address for send in sends for address in send.destinations} == set(outcome.recipients)
        for stored_key in stored:
            assert_no_traversal(stored_key, message_id)
        assert outcome.attachments == len(stored)
        if hostile.attachments is not None:
            assert len(stored) == hostile.attachments
        if hostile.keys is not None:
            assert sorted(stored) == sorted(f"{message_id}/{name}" for name in hostile.keys)
        assert incoming_keys(world) == [key]
        return

    assert isinstance(outcome, Refused), outcome
    assert outcome.reason == hostile.reason, outcome.detail
    assert sends == [] and stored == []
    [notice] = notices
    assert notice["reason"] == hostile.reason and notice["message_id"] == message_id
    kept_at = f"quarantine/{message_id}" if hostile.kind == "quarantined" else key
    assert notice["location"] == f"s3://{world.incoming}/{kept_at}"
    assert incoming_keys(world) == [kept_at]


def test_the_table_is_hostile_enough() -> None:
    assert len(TABLE) >= 40
    assert len({case.name for case in TABLE}) == len(TABLE)
    assert {case.name for case in FOUNDATION_CASES} <= {
        case.name.removeprefix("foundation-").partition("+")[0] for case in FOUNDATION
    }
    assert len(RELAY) >= 10
