"""The relay pipeline and its Lambda handler: one SQS message → the mails it names → each relayed or reported.

    read_record → load → gate → find_recipients → store_attachments → sign_links → compose → send → report

A step that decides the outcome ends the mail's run with a value (`Relayed`, `Refused`, `Skipped`).
Anything unexpected — throttling, a 5xx, a lost connection, a bug — is raised, so SQS retries the message
and finally keeps it in the DLQ: nothing is swallowed and nothing is lost.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from botocore.exceptions import ClientError

from sesflow import snapstart
from sesflow.aws.attempts import SendAttempts
from sesflow.aws.clients import AwsClients, default_clients
from sesflow.aws.ses import PermanentSendError, SesSender, account_send_rate
from sesflow.aws.sns import Publisher
from sesflow.aws.store import ObjectStore
from sesflow.config import RelaySettings, relay_settings
from sesflow.faults import checkpoint
from sesflow.mail import ParsedMail, parse_mail
from sesflow.relay.compose import Link, clean_header, compose
from sesflow.relay.gate import Refusal, check_gate, envelope_addresses, split_by_domain
from sesflow.relay.links import LinkSigner, utc_now
from sesflow.relay.offload import OffloadResult, store_attachments
from sesflow.relay.recipients import (
    RecipientsRefused,
    find_recipients,
    remove_marker_lines,
    remove_marker_lines_html,
)
from sesflow.relay.records import MailLocation, UnreadableRecordError, read_record
from sesflow.relay.report import FallbackNotice, publish_fallback
from sesflow.relay.send import IDEMPOTENCY_SECONDS, SentChunk, idempotency_config, send_in_chunks

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="sesflow-relay")
metrics = Metrics(namespace="sesflow", service="relay")

QUARANTINE_PREFIX = "quarantine/"
LOAD_CHUNK_SIZE = 1024 * 1024
"""Bytes per read from S3 while parsing: few enough reads that their overhead does not count."""


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
    reason: str
    detail: str
    sender: str | None = None
    subject: str | None = None
    kept_at: str | None = None


@dataclass(frozen=True)
class Skipped:
    reason: str


type Outcome = Relayed | Refused | Skipped


@dataclass
class RelayDeps:
    """What the pipeline needs from the outside, built once per container (or by a test)."""

    settings: RelaySettings
    store: ObjectStore
    signer: LinkSigner
    sender: SesSender
    publisher: Publisher
    persistence: BasePersistenceLayer
    attempts: SendAttempts
    idempotency: IdempotencyConfig = field(default_factory=idempotency_config)
    clock: Callable[[], datetime] = utc_now


def deps_from(settings: RelaySettings, clients: AwsClients, signing: AwsClients | None = None) -> RelayDeps:
    """Wire the pipeline to AWS; `signing` clients' credentials sign the links (default: `clients`)."""
    signing = signing or clients
    return RelayDeps(
        settings=settings,
        store=ObjectStore(clients.s3),
        signer=LinkSigner(
            ObjectStore(signing.s3),
            timedelta(seconds=settings.presigned_expiration),
            signing.session.get_credentials(),
        ),
        sender=SesSender(clients.sesv2, rate_source=lambda sesv2: account_send_rate(sesv2, clients.ses_v1)),
        publisher=Publisher(clients.sns),
        persistence=DynamoDBPersistenceLayer(
            table_name=settings.common.idempotency_table, boto3_client=clients.dynamodb
        ),
        attempts=relay_attempts(settings.common.idempotency_table, clients),
    )


def relay_attempts(table_name: str, clients: AwsClients) -> SendAttempts:
    return SendAttempts(table_name, clients.dynamodb, prefix="relay-asked", keep_seconds=IDEMPOTENCY_SECONDS)


def _signing_clients(settings: RelaySettings) -> AwsClients | None:
    """A long-lived key from Secrets Manager, read once per container, so links live as long as promised."""
    if settings.presign_credentials_secret_arn is None:
        return None
    import boto3
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(settings.presign_credentials_secret_arn, transform="json", max_age=3600)
    session = boto3.Session(
        aws_access_key_id=secret["aws_access_key_id"],
        aws_secret_access_key=secret["aws_secret_access_key"],
    )
    return AwsClients(session)


@cache
def default_deps() -> RelayDeps:
    settings = relay_settings()
    deps = deps_from(settings, default_clients(), _signing_clients(settings))
    freeze_wiring()
    return deps


def freeze_wiring() -> None:
    """Call once the pipeline is wired: what is alive then (modules, clients, their service models) lives
    as long as the process, so the cycle collector stops scanning it. A full collection over boto3's
    models took about 45 ms in the middle of a mail."""
    gc.collect()
    gc.freeze()


# --- the steps -------------------------------------------------------------------------------------------


def load(location: MailLocation, deps: RelayDeps) -> ParsedMail | None:
    """Stream the mail from S3 into the parser; None when the object is gone."""
    try:
        stored = deps.store.open(location.bucket, location.key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    return parse_mail(stored.body, chunk_size=LOAD_CHUNK_SIZE)


def quarantine(location: MailLocation, deps: RelayDeps) -> str:
    target = QUARANTINE_PREFIX + location.message_id
    deps.store.move(location.bucket, location.key, target)
    return target


def sign_links(offloaded: OffloadResult, deps: RelayDeps) -> list[Link]:
    bucket = deps.settings.attachments_bucket
    links = []
    for stored in offloaded.stored:
        signed = deps.signer.sign(bucket, stored.key, download_name=stored.filename)
        links.append(Link(stored, signed.url, signed.expires_at))
    return links


def relay_mail(location: MailLocation, deps: RelayDeps) -> Outcome:
    """One mail through the steps; the first step that decides the outcome ends it."""
    settings = deps.settings
    mail = load(location, deps)
    checkpoint("relay", "load")
    if mail is None:
        kept = QUARANTINE_PREFIX + location.message_id
        if deps.store.exists(location.bucket, kept):  # a retry after the quarantine step
            return Refused(location, Refusal.VIRUS, "SES virus verdict FAIL", kept_at=kept)
        return Refused(location, "mail_missing", f"{location.uri} no longer exists")
    subject = clean_header(mail.header("Subject") or "")

    gate = check_gate(mail, allowed_senders=settings.allowed_senders, relay_spam=settings.relay_spam)
    checkpoint("relay", "gate")
    if gate.refusal is not None:
        kept_at = quarantine(location, deps) if gate.quarantine else location.key
        return Refused(location, gate.refusal, gate.detail, gate.sender, subject, kept_at)

    found = find_recipients(mail, marker=settings.recipients_marker, max_recipients=settings.max_recipients)
    checkpoint("relay", "recipients")
    if isinstance(found, RecipientsRefused):
        return Refused(location, found.reason, found.detail, gate.sender, subject, location.key)
    sendable, unsendable = envelope_addresses(found.addresses)
    recipients, refused = split_by_domain(tuple(sendable), settings.allowed_recipient_domains)
    refused += unsendable
    if not recipients:
        detail = f"no recipient in ALLOWED_RECIPIENT_DOMAINS: {', '.join(refused)}"
        return Refused(location, "recipient_domain_not_allowed", detail, gate.sender, subject, location.key)

    text = mail.text_body()
    html_body = mail.html_body()
    offloaded = store_attachments(
        mail,
        store=deps.store,
        bucket=settings.attachments_bucket,
        message_id=location.message_id,
        source_key=location.key,
        max_inline_bytes=settings.inline_image_max_bytes,
    )
    checkpoint("relay", "store_attachments")
    links = sign_links(offloaded, deps)
    checkpoint("relay", "sign_links")
    message = compose(
        sender=settings.sender_email,
        reply_to=gate.sender,
        subject=subject,
        text=None if text is None else remove_marker_lines(text, marker=settings.recipients_marker),
        html_body=None
        if html_body is None
        else remove_marker_lines_html(html_body, marker=settings.recipients_marker),
        links=links,
        inline_parts=offloaded.kept_inline,
        now=deps.clock(),
    )
    checkpoint("relay", "compose")
    try:
        chunks = send_in_chunks(
            message.as_bytes(),
            recipients,
            location=location,
            sender=deps.sender,
            from_address=settings.sender_email,
            configuration_set=settings.configuration_set,
            persistence=deps.persistence,
            config=deps.idempotency,
            attempts=deps.attempts,
        )
    except PermanentSendError as error:
        return Refused(location, "ses_rejected", str(error), gate.sender, subject, location.key)
    checkpoint("relay", "send")
    return Relayed(
        location,
        tuple(recipients),
        tuple(chunks),
        attachments=len(offloaded.stored),
        bytes_offloaded=sum(stored.size for stored in offloaded.stored),
        refused_recipients=tuple(refused),
        invalid_recipients=tuple(invalid.text for invalid in found.invalid),
    )


def report(outcome: Outcome, deps: RelayDeps) -> None:
    """One log line per mail; a fallback notice for anything not relayed to everyone listed."""
    if isinstance(outcome, Skipped):
        logger.info("relay skipped", extra={"outcome": "skipped", "reason": outcome.reason})
        return
    location = outcome.location
    if isinstance(outcome, Relayed):
        # Notices first: the outcome's log line says the mail is fully reported.
        for chunk in outcome.chunks:
            if chunk.uncertain:
                _announce(
                    FallbackNotice(
                        "ses_answer_lost",
                        f"chunk {chunk.number}: SES may or may not have taken it ({chunk.uncertain}); "
                        "not resent, so that no recipient gets it twice",
                        location.bucket,
                        location.key,
                        location.message_id,
                        addresses=chunk.recipients,
                        chunk=chunk.number,
                    ),
                    deps,
                )
        left_out = outcome.refused_recipients + outcome.invalid_recipients
        if left_out:
            _announce(
                FallbackNotice(
                    "some_recipients_not_relayed",
                    "addresses invalid or outside ALLOWED_RECIPIENT_DOMAINS",
                    location.bucket,
                    location.key,
                    location.message_id,
                    addresses=left_out,
                ),
                deps,
            )
        metrics.add_metric(name="Relayed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Attachments", unit=MetricUnit.Count, value=outcome.attachments)
        metrics.add_metric(name="BytesOffloaded", unit=MetricUnit.Bytes, value=outcome.bytes_offloaded)
        logger.info(
            "relayed",
            extra={
                "outcome": "relayed",
                "key": location.key,
                "recipients": len(outcome.recipients),
                "sends": [chunk.message_id for chunk in outcome.chunks],
                "attachments": outcome.attachments,
                "refused_recipients": len(outcome.refused_recipients),
                "invalid_recipients": len(outcome.invalid_recipients),
            },
        )
        return
    _announce(
        FallbackNotice(
            outcome.reason,
            outcome.detail,
            location.bucket,
            outcome.kept_at or location.key,
            location.message_id,
            outcome.sender,
            outcome.subject,
        ),
        deps,
    )
    quarantined = outcome.reason == Refusal.VIRUS
    metrics.add_metric(name="Quarantined" if quarantined else "Fallback", unit=MetricUnit.Count, value=1)
    logger.warning(
        "not relayed",
        extra={"outcome": "refused", "reason": outcome.reason, "detail": outcome.detail, "key": location.key},
    )


def _announce(notice: FallbackNotice, deps: RelayDeps) -> None:
    publish_fallback(
        notice,
        publisher=deps.publisher,
        topic_arn=deps.settings.fallback_topic_arn,
        persistence=deps.persistence,
        config=deps.idempotency,
    )


def process_message(body: str, deps: RelayDeps) -> list[Outcome]:
    """Every mail an SQS message names, each relayed or reported. Raises only what is worth a retry."""
    try:
        locations = read_record(body)
    except UnreadableRecordError as error:
        logger.warning("unreadable SQS message", extra={"outcome": "unreadable", "detail": str(error)})
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        _announce(FallbackNotice("unreadable_event", str(error), "", f"sqs-body-{digest}", ""), deps)
        return [Skipped(f"unreadable: {error}")]
    if not locations:
        outcome: Outcome = Skipped("no mail in this notification (test event or SES setup object)")
        report(outcome, deps)
        return [outcome]
    outcomes = []
    for location in locations:
        outcome = relay_mail(location, deps)
        report(outcome, deps)
        checkpoint("relay", "report")
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


#: A device's mail in miniature, for `warm`.
WARM_MAIL = (
    b"From: gw@plant.example.com\r\nTo: relay@ingest.example.com\r\nSubject: warm\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nEmail_Rxers_Code:[noc@example.com]:Email_Rxers_Code:\r\n"
)


def warm() -> None:
    """What a container's first mail loads and caches, done before a SnapStart snapshot (`sesflow.snapstart`):
    the MIME parser, the recipients' markers and their validation."""
    settings = relay_settings()
    find_recipients(
        parse_mail(WARM_MAIL), marker=settings.recipients_marker, max_recipients=settings.max_recipients
    )


def wire_without_secrets() -> None:
    """The wiring priming builds: the clients and the pipeline, signing with the function's own credentials;
    the signing key from Secrets Manager is read after the restore, so it never sits in a snapshot."""
    deps_from(relay_settings(), default_clients())


snapstart.register_handler(
    __name__, settings=relay_settings, deps=default_deps, warm=warm, wire=wire_without_secrets
)
