"""The sending port: what `SesSender` does on moto's SES, and what `FakeSesSender` must do the same way.
Pinned: what SES takes, SES's limits checked before any call, an unverified sender refused for good, and
throttling retried within the sender's attempts, then given up as transient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from sesflow.aws.ses import PermanentSendError, SesSender, TransientSendError

from ..fakes.ses import FakeSesSender
from ..harness.aws_faults import fail_sends

SENDER = "notices@sesflow.example"
RAW = b"From: notices@sesflow.example\r\nSubject: Planned work\r\n\r\nWindow 02:00-04:00 UTC.\r\n"
ATTEMPTS = 3


@dataclass(frozen=True)
class Ses:
    sender: SesSender | FakeSesSender
    throttle: Callable[[int], None]  # the next `times` calls to SES answer Throttling
    taken: Callable[[], list[tuple[bytes, list[str]]]]  # what SES took: raw message, envelope


def _moto_taken() -> list[tuple[bytes, list[str]]]:
    sent: list[Any] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    return [(message.raw_data.encode(), list(message.destinations)) for message in sent]


@pytest.fixture(
    params=[pytest.param("real", marks=pytest.mark.integration), pytest.param("fake", marks=pytest.mark.unit)]
)
def ses(request: pytest.FixtureRequest) -> Ses:
    if request.param == "real":
        aws = request.getfixturevalue("aws")
        aws.sesv2.create_email_identity(EmailIdentity=SENDER)
        sender = SesSender(aws.sesv2, rate_source=lambda _: 1000.0, attempts=ATTEMPTS, sleep=lambda _: None)

        def throttle(times: int) -> None:
            fail_sends(aws.sesv2, "Throttling", times=times)

        return Ses(sender, throttle, _moto_taken)
    fake = FakeSesSender(verified={SENDER}, attempts=ATTEMPTS)
    return Ses(
        fake,
        lambda times: fake.fail_transiently("Throttling", times=times),
        lambda: [(message.raw, list(message.recipients)) for message in fake.sent],
    )


def test_a_sent_message_is_taken_as_it_is_with_its_envelope(ses: Ses) -> None:
    recipients = ["noc@customer.example", "ops@customer.example"]
    sent = ses.sender.send_raw(
        RAW,
        from_address=SENDER,
        recipients=recipients,
        configuration_set=None,
        tags={"notification_id": "42"},
    )
    assert sent.message_id and sent.recipients == tuple(recipients)
    assert ses.taken() == [(RAW, recipients)]


def test_an_unverified_sender_is_refused_for_good(ses: Ses) -> None:
    with pytest.raises(PermanentSendError) as refused:
        ses.sender.send_raw(RAW, from_address="stranger@elsewhere.example", recipients=["a@customer.example"])
    assert refused.value.code == "MessageRejected" and not refused.value.transient
    assert ses.taken() == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"recipients": [f"user{n}@customer.example" for n in range(51)]}, "TooManyRecipients"),
        ({"recipients": []}, "NoRecipients"),
        ({"raw": RAW + b"x" * (40 * 1024 * 1024)}, "MessageTooLarge"),
        ({"tags": {"notification id": "42"}}, "InvalidTag"),
    ],
    ids=["51-recipients", "no-recipients", "over-40-mb", "bad-tag"],
)
def test_ses_limits_are_refused_for_good_before_any_call(ses: Ses, change: dict[str, Any], code: str) -> None:
    arguments: dict[str, Any] = {"raw": RAW, "from_address": SENDER, "recipients": ["a@customer.example"]}
    ses.throttle(1)  # a call to SES would be answered, and the send retried
    with pytest.raises(PermanentSendError) as refused:
        ses.sender.send_raw(**(arguments | change))
    assert refused.value.code == code
    assert ses.taken() == []


def test_fifty_recipients_are_sent(ses: Ses) -> None:
    recipients = [f"user{n}@customer.example" for n in range(50)]
    ses.sender.send_raw(RAW, from_address=SENDER, recipients=recipients)
    assert ses.taken() == [(RAW, recipients)]


def test_throttling_is_retried_within_the_attempts_and_sent_once(ses: Ses) -> None:
    ses.throttle(ATTEMPTS - 1)
    ses.sender.send_raw(RAW, from_address=SENDER, recipients=["a@customer.example"])
    assert ses.taken() == [(RAW, ["a@customer.example"])]


def test_throttling_past_the_attempts_is_transient_and_nothing_is_sent(ses: Ses) -> None:
    ses.throttle(ATTEMPTS)
    with pytest.raises(TransientSendError) as refused:
        ses.sender.send_raw(RAW, from_address=SENDER, recipients=["a@customer.example"])
    assert refused.value.code == "Throttling" and refused.value.transient
    assert ses.taken() == []
