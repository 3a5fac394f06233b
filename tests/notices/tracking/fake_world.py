"""The tracking flow wired over the fakes: netbox-notices (FakeNotices), the ledger (FakeTrackingLedger) and
outbound's claims (FakeClaimStore), all on one clock the test moves, and an SQS queue in memory that hands
batches to the handler's own batch function the way the SNS → SQS trigger does."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sesflow.local import ses_events as ses
from sesflow.local.netbox.seed import ContactSeed, SeedData, Seeded, TemplateSeed
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus, PreparedNotification
from sesflow.notices.claims import Claims
from sesflow.notices.tracking.deps import TrackingDeps
from sesflow.notices.tracking.notifications import NetBoxNotifications
from sesflow.notices.tracking.outcomes import Tracked
from sesflow.notices.tracking.wiring import process_batch

from ...fakes.claim_store import FakeClaimStore
from ...fakes.notices import FakeNotices
from ...fakes.tracking_ledger import FakeTrackingLedger

CONTACTS = (
    ContactSeed("NOC", "noc@example.net"),
    ContactSeed("On call", "oncall@example.net"),
    ContactSeed("Field team", "field@example.org"),
)
RECIPIENTS = tuple(contact.email for contact in CONTACTS)
#: The queue's redrive policy: a message received this many times without success goes to the DLQ.
MAX_RECEIVES = 3
type Json = dict[str, Any]


@dataclass
class FakeClock:
    """One time for NetBox, the ledger's leases and the claims; it moves only when the test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def advance(self, by: timedelta) -> None:
        self.now += by

    def move_past(self, moment: datetime) -> None:
        """Past `moment` (NetBox refuses a timestamp ahead of its clock), as the real tests wait for it."""
        self.now = max(self.now, moment + timedelta(seconds=1))


@dataclass
class Message:
    body: str
    receives: int = 0

    @property
    def event_type(self) -> str:
        return str(json.loads(json.loads(self.body)["Message"])["eventType"])


@dataclass
class FakeQueue:
    """SQS as the trigger uses it: batches of ten, a failed message delivered again on the next drain, the
    DLQ after `MAX_RECEIVES` receives."""

    messages: list[Message] = field(default_factory=list)
    dlq: list[Message] = field(default_factory=list)

    def publish(self, event: Mapping[str, Any]) -> None:
        self.messages.append(Message(json.dumps(ses.sns_envelope(dict(event)))))

    def drain(self, deps: TrackingDeps) -> list[str]:
        """One pass over every message (a failed one is invisible until the next); returns the event types
        that failed, in order."""
        visible = [message for message in self.messages if message.receives < MAX_RECEIVES]
        self.dlq += [message for message in self.messages if message.receives >= MAX_RECEIVES]
        self.messages, failed = [], []
        for start in range(0, len(visible), 10):
            batch = visible[start : start + 10]
            records = [sqs_record(index, message) for index, message in enumerate(batch)]
            response = process_batch({"Records": records}, None, deps)
            failures = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            for index, message in enumerate(batch):
                message.receives += 1
                if f"m-{index}" in failures:
                    failed.append(message.event_type)
                    self.messages.append(message)
        return failed


def sqs_record(index: int, message: Message) -> Json:
    return ses.sqs_record(message.body, message_id=f"m-{index}")


@dataclass
class FakeWorld:
    """NetBox with three contacts and a template, the ledger and the claims, the queue, and the outcomes the
    flow reported."""

    clock: FakeClock
    notices: FakeNotices
    seeded: Seeded
    ledger: FakeTrackingLedger
    claims: Claims
    queue: FakeQueue = field(default_factory=FakeQueue)
    outcomes: list[Tracked] = field(default_factory=list)

    @classmethod
    def at(cls, moment: datetime, *, notices: type[FakeNotices] = FakeNotices) -> FakeWorld:
        clock = FakeClock(moment)
        netbox = notices(clock=clock)
        seeded = netbox.seed(SeedData(contacts=CONTACTS, template=TemplateSeed()))
        ledger = FakeTrackingLedger(clock=clock.seconds)
        claims = Claims(FakeClaimStore(clock=clock.seconds), clock=clock.seconds)
        return cls(clock, netbox, seeded, ledger, claims)

    @property
    def deps(self) -> TrackingDeps:
        notifications = NetBoxNotifications(cast(NoticesApi, self.notices))
        return TrackingDeps(self.ledger, self.claims, notifications, on_outcome=self.outcomes.append)

    # prepared notifications in the states the tests start from
    def ready(self, emails: Sequence[str] = RECIPIENTS) -> PreparedNotification:
        assert self.seeded.template is not None
        created = self.notices.create_prepared_notification(
            template_id=self.seeded.template,
            subject="Planned maintenance",
            body_text="Work on ZAYO-0001",
            contact_ids=[self.seeded.contacts[email] for email in emails],
        )
        return self.notices.transition(created.id, NotificationStatus.READY, message="approved")

    def sent(self, emails: Sequence[str] = RECIPIENTS) -> PreparedNotification:
        ready = self.ready(emails)
        self.clock.advance(timedelta(seconds=2))
        return self.mark_sent(ready.id)

    def mark_sent(self, notification_id: int, message_id: str = "outbound") -> PreparedNotification:
        return self.notices.transition(
            notification_id, NotificationStatus.SENT, message=f"Sent via SES (MessageId: {message_id})"
        )

    # the trigger
    def publish(self, *events: Mapping[str, Any]) -> None:
        for event in events:
            self.queue.publish(event)

    def drain(self, deps: TrackingDeps | None = None) -> list[str]:
        return self.queue.drain(deps or self.deps)

    def send_through(self, *events: Mapping[str, Any]) -> list[str]:
        self.publish(*events)
        return self.drain()

    # what NetBox keeps
    def status(self, notification_id: int) -> str:
        return str(self.notices.get_prepared_notification(notification_id).status)

    def journal(self, notification_id: int) -> list[str]:
        return [entry.comments for entry in self.notices.journal_entries(notification_id)]

    def kinds(self, notification_id: int) -> list[tuple[str, str]]:
        return [(entry.kind, entry.comments) for entry in self.notices.journal_entries(notification_id)]

    def state(self) -> tuple[Any, ...]:
        """Everything NetBox, the ledger and the claims keep, to show that a run wrote nothing."""
        ledger = self.ledger
        return (
            json.dumps(self.notices.notifications, sort_keys=True, default=str),
            json.dumps(self.notices.journal, sort_keys=True, default=str),
            {identity: (event.state, event.lease_until) for identity, event in ledger.events.items()},
            repr((ledger.delivered, ledger.failed, ledger.messages)),
            repr(self.claims.store.records),  # type: ignore[attr-defined]
        )
