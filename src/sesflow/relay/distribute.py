"""The relay pipeline and its Lambda handler: one SQS message → the mails it names → each relayed or reported.

    read_record, then for each mail it names:
    load → gate → recipients → store_attachments → sign_links → compose → send, then report

- load: stream the mail from S3 into the parser;
- gate: SES's verdicts and the sender policy (a virus verdict moves the mail to quarantine);
- recipients: the `Email_Rxers_Code` list, in punycode for SES, inside the allowed domains;
- store_attachments: each attachment decoded straight into the attachments bucket;
- sign_links: an expiring link to each stored attachment;
- compose: the recipients' mail, the list removed and links in place of the attachments;
- send: in chunks of at most 50 recipients, each chunk exactly once;
- report: one log line, and a notice on the fallback topic for anything not relayed to everyone listed.

A step that refuses the mail ends its run with `Refused`; a run no step ended is `Relayed`. Each step's name
is its kill point (`relay.<step>`, `sesflow.faults`). Anything unexpected — throttling, a 5xx, a lost
connection, a bug — is raised, so SQS retries the message and finally keeps it in the DLQ: nothing is
swallowed and nothing is lost.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sesflow import snapstart
from sesflow.aws.ses import PermanentSendError
from sesflow.aws.store import ObjectMissing
from sesflow.config import relay_settings
from sesflow.mail import parse_mail
from sesflow.pipeline import Pipeline
from sesflow.relay.compose import Link, Outgoing, clean_header, compose_message
from sesflow.relay.context import MailContext
from sesflow.relay.deps import RelayDeps
from sesflow.relay.gate import check_gate, envelope_addresses, split_by_domain
from sesflow.relay.offload import AttachmentTarget, offload_attachments
from sesflow.relay.outcomes import Outcome, Refusal, Refused, Relayed, Skipped
from sesflow.relay.recipients import (
    RecipientsRefused,
    find_recipients,
    remove_marker_lines,
    remove_marker_lines_html,
)
from sesflow.relay.records import MailLocation, UnreadableRecordError, read_record
from sesflow.relay.report import FallbackNotice, Notice, announce, logger, metrics, report
from sesflow.relay.send import send_in_chunks
from sesflow.relay.wiring import (
    default_deps,
    deps_from,
    freeze_wiring,
    relay_attempts,
    warm,
    wire_without_secrets,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = [
    "Outcome",
    "Refused",
    "RelayDeps",
    "Relayed",
    "Skipped",
    "deps_from",
    "freeze_wiring",
    "handler",
    "process_batch",
    "process_message",
    "relay_attempts",
    "relay_mail",
]

FLOW = "relay"
QUARANTINE_PREFIX = "quarantine/"
LOAD_CHUNK_SIZE = 1024 * 1024
"""Bytes per read from S3 while parsing: few enough reads that their overhead does not count."""


# --- the steps -------------------------------------------------------------------------------------------


def load(mail: MailContext, deps: RelayDeps) -> Refused | None:
    """Stream the mail from S3 into the parser. A mail no longer there was quarantined by an earlier try,
    or is gone."""
    location = mail.location
    try:
        stored = deps.store.open(location.bucket, location.key)
    except ObjectMissing:
        kept = QUARANTINE_PREFIX + location.message_id
        if deps.store.exists(location.bucket, kept):  # a retry after the gate quarantined it
            return Refused(location, Refusal.VIRUS, "SES virus verdict FAIL", kept_at=kept)
        return Refused(location, Refusal.MAIL_MISSING, f"{location.uri} no longer exists")
    mail.parsed = parse_mail(stored.body, chunk_size=LOAD_CHUNK_SIZE)
    mail.subject = clean_header(mail.parsed.header("Subject") or "")
    return None


def gate(mail: MailContext, deps: RelayDeps) -> Refused | None:
    settings = deps.settings
    decision = check_gate(
        mail.parsed, allowed_senders=settings.allowed_senders, relay_spam=settings.relay_spam
    )
    mail.sender = decision.sender
    if decision.refusal is None:
        return None
    kept_at = quarantine(mail.location, deps) if decision.quarantine else None
    return mail.refused(decision.refusal, decision.detail, kept_at)


def quarantine(location: MailLocation, deps: RelayDeps) -> str:
    target = QUARANTINE_PREFIX + location.message_id
    deps.store.move(location.bucket, location.key, target)
    return target


def recipients(mail: MailContext, deps: RelayDeps) -> Refused | None:
    settings = deps.settings
    found = find_recipients(
        mail.parsed, marker=settings.recipients_marker, max_recipients=settings.max_recipients
    )
    if isinstance(found, RecipientsRefused):
        mail.invalid_recipients = tuple(invalid.text for invalid in found.invalid)
        return mail.refused(found.reason, found.detail)
    sendable, unsendable = envelope_addresses(found.addresses)
    allowed, outside = split_by_domain(tuple(sendable), settings.allowed_recipient_domains)
    mail.recipients = tuple(allowed)
    mail.refused_recipients = (*outside, *unsendable)
    mail.invalid_recipients = tuple(invalid.text for invalid in found.invalid)
    if not allowed:
        detail = f"no recipient in ALLOWED_RECIPIENT_DOMAINS: {', '.join(mail.refused_recipients)}"
        return mail.refused(Refusal.RECIPIENT_DOMAIN_NOT_ALLOWED, detail)
    return None


def store_attachments(mail: MailContext, deps: RelayDeps) -> None:
    settings = deps.settings
    # The bodies are read first: storing an attachment empties its part.
    mail.text, mail.html = mail.parsed.text_body(), mail.parsed.html_body()
    target = AttachmentTarget(settings.attachments_bucket, mail.location.message_id, mail.location.key)
    mail.offloaded = offload_attachments(
        mail.parsed, deps.store, target, max_inline_bytes=settings.inline_image_max_bytes
    )


def sign_links(mail: MailContext, deps: RelayDeps) -> None:
    bucket = deps.settings.attachments_bucket
    links = []
    for stored in mail.offloaded.stored:
        signed = deps.signer.sign(bucket, stored.key, download_name=stored.filename)
        links.append(Link(stored, signed.url, signed.expires_at))
    mail.links = tuple(links)


def compose(mail: MailContext, deps: RelayDeps) -> None:
    settings = deps.settings
    marker = settings.recipients_marker
    outgoing = Outgoing(
        sender=settings.sender_email,
        reply_to=mail.sender,
        subject=mail.subject,
        text=None if mail.text is None else remove_marker_lines(mail.text, marker=marker),
        html_body=None if mail.html is None else remove_marker_lines_html(mail.html, marker=marker),
        links=mail.links,
        inline_parts=mail.offloaded.kept_inline,
    )
    mail.message = compose_message(outgoing, deps.clock())


def send(mail: MailContext, deps: RelayDeps) -> Refused | None:
    raw = mail.message.as_bytes()
    try:
        chunks = send_in_chunks(
            raw,
            mail.recipients,
            location=mail.location,
            sender=deps.sender,
            envelope=deps.envelope,
            guard=deps.guard,
        )
    except PermanentSendError as error:
        return mail.refused(Refusal.SES_REJECTED, str(error))
    mail.chunks = tuple(chunks)
    return None


RELAY: Pipeline[MailContext, RelayDeps, Refused] = Pipeline(
    FLOW, (load, gate, recipients, store_attachments, sign_links, compose, send)
)


# --- one mail, one message, one batch --------------------------------------------------------------------


def relay(mail: MailContext, deps: RelayDeps) -> Relayed | Refused:
    """One mail through the steps; the first step that refuses it ends its run."""
    refused = RELAY.run(mail, deps)
    return refused if refused is not None else mail.relayed()


def relay_mail(location: MailLocation, deps: RelayDeps) -> Relayed | Refused:
    return relay(MailContext(location), deps)


def report_outcome(outcome: Outcome, deps: RelayDeps) -> None:
    """`report` as a step of its own, so that it has its kill point (`relay.report`). The one-step pipeline
    is built here rather than once, so that it runs this module's `report` of the moment: the local stack's
    kill test replaces it with one that dies between the send and the report."""
    Pipeline(FLOW, (report,)).run(outcome, deps)


def process_message(body: str, deps: RelayDeps) -> list[Outcome]:
    """Every mail an SQS message names, each relayed or reported. Raises only what is worth a retry."""
    try:
        locations = read_record(body)
    except UnreadableRecordError as error:
        logger.warning("unreadable SQS message", extra={"outcome": "unreadable", "detail": str(error)})
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        announce(FallbackNotice(Notice.UNREADABLE_EVENT, str(error), "", f"sqs-body-{digest}", ""), deps)
        return [Skipped(f"unreadable: {error}")]
    if not locations:
        skipped: Outcome = Skipped("no mail in this notification (test event or SES setup object)")
        report(skipped, deps)
        return [skipped]
    outcomes: list[Outcome] = []
    for location in locations:
        outcome = relay_mail(location, deps)
        report_outcome(outcome, deps)
        outcomes.append(outcome)
    return outcomes


def process_batch(
    event: dict[str, Any], context: LambdaContext | None, deps: RelayDeps
) -> PartialItemFailureResponse:
    """An SQS batch through the pipeline; only the messages that raised are reported back for a retry."""
    if context is not None:
        deps.idempotency.register_lambda_context(context)

    def record_handler(record: SQSRecord) -> None:
        process_message(record.body, deps)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=BatchProcessor(EventType.SQS), context=context
    )


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Lambda entry: wiring only."""
    return process_batch(event, context, default_deps())


snapstart.register_handler(
    __name__, settings=relay_settings, deps=default_deps, warm=warm, wire=wire_without_secrets
)
