"""A dry run is the relay's own steps with read-only stand-ins: it reaches the decision a real run reaches
(relayed or refused, why, and to whom) while storing, signing, sending and publishing nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sesflow.config import Flow, RelaySettings, load_settings
from sesflow.relay.distribute import RELAY, Outcome, Refused, Relayed, process_message
from sesflow.relay.dry_run import run_dry
from sesflow.relay.records import MailLocation

from ..conftest import DEVICE_MAIL
from .conftest import RelayWorld
from .hostile import TABLE

SETTINGS = {
    "IDEMPOTENCY_TABLE": "dry-run",
    "INCOMING_BUCKET": "incoming",
    "ATTACHMENTS_BUCKET": "attachments",
    "SENDER_EMAIL": "relay@ingest.example.com",
    "SNS_TOPIC": "arn:aws:sns:us-east-1:000000000000:fallback",
}


def settings(**extra: str) -> RelaySettings:
    return load_settings(Flow.RELAY, {**SETTINGS, **extra})


def device_mail(recipients: str, *, headers: bytes = b"") -> bytes:
    return (
        headers + b"From: sensor-gw@iot.example.com\r\nSubject: Readings\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nHourly readings.\r\n"
        b"Email_Rxers_Code:[" + recipients.encode() + b"]:Email_Rxers_Code:\r\n"
    )


def at(key: str, raw: bytes) -> MailLocation:
    return MailLocation("incoming", key, len(raw), "")


def decision(outcome: Outcome) -> tuple[str, str, tuple[str, ...]]:
    """Relayed or not, why not, and to whom."""
    if isinstance(outcome, Relayed):
        return "relayed", "", outcome.recipients
    if isinstance(outcome, Refused):
        return "refused", outcome.reason, ()
    return "skipped", outcome.reason, ()


@pytest.mark.unit
def test_the_relay_steps_are_named_as_their_kill_points() -> None:
    assert RELAY.names == (
        "load",
        "gate",
        "recipients",
        "store_attachments",
        "sign_links",
        "compose",
        "send",
    )


@pytest.mark.unit
def test_a_dry_run_of_the_device_sample_relays_it_and_notes_where_its_attachment_would_go() -> None:
    raw = DEVICE_MAIL.read_bytes()
    run = run_dry(raw, at("iot-seed-example", raw), settings())
    assert isinstance(run.outcome, Relayed)
    assert run.outcome.recipients == (
        "ANYUSER1@domain-a.example",
        "ANYUSER2@domain-b.example",
        "ANYUSERX@domain-y.example",
    )
    assert run.envelopes == (run.outcome.recipients,)
    assert [stored.key for stored in run.mail.offloaded.stored] == ["iot-seed-example/1-demo64.txt"]


@pytest.mark.unit
def test_a_dry_run_chunks_as_ses_allows_not_by_a_number_of_its_own() -> None:
    raw = device_mail(", ".join(f"user{n}@plant.example.com" for n in range(120)))
    run = run_dry(raw, at("m120", raw), settings())
    assert [len(envelope) for envelope in run.envelopes] == [50, 50, 20]


@pytest.mark.unit
def test_a_dry_run_puts_domains_in_punycode_and_leaves_out_what_ses_cannot_send_to() -> None:
    raw = device_mail("ops@bücher.example, jürgen@plant.example.com")
    run = run_dry(raw, at("idn", raw), settings())
    assert isinstance(run.outcome, Relayed)
    assert run.outcome.recipients == ("ops@xn--bcher-kva.example",)
    assert run.mail.refused_recipients == ("jürgen@plant.example.com",)


@pytest.mark.unit
def test_a_dry_run_of_a_virus_refuses_it_and_only_notes_the_quarantine() -> None:
    raw = device_mail("ops@plant.example.com", headers=b"X-SES-Virus-Verdict: FAIL\r\n")
    run = run_dry(raw, at("incoming/v1", raw), settings())
    assert isinstance(run.outcome, Refused)
    assert (run.outcome.reason, run.outcome.kept_at) == ("virus", "quarantine/v1")
    assert run.envelopes == ()


CASES = [pytest.param(case.build, id=case.name, marks=case.marks) for case in TABLE]
CASES.append(pytest.param(DEVICE_MAIL.read_bytes, id="device-sample"))


@pytest.mark.integration
@pytest.mark.parametrize("build", CASES)
def test_a_dry_run_decides_as_a_real_run_does(world: RelayWorld, build: Callable[[], bytes]) -> None:
    raw = build()
    key = world.put_mail(raw)
    dry = run_dry(raw, MailLocation(world.incoming, key, len(raw), ""), world.deps.settings)
    assert world.sent() == [] and world.fallback_notices() == []

    [real] = process_message(world.s3_event(key), world.deps)

    assert decision(dry.outcome) == decision(real)
    if isinstance(real, Relayed):
        assert len(dry.envelopes) == len(real.chunks) == len(world.sent())
