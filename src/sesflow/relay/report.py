"""Step 9, report: one log line per mail, and a notice on the fallback topic for anything not relayed to
everyone listed, with where the mail is kept.

The notice carries the reason, sender, subject, message id and S3 location — never the body or an
attachment. Publishing is idempotent per (mail, reason, chunk), so a redelivered message announces once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from sesflow.relay.deps import RelayDeps
from sesflow.relay.outcomes import Outcome, Refusal, RefusalReason, Refused, Relayed, Skipped
from sesflow.relay.ports import NoticePublisher

logger = Logger(service="sesflow-relay")
metrics = Metrics(namespace="sesflow", service="relay")

#: A notice points at the mail; it never carries it. Whatever a sender controls is clipped to these sizes,
#: so a notice stays far below SNS's 256 KiB whatever the mail holds.
MAX_DETAIL_CHARS = 1000
MAX_SUBJECT_CHARS = 250
MAX_LISTED_ADDRESSES = 10
MAX_ADDRESS_CHARS = 254


class Notice(StrEnum):
    """Notices about a mail that was relayed, or about an SQS message that named no mail."""

    SES_ANSWER_LOST = "ses_answer_lost"
    SOME_RECIPIENTS_NOT_RELAYED = "some_recipients_not_relayed"
    UNREADABLE_EVENT = "unreadable_event"


type NoticeReason = RefusalReason | Notice


@dataclass(frozen=True)
class FallbackNotice:
    reason: NoticeReason
    detail: str
    bucket: str
    key: str
    message_id: str
    sender: str | None = None
    subject: str | None = None
    addresses: tuple[str, ...] = field(default_factory=tuple)
    chunk: int | None = None  # the chunk of recipients a notice is about, when it is about one

    def as_message(self) -> dict[str, Any]:
        message = {name: value for name, value in asdict(self).items() if value not in (None, ())}
        message["detail"] = self.detail[:MAX_DETAIL_CHARS]
        if self.subject is not None:
            message["subject"] = self.subject[:MAX_SUBJECT_CHARS]
        if self.sender is not None:
            message["sender"] = self.sender[:MAX_ADDRESS_CHARS]
        if self.addresses:
            message["addresses"] = [
                address[:MAX_ADDRESS_CHARS] for address in self.addresses[:MAX_LISTED_ADDRESSES]
            ]
            message["addresses_total"] = len(self.addresses)
        message["location"] = f"s3://{self.bucket}/{self.key}"
        return message


def publish_fallback(
    notice: FallbackNotice,
    *,
    publisher: NoticePublisher,
    topic_arn: str,
    persistence: BasePersistenceLayer,
    config: IdempotencyConfig,
) -> str:
    def publish(identity: dict[str, str]) -> dict[str, str]:
        message_id = publisher.publish(
            topic_arn,
            notice.as_message(),
            subject=f"sesflow relay: {notice.reason}: {notice.subject or notice.message_id}",
            attributes={"reason": str(notice.reason)},
        )
        return {"sns_message_id": message_id}

    publish_once: Callable[..., dict[str, str]] = idempotent_function(
        publish,
        data_keyword_argument="identity",
        persistence_store=persistence,
        config=config,
        key_prefix="relay",
    )

    identity = {"fallback": notice.key, "reason": str(notice.reason)}
    if notice.chunk is not None:
        identity["chunk"] = str(notice.chunk)
    return str(publish_once(identity=identity)["sns_message_id"])


def report(outcome: Outcome, deps: RelayDeps) -> None:
    """One log line per mail; a fallback notice for anything not relayed to everyone listed."""
    if isinstance(outcome, Skipped):
        logger.info("relay skipped", extra={"outcome": "skipped", "reason": outcome.reason})
    elif isinstance(outcome, Relayed):
        report_relayed(outcome, deps)
    else:
        report_refused(outcome, deps)


def report_relayed(outcome: Relayed, deps: RelayDeps) -> None:
    # Notices first: the outcome's log line says the mail is fully reported.
    for notice in notices_about(outcome):
        announce(notice, deps)
    metrics.add_metric(name="Relayed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Attachments", unit=MetricUnit.Count, value=outcome.attachments)
    metrics.add_metric(name="BytesOffloaded", unit=MetricUnit.Bytes, value=outcome.bytes_offloaded)
    logger.info(
        "relayed",
        extra={
            "outcome": "relayed",
            "key": outcome.location.key,
            "recipients": len(outcome.recipients),
            "sends": [chunk.message_id for chunk in outcome.chunks],
            "attachments": outcome.attachments,
            "refused_recipients": len(outcome.refused_recipients),
            "invalid_recipients": len(outcome.invalid_recipients),
        },
    )


def notices_about(outcome: Relayed) -> list[FallbackNotice]:
    """A notice per chunk SES may or may not have taken, and one for the addresses left out."""
    location = outcome.location
    notices = [
        FallbackNotice(
            Notice.SES_ANSWER_LOST,
            f"chunk {chunk.number}: SES may or may not have taken it ({chunk.uncertain}); "
            "not resent, so that no recipient gets it twice",
            location.bucket,
            location.key,
            location.message_id,
            addresses=chunk.recipients,
            chunk=chunk.number,
        )
        for chunk in outcome.chunks
        if chunk.uncertain
    ]
    left_out = outcome.refused_recipients + outcome.invalid_recipients
    if left_out:
        notices.append(
            FallbackNotice(
                Notice.SOME_RECIPIENTS_NOT_RELAYED,
                "addresses invalid or outside ALLOWED_RECIPIENT_DOMAINS",
                location.bucket,
                location.key,
                location.message_id,
                addresses=left_out,
            )
        )
    return notices


def report_refused(outcome: Refused, deps: RelayDeps) -> None:
    location = outcome.location
    notice = FallbackNotice(
        outcome.reason,
        outcome.detail,
        location.bucket,
        outcome.kept_at or location.key,
        location.message_id,
        outcome.sender,
        outcome.subject,
    )
    announce(notice, deps)
    quarantined = outcome.reason == Refusal.VIRUS
    metrics.add_metric(name="Quarantined" if quarantined else "Fallback", unit=MetricUnit.Count, value=1)
    logger.warning(
        "not relayed",
        extra={"outcome": "refused", "reason": outcome.reason, "detail": outcome.detail, "key": location.key},
    )


def announce(notice: FallbackNotice, deps: RelayDeps) -> None:
    publish_fallback(
        notice,
        publisher=deps.publisher,
        topic_arn=deps.settings.fallback_topic_arn,
        persistence=deps.persistence,
        config=deps.idempotency,
    )
