"""What the relay needs from the outside, as small protocols: the AWS adapters in `sesflow.aws` fit them, and
so do the dry run's read-only stand-ins (`sesflow.relay.dry_run`) and a test's fakes."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from sesflow.aws.sns import AttributeValue
from sesflow.aws.store import StoredObject
from sesflow.relay.links import SignedLink


class ObjectSink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class MailStore(Protocol):
    """Where SES stored the mail and where its attachments go (`sesflow.aws.store.ObjectStore`)."""

    def open(self, bucket: str, key: str) -> StoredObject:
        """Start reading an object; raises `sesflow.aws.store.ObjectMissing` when it is not there."""
        ...

    def exists(self, bucket: str, key: str) -> bool: ...

    def move(self, bucket: str, key: str, new_key: str) -> None: ...

    def writer(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str = ...,
        metadata: Mapping[str, str] | None = ...,
        content_disposition: str | None = ...,
        part_size: int | None = ...,
    ) -> AbstractContextManager[ObjectSink]:
        """A sink for one object: what is written lands there when the block ends without an error."""
        ...


class LinkSigning(Protocol):
    """Links to stored attachments (`sesflow.relay.links.LinkSigner`)."""

    def sign(self, bucket: str, key: str, *, download_name: str | None = None) -> SignedLink: ...


class NoticePublisher(Protocol):
    """Publishes the fallback notices (`sesflow.aws.sns.Publisher`)."""

    def publish(
        self,
        topic_arn: str,
        message: str | Mapping[str, object],
        *,
        subject: str | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> str: ...


class SendMarks(Protocol):
    """A mark per chunk written just before SES is asked (`sesflow.aws.attempts.SendAttempts`)."""

    def begin(self, key: str) -> bool:
        """False when an earlier attempt left its mark: SES may have taken that chunk."""
        ...

    def forget(self, key: str) -> None:
        """SES answered that it did not take the chunk: a later attempt may send it."""
        ...
