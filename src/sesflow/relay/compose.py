"""Step 7, compose: the mail the recipients get — the device's text and HTML with the recipients line
removed, a list of links in place of the attachments, and only headers we set ourselves."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from sesflow.mail import Attachment, write_payload
from sesflow.relay.offload import StoredAttachment

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_SUBJECT_CHARS = 250
#: SMTP policy: CRLF line ends, and it refuses CR/LF inside a header value (no header injection).
OUTGOING_POLICY = SMTP


@dataclass(frozen=True)
class Link:
    attachment: StoredAttachment
    url: str
    expires_at: datetime


def clean_header(value: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """One line of printable text: control characters (CR, LF, NUL, ...) become spaces."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def human_size(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024 or unit == "MiB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"


@dataclass(frozen=True)
class Outgoing:
    """What the recipients' mail is made of: the device's bodies (recipients line removed) and its links."""

    sender: str
    reply_to: str | None
    subject: str
    text: str | None
    html_body: str | None
    links: Sequence[Link]
    inline_parts: tuple[Attachment, ...]


def _expiry_text(links: Sequence[Link]) -> str:
    earliest = min(link.expires_at for link in links)
    return format_datetime(earliest, usegmt=True)


def links_as_text(links: Sequence[Link]) -> str:
    if not links:
        return ""
    lines = [f"Attachments (links valid until {_expiry_text(links)}):"]
    lines += [
        f"- {link.attachment.filename} ({human_size(link.attachment.size)}): {link.url}" for link in links
    ]
    return "\n".join(lines)


def links_as_html(links: Sequence[Link]) -> str:
    if not links:
        return ""
    items = "".join(
        f'<li><a href="{html.escape(link.url)}">{html.escape(link.attachment.filename)}</a>'
        f" ({html.escape(human_size(link.attachment.size))})</li>"
        for link in links
    )
    return (
        f"<p>Attachments (links valid until {html.escape(_expiry_text(links))}):</p>"
        f'<ul class="sesflow-attachments">{items}</ul>'
    )


def text_to_html(text: str) -> str:
    return f'<div style="white-space: pre-wrap">{html.escape(text)}</div>'


def _with_links_html(body_html: str, links_html: str) -> str:
    if not links_html:
        return body_html
    closing = body_html.lower().rfind("</body>")
    if closing == -1:
        return body_html + links_html
    return body_html[:closing] + links_html + body_html[closing:]


def compose_message(outgoing: Outgoing, now: datetime) -> EmailMessage:
    message = EmailMessage(policy=OUTGOING_POLICY)
    message["From"] = outgoing.sender
    message["To"] = "undisclosed-recipients:;"  # recipients travel in the envelope only
    if outgoing.reply_to:
        message["Reply-To"] = outgoing.reply_to
    message["Subject"] = clean_header(outgoing.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=outgoing.sender.rpartition("@")[2])
    text_links, html_links = links_as_text(outgoing.links), links_as_html(outgoing.links)
    plain = (outgoing.text or "").rstrip("\n")
    message.set_content(f"{plain}\n\n{text_links}\n" if text_links else f"{plain}\n")
    body_html = outgoing.html_body if outgoing.html_body is not None else text_to_html(plain)
    message.add_alternative(_with_links_html(body_html, html_links), subtype="html")
    if outgoing.inline_parts:
        html_part = next(part for part in message.iter_parts() if part.get_content_type() == "text/html")
        for attachment in outgoing.inline_parts:
            _add_related(html_part, attachment)
    return message


class _Buffer:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes, /) -> int:
        self.data += chunk
        return len(chunk)


def _add_related(html_part: MIMEPart, attachment: Attachment) -> None:
    buffer = _Buffer()
    write_payload(attachment, buffer)
    maintype, _, subtype = attachment.content_type.partition("/")
    html_part.add_related(
        bytes(buffer.data),
        maintype=maintype,
        subtype=subtype or "octet-stream",
        cid=f"<{attachment.content_id.strip('<>')}>" if attachment.content_id else None,
        filename=attachment.filename,
        disposition="inline",
    )
