"""Outbound MIME for a prepared notification: text and HTML (CSS inlined into the elements), an iCalendar
invitation, the template's extra headers when they are safe, and one message per group of ≤ 50 recipients.

    multipart/mixed
      multipart/alternative: text/plain, text/html
      text/calendar; method=REQUEST (maintenance.ics)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address, Group
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Final

import css_inline

from sesflow.mail.addresses import SES_MAX_RECIPIENTS, ValidAddress, chunk_recipients

#: Headers the message itself owns: a template may not set or duplicate them.
PROTECTED_HEADERS: Final = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "message-id",
        "date",
        "mime-version",
        "sender",
        "return-path",
        "received",
    }
)
#: Prefixes that are never a template's business: MIME structure, resent copies, and SES's own controls
#: (X-SES-CONFIGURATION-SET and X-SES-MESSAGE-TAGS would redirect the events tracking depends on).
PROTECTED_PREFIXES: Final = ("content-", "resent-", "x-ses-")
_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ':'
_LINE_BREAK = re.compile(r"[\r\n]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_HEADER_VALUE = 998
ICAL_FILENAME: Final = "maintenance.ics"
UNDISCLOSED: Final = "undisclosed-recipients"


@dataclass(frozen=True)
class RefusedHeader:
    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name!r} ({self.reason})"


@dataclass(frozen=True)
class NoticeContent:
    """What the notification says, as NetBox holds it."""

    subject: str
    body_text: str
    body_html: str = ""
    css: str = ""
    ical_content: str = ""
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Addressing:
    """Who a notification is from, whether its recipients see each other, and how many share one message."""

    from_address: str
    recipients_visible: bool = False
    chunk_size: int = SES_MAX_RECIPIENTS


@dataclass(frozen=True)
class OutboundMail:
    """One message: its part number (1…), the recipients it goes to (the envelope), and its bytes."""

    part: int
    recipients: tuple[str, ...]
    raw: bytes
    message_id: str


@dataclass(frozen=True)
class Composition:
    mails: tuple[OutboundMail, ...]
    refused_headers: tuple[RefusedHeader, ...]


def check_header(name: str, value: str) -> RefusedHeader | None:
    """Why a template header may not be applied, or None when it may."""
    if not _FIELD_NAME.match(name):
        return RefusedHeader(name, "not a valid header name")
    lowered = name.lower()
    if lowered in PROTECTED_HEADERS or lowered.startswith(PROTECTED_PREFIXES):
        return RefusedHeader(name, "set by sesflow, not by a template")
    if _LINE_BREAK.search(value):
        return RefusedHeader(name, "value contains CR or LF")
    if _CONTROL.search(value):
        return RefusedHeader(name, "value contains control characters")
    if len(value) > MAX_HEADER_VALUE:
        return RefusedHeader(name, f"value longer than {MAX_HEADER_VALUE} characters")
    return None


def safe_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], tuple[RefusedHeader, ...]]:
    """The template's headers split into those applied and those refused (each with its reason)."""
    applied: dict[str, str] = {}
    refused: list[RefusedHeader] = []
    seen: set[str] = set()
    for name, raw in headers.items():
        value = raw if isinstance(raw, str) else str(raw)
        problem = check_header(name, value)
        if problem is None and name.lower() in seen:
            problem = RefusedHeader(name, "given twice")
        if problem is not None:
            refused.append(problem)
            continue
        seen.add(name.lower())
        applied[name] = value
    return applied, tuple(refused)


def inline_css(html: str, css: str) -> str:
    """The HTML with `css` and its own <style> rules written into each element's `style` attribute:
    many mail clients drop <style> blocks. Remote stylesheets are never fetched."""
    inliner = css_inline.CSSInliner(
        load_remote_stylesheets=False, keep_style_tags=False, extra_css=css or None
    )
    if re.search(r"<html[\s>]", html, re.IGNORECASE):
        return str(inliner.inline(html))
    return str(inliner.inline_fragment(html, css or ""))


def message_id(notification_id: int, round_id: str, part: int, domain: str) -> str:
    """The same on every attempt of one part of one round: a resent part is the same message."""
    return f"<notification-{notification_id}.{round_id}.{part}@{domain}>"


def _address(valid: ValidAddress) -> Address:
    local, _, domain = (valid.ascii_address or valid.address).rpartition("@")
    return Address(display_name=valid.display_name, username=local, domain=domain)


def _body(content: NoticeContent) -> EmailMessage:
    body = EmailMessage(policy=policy.default)
    body.set_content(content.body_text)
    if content.body_html:
        body.add_alternative(inline_css(content.body_html, content.css), subtype="html")
    if not content.ical_content:
        return body
    # The alternative part is nested under multipart/mixed so the invitation sits beside the text.
    body.make_mixed()
    body.add_attachment(
        content.ical_content, subtype="calendar", filename=ICAL_FILENAME, params={"method": "REQUEST"}
    )
    return body


def compose_notification(
    content: NoticeContent,
    recipients: Sequence[ValidAddress],
    *,
    notification_id: int,
    round_id: str,
    addressing: Addressing,
    date: datetime,
) -> Composition:
    """One message per chunk of ≤ `addressing.chunk_size` recipients, each recipient in exactly one.
    Recipients are shown in `To:` only when `addressing.recipients_visible`; otherwise each message says
    "undisclosed-recipients" and goes to its chunk through the envelope alone."""
    applied, refused = safe_headers(content.headers or {})
    from_address = addressing.from_address
    domain = from_address.rpartition("@")[2] or "localhost"
    mails = []
    for part, chunk in enumerate(chunk_recipients(list(recipients), addressing.chunk_size), start=1):
        message = _body(content)
        message["From"] = from_address
        if addressing.recipients_visible:
            message["To"] = [_address(address) for address in chunk]
        else:
            message["To"] = Group(UNDISCLOSED)
        message["Subject"] = " ".join(content.subject.split())
        message["Date"] = format_datetime(date)
        identifier = message_id(notification_id, round_id, part, domain)
        message["Message-ID"] = identifier
        for name, value in applied.items():
            message[name] = value
        envelope = tuple(address.ascii_address or address.address for address in chunk)
        raw = message.as_bytes(policy=policy.SMTP)
        mails.append(OutboundMail(part, envelope, raw, identifier))
    return Composition(tuple(mails), refused)
