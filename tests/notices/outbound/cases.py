"""What outbound's tests over the real servers and over the fakes share: the tables they run over, and the
world over the fakes (FakeNotices, FakeClaimStore, FakeSesSender and a clock that only moves when told)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any, Final

from sesflow.config import Flow, OutboundSettings, load_settings
from sesflow.local.netbox.seed import DEMO_SEED, Seeded
from sesflow.netbox.records import NotificationStatus
from sesflow.notices.claims import Claims
from sesflow.notices.outbound.delivery import OutboundDeps
from sesflow.notices.outbound.outcomes import Sent

from ...fakes.claim_store import FakeClaimStore
from ...fakes.notices import FakeNotices
from ...fakes.ses import FakeSesSender, SentRaw

#: How NetBox treats conditional writes: "etag" as 4.6+ do (NetBox 4.7 as it is), "no-etag" as 4.5 does.
ETAG, NO_ETAG = "etag", "no-etag"
NETBOX_MODES: Final = [ETAG, NO_ETAG]
#: The steps a run is killed after, then the next run must end with exactly one mail.
CRASH_STEPS: Final = ["claim", "refresh", "compose", "send", "mark_sent"]
#: Notifications in the race of a webhook against two schedules.
RACING_NOTIFICATIONS: Final = 100

FROM = "notices@sesflow.example"
CONFIGURATION_SET = "notices-tracking"
SECRET = "outbound-webhook-secret"
#: 2031-03-01T00:00:00Z: the fake clock's start (any fixed moment; nothing depends on the value).
START = 1930003200.0


class FakeClock:
    """Epoch seconds that only move when a test says so (leases, back-off and evidence waits)."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self(), UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def settings(**environ: str) -> OutboundSettings:
    return load_settings(
        Flow.OUTBOUND,
        {
            "NETBOX_URL": "http://netbox.invalid",
            "NETBOX_API_TOKEN": "0123456789abcdef0123456789abcdef01234567",
            "IDEMPOTENCY_TABLE": "sesflow-idempotency",
            "SES_FROM_ADDRESS": FROM,
            "SES_CONFIGURATION_SET": CONFIGURATION_SET,
            "WEBHOOK_SECRET": SECRET,
            **environ,
        },
    )


def notification_of(mail: SentRaw) -> int:
    """The notification id of a mail SES took, read from the Message-ID outbound derives from it."""
    message_id = str(message_from_bytes(mail.raw, policy=policy.default)["Message-ID"])
    return int(message_id.split(".", 1)[0].removeprefix("<notification-"))


@dataclass
class FakeOutbound:
    """One test's world over the fakes: netbox-notices with the demo seed, the claims, SES and a clock."""

    etags: bool = True
    clock: FakeClock = field(default_factory=FakeClock)
    notices: FakeNotices = field(init=False)
    seeded: Seeded = field(init=False)
    store: FakeClaimStore = field(init=False)
    ses: FakeSesSender = field(default_factory=lambda: FakeSesSender(verified={FROM}))

    def __post_init__(self) -> None:
        self.notices = FakeNotices(clock=self.clock.datetime, etags=self.etags)
        self.seeded = self.notices.seed(DEMO_SEED)
        self.store = FakeClaimStore(clock=self.clock)

    @classmethod
    def in_mode(cls, netbox_mode: str) -> FakeOutbound:
        return cls(etags=netbox_mode == ETAG)

    def deps(
        self, *, notices: FakeNotices | None = None, sender: Any = None, workers: int = 4, **environ: str
    ) -> OutboundDeps:
        """Wired as the Lambda wires it, with the fakes in place of NetBox, DynamoDB and SES."""
        return OutboundDeps(
            settings=settings(**environ),
            notices=notices or self.notices,  # type: ignore[arg-type]  # the fake offers NoticesApi's methods
            claims=Claims(self.store, clock=self.clock),
            sender=sender or self.ses,
            workers=workers,
            now=self.clock.datetime,
        )

    def ready(self, count: int = 1, *, notices: FakeNotices | None = None) -> list[int]:
        """`count` notifications created as drafts to every seeded contact and approved (`draft → ready`)."""
        plugin = notices or self.notices
        assert self.seeded.template is not None
        ids = []
        for n in range(count):
            created = plugin.create_prepared_notification(
                template_id=self.seeded.template,
                subject=f"Planned maintenance {n}",
                body_text="Work on ZAYO-0001 from 02:00 to 04:00 UTC.",
                contact_ids=list(self.seeded.contacts.values()),
            )
            plugin.transition(created.id, NotificationStatus.READY)
            ids.append(created.id)
        return ids

    def sent_notification_ids(self) -> list[int]:
        return [notification_of(mail) for mail in self.ses.sent]

    def status(self, notification_id: int) -> str:
        return self.notices.get_prepared_notification(notification_id).status

    def journal(self, notification_id: int) -> str:
        return "\n".join(entry.comments for entry in self.notices.journal_entries(notification_id))

    def event_tags(self) -> dict[str, list[str]]:
        """The tags SES puts in `mail.tags` of its events for the last mail: ours, as sent, each a list."""
        return {name: [value] for name, value in self.ses.sent[-1].tags.items()}

    def approve_again(self, notification_id: int) -> None:
        """Tracking marks the mail sent, SES reports a bounce, and someone approves it again, a second later
        (the new approval is a new round only if NetBox's clock moved)."""
        self.clock.advance(1)
        for status in (NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.READY):
            self.notices.transition(notification_id, status, message=f"test: {status}")

    def moved_on_by_tracking(self, notification_id: int) -> None:
        self.notices.transition(notification_id, NotificationStatus.SENT, message="completed by tracking")
        self.notices.transition(notification_id, NotificationStatus.DELIVERED, message="delivered")


class AfterStep:
    """A step hook that calls `action` with the delivery each time the named step (or milestone) is done:
    a test changes the world between two steps with it."""

    def __init__(self, step: str, action: Callable[[Any], None]) -> None:
        self.step = step
        self.action = action

    def before(self, flow: str, step: str, context: object) -> None:
        pass

    def after(self, flow: str, step: str, context: object) -> None:
        if step == self.step:
            self.action(context)


def once(change: Callable[[], None]) -> Callable[[object], None]:
    """An action that changes the world the first time only."""
    pending = [change]

    def act(_: object) -> None:
        if pending:
            pending.pop()()

    return act


def sent_ids_by_notification(outcomes: Sequence[object]) -> dict[int, tuple[str, ...]]:
    return {o.notification_id: o.message_ids for o in outcomes if isinstance(o, Sent)}
