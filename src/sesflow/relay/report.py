"""Step 9, report: mail that cannot be relayed is announced on the fallback topic, with where it is kept.

The notice carries the reason, sender, subject, message id and S3 location — never the body or an
attachment. Publishing is idempotent per (mail, reason, chunk), so a redelivered message announces once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from sesflow.aws.sns import Publisher

#: A notice points at the mail; it never carries it. Whatever a sender controls is clipped to these sizes,
#: so a notice stays far below SNS's 256 KiB whatever the mail holds.
MAX_DETAIL_CHARS = 1000
MAX_SUBJECT_CHARS = 250
MAX_LISTED_ADDRESSES = 10
MAX_ADDRESS_CHARS = 254


@dataclass(frozen=True)
class FallbackNotice:
    reason: str
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
    publisher: Publisher,
    topic_arn: str,
    persistence: BasePersistenceLayer,
    config: IdempotencyConfig,
) -> str:
    def publish(identity: dict[str, str]) -> dict[str, str]:
        message_id = publisher.publish(
            topic_arn,
            notice.as_message(),
            subject=f"sesflow relay: {notice.reason}: {notice.subject or notice.message_id}",
            attributes={"reason": notice.reason},
        )
        return {"sns_message_id": message_id}

    publish_once: Callable[..., dict[str, str]] = idempotent_function(
        publish,
        data_keyword_argument="identity",
        persistence_store=persistence,
        config=config,
        key_prefix="relay",
    )

    identity = {"fallback": notice.key, "reason": notice.reason}
    if notice.chunk is not None:
        identity["chunk"] = str(notice.chunk)
    return str(publish_once(identity=identity)["sns_message_id"])
