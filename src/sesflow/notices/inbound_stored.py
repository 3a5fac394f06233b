"""A mail read back from the bucket (or a file), not from a receipt event: the receipt it would have had.

SES's S3 action stores the mail with the headers SES added on top: `X-SES-Virus-Verdict`,
`X-SES-Spam-Verdict`, `Received-SPF` and `Authentication-Results: amazonses.com; spf=…; dkim=…; dmarc=…`.
Those give the gate the same verdicts the receipt event carried; a mail that never went through SES has none,
and is then refused by an authentication requirement unless the operator vouches for it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from sesflow.mail import ParsedMail
from sesflow.notices.providers import header_addresses
from sesflow.notices.receipt import Receipt

#: The authserv-id SES writes in the Authentication-Results header it adds.
SES_AUTHSERV = "amazonses.com"
_RESULT = re.compile(r"\b(spf|dkim|dmarc)=([a-z]+)", re.IGNORECASE)


def date_of(mail: ParsedMail) -> datetime | None:
    """The mail's Date header in UTC, or None when it has none or it cannot be read."""
    try:
        moment = parsedate_to_datetime(mail.header("Date") or "")
    except (TypeError, ValueError, IndexError):
        return None
    # "-0000" means "zone unknown"; NetBox needs an aware time, and UTC is the reading RFC 5322 suggests.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stored_verdicts(mail: ParsedMail) -> dict[str, str]:
    """The five verdicts as the receipt event names them, from SES's own headers (the first of each: SES
    prepends, so a copy further down came from the sender and is ignored)."""
    verdicts = {name: "" for name in ("spf", "dkim", "dmarc", "virus", "spam")}
    verdicts["virus"] = (mail.header("X-SES-Virus-Verdict") or "").strip().upper()
    verdicts["spam"] = (mail.header("X-SES-Spam-Verdict") or "").strip().upper()
    ses_results = next(
        (
            text
            for text in mail.headers("Authentication-Results")
            if text.strip().lower().startswith(SES_AUTHSERV)
        ),
        "",
    )
    for name, result in _RESULT.findall(ses_results):
        verdicts[name.lower()] = result.upper()
    return verdicts


def stored_receipt(message_id: str, mail: ParsedMail) -> Receipt:
    """The receipt for a stored mail; `received` is its Date (the S3 object does not keep SES's time)."""
    return_path = header_addresses(mail.message, "Return-Path")
    return Receipt(
        message_id=message_id,
        received=date_of(mail) or datetime.now(UTC),
        envelope_sender=return_path[0] if return_path else "",
        header_senders=tuple(header_addresses(mail.message, "From")),
        subject=mail.header("Subject") or "",
        verdicts=stored_verdicts(mail),
    )
