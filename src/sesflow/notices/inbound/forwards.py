"""The provider's original inside an inline forward: the block a mail client writes above the quoted mail
("---------- Forwarded message ---------", "Begin forwarded message:", "-----Original Message-----", or
Outlook's bare "From: … Sent: …" header block), turned back into a mail the parser can read.

Only a trusted forwarder's mail is read this way (see `providers.pick_provider`): the original's From in the
block is plain text anyone can write."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, parsedate_to_datetime

from sesflow.mail import ParsedMail
from sesflow.notices.inbound.headers import date_of

_MARKERS = (
    r"-{3,}\s*Forwarded message\s*-{3,}",  # Gmail, Thunderbird
    r"Begin forwarded message:",  # Apple Mail
    r"-{3,}\s*Original Message\s*-{3,}",  # older Outlook
)
_MARKER_LINE = re.compile(rf"^[ \t>]*(?:{'|'.join(_MARKERS)})[ \t]*$", re.IGNORECASE | re.MULTILINE)
_MARKER_ANYWHERE = re.compile("|".join(_MARKERS), re.IGNORECASE)
#: Outlook writes no marker, only a separator line and a header block that starts "From:" and has "Sent:".
_OUTLOOK_BLOCK = re.compile(r"^[ \t]*From:[^\n]*\n(?:[ \t]*\S[^\n]*\n){0,4}?[ \t]*Sent:", re.MULTILINE)
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_FIELD = re.compile(r"^[ \t]*\*?(From|Date|Sent|Subject|To|Cc|Reply-To)\*?:[ \t]*(.*)$", re.IGNORECASE)
#: Dates as clients print them in the block (after " at " is dropped); a zone they leave out is taken as UTC.
_DATE_FORMATS = (
    "%a, %b %d, %Y %I:%M %p",  # Gmail: Mon, Jun 7, 2021 at 10:00 AM
    "%A, %B %d, %Y %I:%M %p",  # Outlook: Monday, June 7, 2021 10:00 AM
    "%A, %B %d, %Y %I:%M:%S %p",
    "%d %B %Y %H:%M:%S",  # Apple Mail: 7 June 2021 at 10:00:00 (its zone name is dropped)
    "%B %d, %Y %H:%M:%S",
    "%B %d, %Y %I:%M:%S %p",
)


@dataclass(frozen=True)
class ForwardedBlock:
    headers: dict[str, str]  # lower-case field → text, as the block gave them
    text: str  # the original's text after the block


def inline_forward(mail: ParsedMail) -> EmailMessage | None:
    """The forwarded original as a mail of its own (From, Subject, Date from the block; its text, the HTML
    from the block on, and the outer mail's attachments), or None when the mail holds no forwarded block."""
    text = mail.text_body() or _html_as_text(mail.html_body() or "")
    block = find_block(text)
    sender = _sender(block.headers.get("from", "")) if block is not None else None
    if block is None or sender is None:
        return None  # no block, or one that names no sender to judge the original by
    original = EmailMessage()
    original["From"] = sender
    original["Subject"] = block.headers.get("subject", "")
    # The parser needs a Date; when the block's cannot be read, the forward's is the nearest there is.
    when = block_date(block.headers.get("date") or block.headers.get("sent") or "") or date_of(mail)
    if when is not None:
        original["Date"] = format_datetime(when)
    original.set_content(block.text)
    if (html := _html_from_block(mail.html_body() or "")) is not None:
        original.add_alternative(html, subtype="html")
    attachments = list(mail.message.iter_attachments())
    if attachments:
        # The client keeps the original's attachments (an .ics, say) on the forward itself.
        original.make_mixed()
        for part in attachments:
            original.attach(part)
    return original


def _sender(text: str) -> str | None:
    """The block's From as a header value, rebuilt from its first address: the block is free text, and a
    malformed address must not break the mail (the standard header parser raises on some)."""
    for name, address in getaddresses([text.replace("mailto:", "")]):  # Outlook's "<a@b.c<mailto:a@b.c>>"
        if _ADDRESS.fullmatch(address):
            return formataddr((name, address))
    return None


def find_block(text: str) -> ForwardedBlock | None:
    """The first forwarded block in the text: its header fields and the text after them."""
    text = text.replace("\r\n", "\n")
    start = _block_start(text)
    if start is None:
        return None
    headers: dict[str, str] = {}
    last = ""
    # A client that quotes the forward ("> ") quotes the block and the original alike.
    lines = [_QUOTE.sub("", line, count=1) for line in text[start:].split("\n")]
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip():
            if headers:
                break
            continue
        if (field := _FIELD.match(line)) is not None:
            last = field.group(1).lower()
            headers.setdefault(last, " ".join(field.group(2).split()))  # no stray CR in a header
        elif last:  # a long To: or Subject: wrapped onto the next line
            headers[last] = " ".join([headers[last], *line.split()])
        else:
            return None
    body = "\n".join(lines[index:])
    return ForwardedBlock(headers, body.strip("\n") + "\n")


def _block_start(text: str) -> int | None:
    marker = _MARKER_LINE.search(text)
    outlook = _OUTLOOK_BLOCK.search(text)
    found = [m for m in (marker, outlook) if m is not None]
    if not found:
        return None
    first = min(found, key=lambda m: m.start())
    return first.end() if first is marker else first.start()


def block_date(value: str) -> datetime | None:
    value = " ".join(value.replace(" at ", " ").split())
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is None:
        for pattern in _DATE_FORMATS:
            words = len(pattern.split())
            try:
                moment = datetime.strptime(" ".join(value.split()[:words]), pattern)
            except ValueError:
                continue
            break
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _html_from_block(html: str) -> str | None:
    """The HTML from the forwarded block on: the parsers look for their tables and texts anywhere in it,
    and the client's quote wrapper around them does not disturb them."""
    if not html:
        return None
    starts = [m.start() for m in (_MARKER_ANYWHERE.search(html),) if m is not None]
    # Outlook's block: a "From:" with a "Sent:" shortly after it (tags around both).
    starts += [m.start() for m in re.finditer("From:", html) if "Sent:" in html[m.end() : m.end() + 800]][:1]
    return html[min(starts) :] if starts else None


def _html_as_text(html: str) -> str:
    """Enough of an HTML-only forward's text to find the block in: tags dropped, line breaks kept."""
    text = re.sub(r"(?i)<br\s*/?>|</(?:p|div|tr|h\d)>", "\n", html)
    return html_lib.unescape(re.sub(r"<[^>]+>", "", text)).replace("\xa0", " ")
