"""What the relay would do with one mail, computed without writing or sending anything (`--dry-run`)."""

from __future__ import annotations

from dataclasses import dataclass

from sesflow.config import RelaySettings
from sesflow.mail import ParsedMail, iter_attachments
from sesflow.relay.gate import check_gate, split_by_domain
from sesflow.relay.offload import attachment_key, referenced_content_ids, stays_inline
from sesflow.relay.recipients import RecipientsRefused, find_recipients


@dataclass(frozen=True)
class AttachmentPlan:
    filename: str
    content_type: str
    size: int
    destination: str  # the S3 key it would be stored at, or "inline"


@dataclass(frozen=True)
class Preview:
    sender: str | None
    subject: str
    refusal: str | None
    detail: str
    recipients: tuple[str, ...]
    left_out: tuple[str, ...]
    attachments: tuple[AttachmentPlan, ...]
    defects: tuple[str, ...]

    @property
    def sends(self) -> int:
        return -(-len(self.recipients) // 50)


def preview(mail: ParsedMail, message_id: str, settings: RelaySettings) -> Preview:
    subject = mail.header("Subject") or ""
    defects = tuple(sorted(mail.defect_kinds()))
    gate = check_gate(mail, allowed_senders=settings.allowed_senders, relay_spam=settings.relay_spam)
    if gate.refusal is not None:
        return Preview(gate.sender, subject, gate.refusal, gate.detail, (), (), (), defects)
    found = find_recipients(mail, marker=settings.recipients_marker, max_recipients=settings.max_recipients)
    if isinstance(found, RecipientsRefused):
        left_out = tuple(invalid.text for invalid in found.invalid)
        return Preview(gate.sender, subject, found.reason, found.detail, (), left_out, (), defects)
    recipients, refused = split_by_domain(found.addresses, settings.allowed_recipient_domains)
    referenced = referenced_content_ids(mail.html_body())
    plans = tuple(
        AttachmentPlan(
            attachment.filename,
            attachment.content_type,
            attachment.size,
            "inline"
            if stays_inline(attachment, referenced, settings.inline_image_max_bytes)
            else attachment_key(message_id, attachment),
        )
        for attachment in iter_attachments(mail)
    )
    left_out = tuple(refused) + tuple(invalid.text for invalid in found.invalid)
    refusal = None if recipients else "recipient_domain_not_allowed"
    return Preview(gate.sender, subject, refusal, "", tuple(recipients), left_out, plans, defects)
