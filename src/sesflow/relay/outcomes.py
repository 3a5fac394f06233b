"""What becomes of one mail: relayed, refused (why, and where it is kept), or skipped."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sesflow.relay.recipients import RefusalReason as RecipientsRefusal
from sesflow.relay.records import MailLocation
from sesflow.relay.send import SentChunk


class Refusal(StrEnum):
    """Why the relay refused a mail, besides a recipients list it could not use (`RecipientsRefusal`)."""

    MAIL_MISSING = "mail_missing"
    VIRUS = "virus"
    SPAM = "spam"
    NO_SENDER = "no_sender"
    SENDER_NOT_ALLOWED = "sender_not_allowed"
    RECIPIENT_DOMAIN_NOT_ALLOWED = "recipient_domain_not_allowed"
    SES_REJECTED = "ses_rejected"


type RefusalReason = Refusal | RecipientsRefusal


@dataclass(frozen=True)
class Relayed:
    location: MailLocation
    recipients: tuple[str, ...]
    chunks: tuple[SentChunk, ...]
    attachments: int
    bytes_offloaded: int
    refused_recipients: tuple[str, ...] = ()
    invalid_recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refused:
    location: MailLocation
    reason: RefusalReason
    detail: str
    sender: str | None = None
    subject: str | None = None
    kept_at: str | None = None


@dataclass(frozen=True)
class Skipped:
    reason: str


type Outcome = Relayed | Refused | Skipped
