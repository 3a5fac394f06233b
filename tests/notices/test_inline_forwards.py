"""Inline forwards ("---------- Forwarded message ---------", "Begin forwarded message:", Outlook's
"From: … Sent: …"): the original is rebuilt from the block and reads as the original mail does."""

from __future__ import annotations

from typing import Any

import pytest

from sesflow.mail import parse_mail
from sesflow.notices.inbound.forwards import block_date, find_block, inline_forward
from sesflow.notices.inbound.headers import header_addresses
from sesflow.notices.inbound.parser import ParsedMaintenance, parse_maintenances
from sesflow.notices.inbound.providers import ProviderMap

from .conftest import corpus_path, corpus_rows
from .mails import inline_forward as forward_inline

STYLES = ("gmail", "apple", "outlook")
UNPARSED = {"att", "hgc"}  # see test_inbound_corpus.SKIPPED


def _windows(found: list[ParsedMaintenance] | Any) -> Any:
    if not isinstance(found, list):
        return found
    return sorted((m.maintenance_id, m.start, m.end, m.status, m.circuits) for m in found)


@pytest.mark.unit
@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    "row", [pytest.param(row, id=row.emls[0]) for row in corpus_rows() if row.provider not in UNPARSED]
)
def test_a_corpus_mail_forwarded_inline_parses_as_the_original(row: Any, style: str) -> None:
    raw = corpus_path(row.provider, row.emls[0]).read_bytes()
    original = parse_mail(raw)
    rebuilt = inline_forward(parse_mail(forward_inline(raw, style)))
    want = _windows(parse_maintenances(row.provider, original.message))
    assert isinstance(want, list) and want
    if "@" not in (original.header("From") or ""):
        assert rebuilt is None  # a block without a sender names nobody to judge it by
        return
    assert rebuilt is not None
    assert _windows(parse_maintenances(row.provider, rebuilt)) == want
    providers = ProviderMap()
    assert providers.choose(header_addresses(rebuilt, "From"), rebuilt) == providers.choose(
        header_addresses(original.message, "From"), original.message
    )


def _mail(text: str) -> Any:
    return parse_mail(f"From: ops@corp.example\r\nSubject: Fwd\r\n\r\n{text}".encode())


@pytest.mark.unit
@pytest.mark.parametrize(
    ("block", "sender", "when"),
    [
        (
            "-----Original Message-----\nFrom: Zayo <mr@zayo.com>\nSent: Monday, June 7, 2021 10:00 AM\n"
            "To: noc@example.net\nSubject: Maintenance TTN-1\n\nBody\n",
            "Zayo <mr@zayo.com>",
            "2021-06-07T10:00:00+00:00",
        ),
        (
            "From: Zayo <mr@zayo.com>\nSent: Monday, June 7, 2021 10:00 AM\nTo: a@example.net,\n"
            " b@example.net\nSubject: Maintenance TTN-1\n\nBody\n",
            "Zayo <mr@zayo.com>",
            "2021-06-07T10:00:00+00:00",
        ),
        (
            "> ---------- Forwarded message ---------\n> From: mr@zayo.com\n"
            "> Date: Mon, 7 Jun 2021 10:00:00 +0200\n> Subject: Maintenance TTN-1\n>\n> Body\n",
            "mr@zayo.com",
            "2021-06-07T10:00:00+02:00",
        ),
        (
            "-------- Forwarded Message --------\nSubject: Maintenance TTN-1\n"
            "Date: Mon, 7 Jun 2021 10:00:00 +0000\nFrom: mr@zayo.com\nTo: noc@example.net\n\nBody\n",
            "mr@zayo.com",
            "2021-06-07T10:00:00+00:00",
        ),
    ],
    ids=["outlook-original-message", "outlook-bare-block", "quoted-gmail", "thunderbird"],
)
def test_the_block_of_each_client_gives_the_original_sender_and_date(
    block: str, sender: str, when: str
) -> None:
    rebuilt = inline_forward(_mail("Please look.\n\n" + block))
    assert rebuilt is not None
    assert (rebuilt["From"], rebuilt["Subject"]) == (sender, "Maintenance TTN-1")
    found = find_block(block)
    assert found is not None and found.text.strip() == "Body"
    moment = block_date(found.headers.get("date") or found.headers["sent"])
    assert moment is not None and moment.isoformat() == when


@pytest.mark.unit
def test_a_mail_without_a_forwarded_block_has_no_original() -> None:
    assert inline_forward(_mail("From: the team\nWe will work on the fibre.\nSent: from my phone\n")) is None
    assert inline_forward(_mail("Nothing forwarded here.\n")) is None


@pytest.mark.unit
def test_an_html_only_forward_is_read_from_its_html() -> None:
    html = (
        "<div>FYI</div><div>---------- Forwarded message ---------<br>From: Zayo &lt;mr@zayo.com&gt;<br>"
        "Date: Mon, 7 Jun 2021 10:00:00 +0000<br>Subject: Maintenance TTN-1<br></div><br><p>Body</p>"
    )
    raw = f"From: ops@corp.example\r\nSubject: Fwd\r\nContent-Type: text/html\r\n\r\n{html}".encode()
    rebuilt = inline_forward(parse_mail(raw))
    assert rebuilt is not None
    assert rebuilt["From"] == "Zayo <mr@zayo.com>"
    html_part = rebuilt.get_body(("html",))
    assert html_part is not None and "Body" in html_part.get_content()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("a@b, <", None),
        ('"unterminated <x@y>', None),
        ("<<<@>>>", None),
        ("Zayo <mailto:mr@zayo.com>", "Zayo <mr@zayo.com>"),
        ("Zé Provider <mr@zayo.com>", "mr@zayo.com"),
    ],
)
def test_a_malformed_sender_in_the_block_is_no_original_and_breaks_nothing(
    sender: str, expected: str | None
) -> None:
    rebuilt = inline_forward(_mail(f"---------- Forwarded message ---------\nFrom: {sender}\n\nBody\n"))
    if expected is None:
        assert rebuilt is None
    else:
        assert rebuilt is not None
        assert header_addresses(rebuilt, "From") == [expected.rpartition("<")[2].rstrip(">")]
