"""What recipients get: chunks of ≤ 50 with each recipient once, safe headers only (the refused ones
journaled), CSS in `style=` attributes, and an iCalendar invitation that parses."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import icalendar  # type: ignore[import-untyped]
import pytest

from sesflow.mail.addresses import ValidAddress, validate_address
from sesflow.mail.compose import Addressing, NoticeContent, check_header, compose_notification, inline_css
from sesflow.notices.outbound.outcomes import Sent
from sesflow.notices.outbound.schedule import send_ready

from .conftest import Outbound, parsed, sent_mails

ICAL = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//sesflow//test//EN\r\nMETHOD:REQUEST\r\n"
    "BEGIN:VEVENT\r\nUID:maint-1@sesflow.example\r\nDTSTAMP:20261123T120000Z\r\n"
    "DTSTART:20261201T020000Z\r\nDTEND:20261201T040000Z\r\nSUMMARY:Fibre splice\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
HTML = '<h1>Planned work</h1><p class="note">Window <b>02:00-04:00</b> UTC.</p>'
CSS = "h1 { color: #003366 } .note { font-size: 14px } b { font-weight: bold }"


@pytest.mark.netbox
@pytest.mark.integration
def test_120_recipients_get_three_messages_with_safe_headers_inlined_css_and_ical(
    outbound: Outbound,
) -> None:
    contacts = outbound.contacts(120)
    [notification_id] = outbound.ready(
        contact_ids=contacts,
        body_html=HTML,
        css=CSS,
        ical_content=ICAL,
        headers={
            "X-Change-Ticket": "CHG-2041",
            "Bcc": "eavesdropper@evil.example",
            "X-Injected": "value\r\nBcc: eavesdropper@evil.example",
            "Subject": "Another subject",
        },
    )

    [outcome] = send_ready(outbound.deps())

    assert isinstance(outcome, Sent) and outcome.recipients == 120
    mails = sent_mails()
    assert [len(mail.destinations) for mail in mails] == [50, 50, 20]
    everyone = Counter(address for mail in mails for address in mail.destinations)
    assert len(everyone) == 120 and set(everyone.values()) == {1}
    assert "eavesdropper@evil.example" not in everyone
    assert [
        tag for request in outbound.wire for tag in request["EmailTags"] if tag["Name"] == "outbound_part"
    ] == [{"Name": "outbound_part", "Value": str(part)} for part in (1, 2, 3)]
    for mail in mails:
        message = parsed(mail.raw_data)
        assert message["Subject"] == "Planned maintenance 0"
        assert message["X-Change-Ticket"] == "CHG-2041"
        assert message.get_all("Bcc") is None
        assert "X-Injected" not in message
        assert str(message["To"]) == "undisclosed-recipients:;"  # nobody sees the other customers
        html = message.get_body(("html",))
        assert html is not None
        content = html.get_content()
        assert "<style" not in content
        assert 'style="color: #003366;"' in content and "font-size: 14px" in content
        calendar_parts = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        assert len(calendar_parts) == 1
        assert calendar_parts[0].get_param("method") == "REQUEST"
        calendar = icalendar.Calendar.from_ical(calendar_parts[0].get_content())
        [event] = calendar.walk("VEVENT")
        assert str(event["SUMMARY"]) == "Fibre splice"
    journal = outbound.journal(notification_id)
    assert "'Bcc'" in journal and "'X-Injected'" in journal and "'Subject'" in journal
    assert "CR or LF" in journal
    assert outbound.status(notification_id) == "sent"


@pytest.mark.netbox
@pytest.mark.integration
def test_visible_recipients_are_listed_in_to_of_their_own_message(outbound: Outbound) -> None:
    contacts = outbound.contacts(60)
    outbound.ready(contact_ids=contacts)

    send_ready(outbound.deps(OUTBOUND_RECIPIENTS_VISIBLE="true"))

    for mail in sent_mails():
        shown = sorted(address.addr_spec for address in parsed(mail.raw_data)["To"].addresses)
        assert shown == sorted(mail.destinations)


# --- composition alone -----------------------------------------------------------------------------------


def addresses(count: int) -> list[ValidAddress]:
    found = [validate_address(f"user{n}@example.org") for n in range(count)]
    return [address for address in found if isinstance(address, ValidAddress)]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "value", "refused"),
    [
        ("X-Ticket", "CHG-1", False),
        ("Reply-To", "noc@sesflow.example", False),
        ("bcc", "a@b.example", True),
        ("FROM", "a@b.example", True),
        ("Message-ID", "<x@y>", True),
        ("Content-Transfer-Encoding", "8bit", True),
        ("MIME-Version", "1.0", True),
        ("X-SES-CONFIGURATION-SET", "elsewhere", True),
        ("X-Ok", "line\nbreak", True),
        ("X-Ok", "carriage\rreturn", True),
        ("Bad Name", "x", True),
        ("X-Colon:", "x", True),
    ],
)
def test_template_headers_are_checked(name: str, value: str, refused: bool) -> None:
    assert (check_header(name, value) is not None) == refused


@pytest.mark.unit
def test_message_id_is_stable_per_notification_round_and_part() -> None:
    content = NoticeContent("Planned work", "text")

    def compose() -> list[str]:
        composition = compose_notification(
            content,
            addresses(51),
            notification_id=42,
            round_id="20261123T120000000000Z",
            addressing=Addressing("notices@sesflow.example", False),
            date=datetime.now(UTC),
        )
        return [mail.message_id for mail in composition.mails]

    first = compose()
    assert first == compose()
    assert first == [
        "<notification-42.20261123T120000000000Z.1@sesflow.example>",
        "<notification-42.20261123T120000000000Z.2@sesflow.example>",
    ]


@pytest.mark.unit
def test_css_is_inlined_into_a_whole_document_too() -> None:
    html = "<html><head><style>p { margin: 0 }</style></head><body><p>Hi</p></body></html>"
    inlined = inline_css(html, "p { color: red }")
    assert "<style" not in inlined
    assert 'style="' in inlined and "color: red" in inlined and "margin: 0" in inlined
