"""A relay wired to the in-memory fakes (tests/fakes/) through its own `RelayDeps`: the same handles as the
real-server world (tests/relay/conftest.py), read from the fakes instead of the servers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sesflow.config import Flow, load_settings
from sesflow.relay.deps import RelayDeps
from sesflow.relay.links import LinkSigner
from sesflow.resources import RESOURCES

from ..fakes.idempotency import FakeIdempotencyStore, OffsetClock
from ..fakes.object_store import FakeObjectStore
from ..fakes.send_marks import FakeSendAttempts
from ..fakes.ses import FakeSesSender, SentRaw
from ..fakes.sns import FakePublisher
from .builders import s3_notification, sqs_event

SENDER = "relay@ingest.example.com"
INCOMING = "incoming-mail"
ATTACHMENTS = "attachments"
TOPIC = "arn:aws:sns:us-east-1:123456789012:relay-fallback"


@dataclass
class FakeRelayWorld:
    """The relay's deps over the fakes, the fakes themselves, and the clock every part of it reads."""

    deps: RelayDeps
    store: FakeObjectStore
    sender: FakeSesSender
    publisher: FakePublisher
    persistence: FakeIdempotencyStore
    clock: OffsetClock
    counter: int = field(default=0)

    def put_mail(self, raw: bytes, message_id: str | None = None) -> str:
        self.counter += 1
        key = f"incoming/{message_id or f'msg{self.counter:04d}'}"
        self.store.put_bytes(INCOMING, key, raw)
        return key

    def s3_event(self, *keys: str) -> str:
        stored = [(key, self.store.get(INCOMING, key)) for key in keys]
        return s3_notification(INCOMING, [(key, len(item.data), item.etag) for key, item in stored])

    def sqs_event(self, *bodies: str) -> dict[str, Any]:
        return sqs_event(*bodies)

    def sent(self) -> list[SentRaw]:
        return list(self.sender.sent)

    def fallback_notices(self) -> list[dict[str, Any]]:
        """Every notice published since the last call, as the subscribed queue would have handed them out."""
        notices = [json.loads(notice.message) for notice in self.publisher.on(TOPIC)]
        self.publisher.published.clear()
        return notices

    def keys(self, bucket: str) -> list[str]:
        return list(self.store.list_keys(bucket))

    def with_settings(self, **changes: Any) -> RelayDeps:
        self.deps = replace(self.deps, settings=replace(self.deps.settings, **changes))
        return self.deps


def sent_message(sent: SentRaw) -> EmailMessage:
    parsed = message_from_bytes(sent.raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def fake_world() -> FakeRelayWorld:
    settings = load_settings(
        Flow.RELAY,
        {
            "IDEMPOTENCY_TABLE": RESOURCES.idempotency.name,
            "INCOMING_BUCKET": INCOMING,
            "ATTACHMENTS_BUCKET": ATTACHMENTS,
            "SENDER_EMAIL": SENDER,
            "SNS_TOPIC": TOPIC,
            "CONFIGURATION_SET": "relay-tracking",
        },
    )
    clock = OffsetClock()

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    store = FakeObjectStore(INCOMING, ATTACHMENTS)
    sender = FakeSesSender(verified={SENDER})
    publisher = FakePublisher()
    persistence = FakeIdempotencyStore(clock)
    deps = RelayDeps(
        settings=settings,
        store=store,
        signer=LinkSigner(store, timedelta(seconds=settings.presigned_expiration), None, clock=now),
        sender=sender,
        publisher=publisher,
        persistence=persistence,
        attempts=FakeSendAttempts(),
        clock=now,
    )
    return FakeRelayWorld(deps, store, sender, publisher, persistence, clock)
