"""A forward is read both ways before it is called unparseable: when the original rebuilt from a trusted
forwarder's inline block does not parse, the mail as received is parsed with the same provider; when a
provider's own mail does not parse as received, the original it quotes is."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import pytest

from sesflow.mail import parse_mail
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.notices.inbound.context import InboundMail
from sesflow.notices.inbound.forwards import inline_forward
from sesflow.notices.inbound.parser import ParseFailed, parse_maintenances
from sesflow.notices.inbound.pipeline import INBOUND
from sesflow.notices.inbound.receipt import read_receipts

from .builders import FakeInbox
from .conftest import BUCKET, PREFIX, Inbox, corpus_path, receipt_event
from .mails import inline_forward as forward_inline

FORWARDER = "ops@corp.example"
TRUSTED = {"INBOUND_TRUSTED_FORWARDERS": "@corp.example"}
BOTH_WAYS = "read as forwarded and as received"


def forward_with_nbsp_marker(provider: str, name: str) -> bytes:
    """A Gmail-style inline forward whose HTML writes the marker with non-breaking spaces: the block is found
    in the text, but the original's HTML is not cut out of the forward's, so the rebuilt original has none."""
    raw = forward_inline(corpus_path(provider, name).read_bytes(), "gmail", forwarder=FORWARDER)
    marker = b"---------- Forwarded message ---------<br>"
    assert raw.count(marker) == 1
    return raw.replace(marker, b"----------&nbsp;Forwarded message&nbsp;---------<br>")


def quoted_reminder(provider: str, name: str, sender: str) -> bytes:
    """The provider's own reminder: a line of its own, then its earlier notice quoted ("> ") under an
    Outlook "-----Original Message-----" block, as a plain-text client writes it."""
    original = parse_mail(corpus_path(provider, name).read_bytes())
    quoted = "\n".join(f"> {line}" for line in (original.text_body() or "").splitlines())
    reminder = EmailMessage()
    reminder["From"] = sender
    reminder["Subject"] = f"Reminder: {original.header('Subject')}"
    reminder["Date"] = "Mon, 23 Nov 2026 12:00:00 +0000"
    reminder.set_content(
        "Reminder of the maintenance below.\n\n> -----Original Message-----\n"
        f"> From: {original.header('From')}\n> Sent: {original.header('Date')}\n"
        f"> Subject: {original.header('Subject')}\n>\n{quoted}\n"
    )
    return reminder.as_bytes()


def _parses(provider: str, message: EmailMessage) -> bool:
    found = parse_maintenances(provider, message)
    return not isinstance(found, ParseFailed) and bool(found)


@pytest.mark.unit
@pytest.mark.parametrize(("provider", "name"), [("crowncastle", "crowncastle1.eml"), ("zayo", "zayo5.eml")])
def test_the_forwards_built_here_parse_only_as_received(provider: str, name: str) -> None:
    forward = parse_mail(forward_with_nbsp_marker(provider, name))
    rebuilt = inline_forward(forward)
    assert rebuilt is not None and rebuilt.get_body(("html",)) is None
    assert not _parses(provider, rebuilt)
    assert _parses(provider, forward.message)


@pytest.mark.unit
def test_the_reminder_built_here_parses_only_as_the_original_it_quotes() -> None:
    reminder = parse_mail(quoted_reminder("netflix", "netflix1.eml", "cdnetops@saasmail.netflix.com"))
    rebuilt = inline_forward(reminder)
    assert rebuilt is not None
    assert not _parses("netflix", reminder.message)
    assert _parses("netflix", rebuilt)


def _maintenances(client: NetBoxClient) -> list[dict[str, Any]]:
    return list(client.iterate(f"{PLUGIN}/maintenance/"))


@pytest.mark.netbox
@pytest.mark.integration
@pytest.mark.parametrize(
    ("provider", "name", "windows"), [("crowncastle", "crowncastle1.eml", 1), ("zayo", "zayo5.eml", 3)]
)
def test_a_trusted_forward_whose_rebuilt_original_does_not_parse_is_applied_as_received(
    provider: str, name: str, windows: int, make_inbox: Callable[..., Inbox], nb_client: NetBoxClient
) -> None:
    inbox = make_inbox(**TRUSTED)
    outcome = inbox.deliver(forward_with_nbsp_marker(provider, name), source=FORWARDER)
    assert (outcome.result, outcome.provider) == ("applied", provider), outcome.detail
    assert len(_maintenances(nb_client)) == windows
    # The mail kept on the maintenance is the one that was read: the forward, under the provider's sender.
    [stored] = nb_client.get(f"{PLUGIN}/eventnotification/")["results"][:1]
    assert stored["subject"].startswith("Fwd: ")
    assert stored["email_from"].endswith(f"{provider}.com")


@pytest.mark.netbox
@pytest.mark.integration
def test_a_providers_mail_that_parses_only_as_the_original_it_quotes_is_applied(
    inbox: Inbox, nb_client: NetBoxClient
) -> None:
    sender = "cdnetops@saasmail.netflix.com"
    outcome = inbox.deliver(quoted_reminder("netflix", "netflix1.eml", sender), source=sender)
    assert (outcome.result, outcome.provider) == ("applied", "netflix"), outcome.detail
    [maintenance] = _maintenances(nb_client)
    assert maintenance["status"] in {"CONFIRMED", "TENTATIVE"}


@pytest.mark.unit
def test_a_forward_that_parses_neither_way_ends_naming_both_readings() -> None:
    inbox = FakeInbox(environ=TRUSTED)
    raw = (
        f"From: {FORWARDER}\r\nTo: notices@example.net\r\nSubject: Fwd: hello\r\n"
        "Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\nFYI\r\n\r\n"
        "---------- Forwarded message ---------\r\nFrom: MR Zayo <mr@zayo.com>\r\n"
        "Date: Mon, Nov 8, 2021 at 09:35 PM\r\nSubject: Lunch\r\n\r\nNothing about any circuit.\r\n"
    ).encode()
    inbox.store.put_bytes(BUCKET, PREFIX + "ses-0001", raw)
    [receipt] = read_receipts(receipt_event("ses-0001", source=FORWARDER))
    outcome = INBOUND.through("parse").run(InboundMail(receipt), inbox.deps)
    assert outcome is not None
    assert outcome.provider == "zayo"
    assert outcome.result in {"parse_error", "not_a_notice"}
    assert outcome.detail.endswith(f"({BOTH_WAYS})")


@pytest.mark.unit
def test_a_mail_that_is_no_forward_is_read_once() -> None:
    inbox = FakeInbox()
    raw = (
        b"From: mr@zayo.com\r\nTo: notices@example.net\r\nSubject: hello\r\n"
        b"Date: Mon, 23 Nov 2026 12:00:00 +0000\r\n\r\nNothing about any circuit.\r\n"
    )
    inbox.store.put_bytes(BUCKET, PREFIX + "ses-0001", raw)
    [receipt] = read_receipts(receipt_event("ses-0001", source="mr@zayo.com"))
    mail = InboundMail(receipt)
    outcome = INBOUND.through("parse").run(mail, inbox.deps)
    assert outcome is not None and outcome.result in {"parse_error", "not_a_notice"}
    assert mail.alternatives == ()
    assert BOTH_WAYS not in outcome.detail
