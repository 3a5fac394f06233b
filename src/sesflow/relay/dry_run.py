"""A dry run of the relay on one mail: the very same steps, with stand-ins that read the mail but never store,
move, sign, send or record anything — they note what would have been done.

The decision (relayed or refused, why, to whom, in how many sends) is the pipeline's own, so a dry run cannot
drift from a real run. What it cannot know: what SES itself would refuse (the stand-in sender takes anything).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from sesflow.aws.ses import NotedSends
from sesflow.aws.sns import AttributeValue
from sesflow.aws.store import ObjectMissing, StoredObject
from sesflow.config import RelaySettings
from sesflow.relay.context import MailContext
from sesflow.relay.deps import RelayDeps
from sesflow.relay.distribute import relay
from sesflow.relay.links import Clock, SignedLink, utc_now
from sesflow.relay.outcomes import Refused, Relayed
from sesflow.relay.ports import ObjectSink
from sesflow.relay.records import MailLocation


class _Discard:
    def write(self, data: bytes, /) -> int:
        return len(data)


@dataclass
class OneMail:
    """The mail to run, served from memory at its location; what would be stored or moved is noted."""

    location: MailLocation
    raw: bytes
    stored: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)

    def open(self, bucket: str, key: str) -> StoredObject:
        if not self.exists(bucket, key):
            raise ObjectMissing(bucket, key)
        return StoredObject(bucket, key, io.BytesIO(self.raw), len(self.raw), "application/octet-stream", {})

    def exists(self, bucket: str, key: str) -> bool:
        return (bucket, key) == (self.location.bucket, self.location.key)

    def move(self, bucket: str, key: str, new_key: str) -> None:
        self.moved.append(new_key)

    def writer(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        content_disposition: str | None = None,
        part_size: int | None = None,
    ) -> AbstractContextManager[ObjectSink]:
        self.stored.append(key)
        return nullcontext(_Discard())


@dataclass
class UnsignedLinks:
    """Links that name the stored object and carry no signature: a dry run holds no signing key."""

    lifetime: timedelta
    clock: Clock = utc_now

    def sign(self, bucket: str, key: str, *, download_name: str | None = None) -> SignedLink:
        return SignedLink(f"s3://{bucket}/{key}", self.clock() + self.lifetime, capped=False)


@dataclass
class NotedNotices:
    messages: list[str | Mapping[str, object]] = field(default_factory=list)

    def publish(
        self,
        topic_arn: str,
        message: str | Mapping[str, object],
        *,
        subject: str | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> str:
        self.messages.append(message)
        return f"dry-run-{len(self.messages)}"


class NoRecords(BasePersistenceLayer):
    """Idempotency records that are never kept: every chunk is new to a dry run."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def _get_record(self, idempotency_key: str) -> DataRecord:
        raise IdempotencyItemNotFoundError(idempotency_key)

    def _put_record(self, data_record: DataRecord) -> None:
        pass

    def _update_record(self, data_record: DataRecord) -> None:
        pass

    def _delete_record(self, data_record: DataRecord) -> None:
        pass


class NoMarks:
    def begin(self, key: str) -> bool:
        return True

    def forget(self, key: str) -> None:
        pass


@dataclass(frozen=True)
class DryRun:
    """What the relay decided, what the steps found on the way, and what would have gone out."""

    mail: MailContext
    outcome: Relayed | Refused
    envelopes: tuple[tuple[str, ...], ...]
    defects: tuple[str, ...]


def run_dry(raw: bytes, location: MailLocation, settings: RelaySettings) -> DryRun:
    """The relay's steps on `raw`, as if SES had stored it at `location`."""
    sends = NotedSends()
    deps = RelayDeps(
        settings=settings,
        store=OneMail(location, raw),
        signer=UnsignedLinks(timedelta(seconds=settings.presigned_expiration)),
        sender=sends,
        publisher=NotedNotices(),
        persistence=NoRecords(),
        attempts=NoMarks(),
    )
    mail = MailContext(location)
    with warnings.catch_warnings():
        # Powertools warns that it has no Lambda invocation whose time limit to keep: there is none here.
        warnings.filterwarnings("ignore", "Couldn't determine the remaining time left")
        outcome = relay(mail, deps)
    # The mail is in hand, so `load` parsed it, whatever the later steps decided.
    return DryRun(
        mail,
        outcome,
        tuple(send.recipients for send in sends.sends),
        tuple(sorted(mail.parsed.defect_kinds())),
    )
