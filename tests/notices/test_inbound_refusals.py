"""Mails that must write nothing — refused, unknown, not a notice, unparseable, no NetBox provider — and the
handler's failure signals. Nothing here writes to NetBox, so the module shares one reset and seed."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import corpus_seed, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.retry import RetryPolicy

from .builders import ZAYO4, LambdaContext, count, forwarded
from .conftest import BUCKET, CORPUS, PREFIX, Inbox, build_inbox, receipt_event

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


@pytest.fixture(scope="module")
def seeded_once(netbox: RunningNetBox) -> NetBoxClient:
    netbox.reset()
    client = NetBoxClient(netbox.url, netbox.tokens.admin, retry=RetryPolicy(deadline=10))
    seed_netbox(client, corpus_seed(CORPUS))
    return client


@pytest.fixture
def nb_client(seeded_once: NetBoxClient) -> NetBoxClient:
    return seeded_once


@pytest.fixture
def make_inbox(aws: AwsClients, netbox: RunningNetBox, seeded_once: NetBoxClient) -> Callable[..., Inbox]:
    aws.s3.create_bucket(Bucket=BUCKET)
    return lambda **environ: build_inbox(aws, netbox, seeded_once, **environ)


@pytest.fixture
def inbox(make_inbox: Callable[..., Inbox]) -> Inbox:
    return make_inbox()


@pytest.mark.parametrize(
    ("verdicts", "reason"),
    [
        ({"spf": "FAIL", "dkim": "FAIL"}, "not_authenticated"),
        ({"dmarc": "FAIL"}, "dmarc_fail"),
        ({"virus": "FAIL"}, "virus"),
    ],
)
def test_refused_mail_writes_nothing_and_stays_in_s3(
    verdicts: dict[str, str], reason: str, inbox: Inbox, nb_client: NetBoxClient
) -> None:
    outcome = inbox.deliver(ZAYO4.read_bytes(), source="mr@zayo.com", verdicts=verdicts)
    assert (outcome.result, outcome.detail.split(":")[0]) == ("refused", reason)
    assert count(nb_client, "maintenance") == 0
    assert count(nb_client, "eventnotification") == 0
    inbox.aws.s3.head_object(Bucket=BUCKET, Key=PREFIX + outcome.message_id)


def test_forwarded_mail_from_an_untrusted_sender_is_judged_by_that_sender(
    inbox: Inbox, nb_client: NetBoxClient
) -> None:
    outcome = inbox.deliver(forwarded("ops@corp.example"), source="ops@corp.example")
    assert outcome.result == "unknown_provider"
    assert count(nb_client, "maintenance") == 0


def test_unknown_sender_without_icalendar_is_reported_unknown(inbox: Inbox, nb_client: NetBoxClient) -> None:
    raw = ZAYO4.read_bytes().replace(b"mr@zayo.com", b"mr@unlisted.example")
    outcome = inbox.deliver(raw, source="mr@unlisted.example")
    assert outcome.result == "unknown_provider"
    assert "mr@unlisted.example" in outcome.detail
    assert count(nb_client, "maintenance") == 0


def test_mail_the_provider_filters_out_is_not_a_notice(inbox: Inbox, nb_client: NetBoxClient) -> None:
    message = EmailMessage()
    message["From"] = "mr@zayo.com"
    message["Subject"] = "Your invoice"  # Zayo's include filter wants a maintenance subject
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content("Thank you for your business.")
    outcome = inbox.deliver(message.as_bytes(), source="mr@zayo.com")
    assert outcome.result == "not_a_notice"
    assert count(nb_client, "maintenance") == 0


def test_unparseable_notice_is_reported_with_the_parsers_reason(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    message = EmailMessage()
    message["From"] = "support@megaport.com"
    message["Subject"] = "Planned maintenance"
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    message.set_content("Nothing a parser could read.")
    outcome = inbox.deliver(message.as_bytes(), source="support@megaport.com")
    assert outcome.result == "parse_error"
    assert "Megaport" in outcome.detail
    assert "Nothing a parser could read" not in caplog.text  # no mail body in any log


def test_mail_without_a_date_is_reported_not_crashed(inbox: Inbox, caplog: pytest.LogCaptureFixture) -> None:
    message = EmailMessage()
    message["From"] = "mr@zayo.com"
    message["Subject"] = "Maintenance"
    message.set_content("secret body text")
    outcome = inbox.deliver(message.as_bytes(), source="mr@zayo.com")
    assert outcome.result == "parse_error"
    assert "secret body text" not in caplog.text


def test_provider_missing_in_netbox_is_reported(
    make_inbox: Callable[..., Inbox], nb_client: NetBoxClient
) -> None:
    inbox = make_inbox(NETBOX_PROVIDER_MAP='{"zayo": "zayo-not-in-netbox"}')
    outcome = inbox.deliver(ZAYO4.read_bytes(), source="mr@zayo.com")
    assert outcome.result == "no_netbox_provider"
    assert count(nb_client, "maintenance") == 0


def test_handler_raises_when_the_mail_is_not_in_s3_yet(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from sesflow.aws.store import ObjectMissing
    from sesflow.notices.inbound import lambda_handler as inbound

    monkeypatch.setattr(inbound, "default_deps", lambda: inbox.deps)
    with pytest.raises(ObjectMissing):
        inbound.handler(receipt_event("missing", source="mr@zayo.com"), LambdaContext())


def test_handler_reports_an_event_that_is_not_an_ses_receipt(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sesflow.notices.inbound import lambda_handler as inbound

    monkeypatch.setattr(inbound, "default_deps", lambda: inbox.deps)
    answer = inbound.handler({"Records": [{"eventSource": "aws:s3"}]}, LambdaContext())
    assert answer["results"] == []
    assert "not an SES record" in answer["error"]
