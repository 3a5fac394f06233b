"""The mail as SES's S3 action stored it: loaded for its receipt (the `load` step), or read back later from
the bucket (or a file) with the receipt it would have had.

SES's S3 action stores the mail with the headers SES added on top: `X-SES-Virus-Verdict`,
`X-SES-Spam-Verdict`, `Received-SPF` and `Authentication-Results: amazonses.com; spf=…; dkim=…; dmarc=…`.
Those give the gate the same verdicts the receipt event carried; a mail that never went through SES has none,
and is then refused by an authentication requirement unless the operator vouches for it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sesflow.mail import ParsedMail, parse_mail
from sesflow.notices.inbound.headers import date_of, header_addresses
from sesflow.notices.inbound.receipt import VERDICTS, Receipt

if TYPE_CHECKING:
    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome

#: The authserv-id SES writes in the Authentication-Results header it adds.
SES_AUTHSERV = "amazonses.com"
_RESULT = re.compile(r"\b(spf|dkim|dmarc)=([a-z]+)", re.IGNORECASE)


def load(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The raw mail SES's S3 action stored; a missing one raises `ObjectMissing` (S3 may lag; Lambda's
    retry reads it)."""
    stored = deps.store.open(deps.settings.bucket, deps.settings.key_prefix + mail.receipt.message_id)
    mail.loaded = parse_mail(stored.body)
    return None


def stored_verdicts(mail: ParsedMail) -> dict[str, str]:
    """The five verdicts as the receipt event names them, from SES's own headers (the first of each: SES
    prepends, so a copy further down came from the sender and is ignored)."""
    verdicts = dict.fromkeys(VERDICTS, "")
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
