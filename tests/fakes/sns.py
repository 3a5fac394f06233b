"""An in-memory SNS publisher (`sesflow.aws.sns.Publisher`): it keeps each notice as a subscriber would see
it (body, subject, typed attributes) and refuses what SNS would refuse for size before publishing.
tests/contracts/test_sns.py holds it to `Publisher` on moto's SNS."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from sesflow.aws.sns import MAX_PUBLISH_BYTES, MAX_SUBJECT_CHARS, AttributeValue, MessageTooLargeError


@dataclass(frozen=True)
class PublishedNotice:
    message_id: str
    topic_arn: str
    message: str
    subject: str | None
    attributes: Mapping[str, tuple[str, str]]  # name → (SNS type, value as text)


def _attribute(value: AttributeValue) -> tuple[str, str]:
    if isinstance(value, bool):
        return "String", str(value).lower()
    if isinstance(value, int | float):
        return "Number", str(value)
    if isinstance(value, list):
        return "String.Array", json.dumps(value)
    return "String", value


def _subject(subject: str) -> str:
    """SNS takes printable ASCII on one line: anything else becomes a space."""
    printable = "".join(c if " " <= c <= "~" else " " for c in subject)
    return " ".join(printable.split())[:MAX_SUBJECT_CHARS] or "sesflow"


@dataclass
class FakePublisher:
    published: list[PublishedNotice] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(
        self,
        topic_arn: str,
        message: str | Mapping[str, object],
        *,
        subject: str | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> str:
        body = message if isinstance(message, str) else json.dumps(message, default=str)
        typed = {name: _attribute(value) for name, value in (attributes or {}).items()}
        size = len(body.encode()) + sum(
            len(name.encode()) + len(kind) + len(text.encode()) for name, (kind, text) in typed.items()
        )
        if size > MAX_PUBLISH_BYTES:
            raise MessageTooLargeError(
                f"SNS message is {size} bytes with its attributes; the limit is {MAX_PUBLISH_BYTES}"
            )
        with self._lock:
            message_id = f"fake-sns-{next(self._ids):08d}"
            notice = PublishedNotice(
                message_id, topic_arn, body, None if subject is None else _subject(subject), typed
            )
            self.published.append(notice)
        return message_id

    def on(self, topic_arn: str) -> list[PublishedNotice]:
        return [notice for notice in self.published if notice.topic_arn == topic_arn]
