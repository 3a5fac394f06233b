"""Mails built for the inbound tests: BCOP iCalendar notices of any size, inline forwards of real mails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from html import escape

from sesflow.mail import parse_mail


def bcop_notice(
    maintenance_id: str,
    cids: Sequence[str],
    *,
    provider: str = "zayo",
    sequence: int = 1,
    day: int = 1,
    status: str = "CONFIRMED",
    sender: str = "noc@noc.example.org",
) -> bytes:
    """A BCOP iCalendar notice (read by the parser's generic provider) naming `cids` of `provider`."""
    calendar = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//sesflow tests//EN",
            "BEGIN:VEVENT",
            "SUMMARY:Fiber work",
            f"DTSTART;VALUE=DATE-TIME:203103{day:02d}T220000Z",
            f"DTEND;VALUE=DATE-TIME:203103{day + 1:02d}T040000Z",
            f"DTSTAMP;VALUE=DATE-TIME:2031020{sequence}T090000Z",
            f"UID:{maintenance_id}@noc.example.org",
            f"SEQUENCE:{sequence}",
            f"X-MAINTNOTE-PROVIDER:{provider}",
            "X-MAINTNOTE-ACCOUNT:acct",
            f"X-MAINTNOTE-MAINTENANCE-ID:{maintenance_id}",
            *(f"X-MAINTNOTE-OBJECT-ID:{cid}" for cid in cids),
            "X-MAINTNOTE-IMPACT:OUTAGE",
            f"X-MAINTNOTE-STATUS:{status}",
            f"ORGANIZER:mailto:{sender}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    message = EmailMessage()
    message["From"] = sender
    message["Subject"] = f"Maintenance {maintenance_id} ({status}, sequence {sequence})"
    message["Date"] = f"Sat, 0{sequence} Feb 2031 09:00:00 +0000"
    message.set_content("See the calendar.")
    message.add_attachment(calendar.encode(), maintype="text", subtype="calendar", filename="notice.ics")
    return message.as_bytes()


def as_stored_by_ses(
    raw: bytes, *, envelope: str = "", auth: str = "pass", virus: str = "PASS", spam: str = "PASS"
) -> bytes:
    """The mail as SES's S3 action stores it: the envelope sender and SES's verdicts prepended."""
    added = (
        (f"Return-Path: <{envelope}>\r\n" if envelope else "") + f"X-SES-Spam-Verdict: {spam}\r\n"
        f"X-SES-Virus-Verdict: {virus}\r\n"
        f"Authentication-Results: amazonses.com;\r\n spf={auth} (spf) smtp.mailfrom=noc@example.org;\r\n"
        f" dkim={auth} header.i=@example.org;\r\n dmarc={auth} header.from=example.org;\r\n"
    )
    return added.encode() + raw


def inline_forward(raw: bytes, style: str, *, forwarder: str = "ops@corp.example") -> bytes:
    """The mail forwarded inline the way a client writes it (`gmail`, `apple` or `outlook`): the client's
    block and the original's text and HTML in the forward's own body, its attachments kept."""
    original = parse_mail(raw)
    sender = original.header("From") or ""
    subject = original.header("Subject") or ""
    to = original.header("To") or "noc@example.net"
    sent = parsedate_to_datetime(original.header("Date") or "")
    text = original.text_body() or ""
    html = original.html_body() or f"<pre>{escape(text)}</pre>"
    if style == "gmail":
        when = f"{sent:%a, %b} {sent.day}, {sent:%Y} at {sent:%I:%M %p}"
        head = [
            "---------- Forwarded message ---------",
            f"From: {sender}",
            f"Date: {when}",
            f"Subject: {subject}",
        ]
        head += [f"To: {to}"]
        html_head = "<div class=gmail_quote><div dir=ltr class=gmail_attr>" + "<br>".join(map(escape, head))
        html_head += "<br></div><br><br>"
    elif style == "apple":
        when = f"{sent.day} {sent:%B %Y} at {sent:%H:%M:%S} {sent:%Z}"
        head = [
            "Begin forwarded message:",
            "",
            f"From: {sender}",
            f"Subject: {subject}",
            f"Date: {when}",
            f"To: {to}",
        ]
        html_head = "<div>Begin forwarded message:</div><br><div>" + "<br>".join(
            f"<b>{escape(line.split(':', 1)[0])}:</b> {escape(line.split(':', 1)[1])}" for line in head[2:]
        )
        html_head += "</div><br>"
    else:
        when = f"{sent:%A, %B} {sent.day}, {sent:%Y} {sent:%I:%M %p}"
        head = ["________________________________", f"From: {sender}", f"Sent: {when}", f"To: {to}"]
        head += [f"Subject: {subject}"]
        html_head = "<hr><div id=divRplyFwdMsg><font>" + "<br>".join(
            f"<b>{escape(line.split(':', 1)[0])}:</b> {escape(line.split(':', 1)[1])}" for line in head[1:]
        )
        html_head += "</font><div>&nbsp;</div></div>"
    forward = EmailMessage()
    forward["From"] = forwarder
    forward["To"] = "notices@example.net"
    forward["Subject"] = f"Fwd: {subject}"
    forward["Date"] = format_datetime(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    forward.set_content("FYI, see below.\n\n" + "\n".join(head) + "\n\n" + text)
    forward.add_alternative(f"<div>FYI, see below.</div><br>{html_head}<div>{html}</div>", subtype="html")
    attachments = list(original.message.iter_attachments())
    if attachments:
        forward.make_mixed()
        for part in attachments:
            forward.attach(part)
    return forward.as_bytes()
