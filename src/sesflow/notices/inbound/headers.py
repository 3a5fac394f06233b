"""What the inbound flow reads from a mail's own headers: its senders and its Date."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime

from sesflow.mail import ParsedMail, header_text


def header_addresses(message: EmailMessage, name: str) -> list[str]:
    text = header_text(message, name) or ""
    return [address.lower() for _, address in getaddresses([text]) if "@" in address]


def sender_addresses(message: EmailMessage, source_header: str | None = None) -> list[str]:
    """The addresses a mail is judged by: the operator's source header first (a list or alias that
    rewrites From keeps the original sender there), then From."""
    first = header_addresses(message, source_header) if source_header else []
    return list(dict.fromkeys([*first, *header_addresses(message, "From")]))


def date_of(mail: ParsedMail) -> datetime | None:
    """The mail's Date header in UTC, or None when it has none or it cannot be read."""
    try:
        moment = parsedate_to_datetime(mail.header("Date") or "")
    except (TypeError, ValueError, IndexError):
        return None
    # "-0000" means "zone unknown"; NetBox needs an aware time, and UTC is the reading RFC 5322 suggests.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
