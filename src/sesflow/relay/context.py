"""One stored mail on its way through the relay's steps: where it is stored, then what each step found."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage

from sesflow.mail import ParsedMail
from sesflow.relay.compose import Link
from sesflow.relay.offload import OffloadResult
from sesflow.relay.outcomes import RefusalReason, Refused, Relayed
from sesflow.relay.records import MailLocation
from sesflow.relay.send import SentChunk


@dataclass
class MailContext:
    """Each step sets what it found and the steps after it read it. The fields without a default are set
    by their step (named beside them) before any later step runs."""

    location: MailLocation
    parsed: ParsedMail = field(init=False)  # load
    subject: str = ""  # load: one clean line
    sender: str | None = None  # gate: the From address, when it is one
    recipients: tuple[str, ...] = ()  # recipients: the envelope, in punycode, inside the allowed domains
    refused_recipients: tuple[str, ...] = ()  # recipients: outside the allowed domains, or not sendable
    invalid_recipients: tuple[str, ...] = ()  # recipients: listed entries that are not addresses
    text: str | None = field(init=False)  # store_attachments (read before the parts are emptied)
    html: str | None = field(init=False)  # store_attachments
    offloaded: OffloadResult = field(init=False)  # store_attachments
    links: tuple[Link, ...] = field(init=False)  # sign_links
    message: EmailMessage = field(init=False)  # compose
    chunks: tuple[SentChunk, ...] = ()  # send

    def refused(self, reason: RefusalReason, detail: str, kept_at: str | None = None) -> Refused:
        """The mail is not relayed; it stays where SES stored it unless `kept_at` says otherwise."""
        return Refused(self.location, reason, detail, self.sender, self.subject, kept_at or self.location.key)

    def relayed(self) -> Relayed:
        stored = self.offloaded.stored
        return Relayed(
            self.location,
            self.recipients,
            self.chunks,
            attachments=len(stored),
            bytes_offloaded=sum(attachment.size for attachment in stored),
            refused_recipients=self.refused_recipients,
            invalid_recipients=self.invalid_recipients,
        )
