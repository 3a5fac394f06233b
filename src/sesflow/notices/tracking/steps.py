"""The tracking flow's steps. Once per event: `locate` it, `check_send`, record its `evidence`; then for
each recipient's share of it: `claim` → `record` → `decide` → `apply` → `finish`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sesflow.netbox.errors import NetBoxNotFound
from sesflow.notices.tracking import rule
from sesflow.notices.tracking.deps import TrackingDeps
from sesflow.notices.tracking.events import EventType, Observation, SesEvent
from sesflow.notices.tracking.ledger import Claimed, Failure, Ledger, TrackingLedger
from sesflow.notices.tracking.outcomes import Action, Decision, Tracked, Verdict

#: A share's decision until `decide` makes one: nothing to write.
UNDECIDED: Final = Decision(Verdict.NOTHING)


@dataclass(frozen=True)
class Place:
    """The notification an event belongs to, and outbound's round of it (`-` when the mail has none)."""

    notification_id: int
    round: str


@dataclass
class Arrival:
    """One SES event, placed. `send_shown`: something other than this event shows SES took the message."""

    event: SesEvent
    place: Place
    send_shown: bool = False


@dataclass
class Share:
    """One recipient's share of an event on its way through the steps."""

    arrival: Arrival
    observation: Observation
    claimed: Claimed | None = None  # None until `claim` took it
    ledger: Ledger = field(default_factory=Ledger)
    etag: str | None = None  # the notification's, as `decide` read it
    decision: Decision = UNDECIDED
    identity: str = field(init=False)

    def __post_init__(self) -> None:
        self.identity = self.arrival.event.identity(self.observation)

    @property
    def marker(self) -> str:
        """Ends every text written for this share, so a replay can tell it was written already."""
        return f"(event {self.identity[:12]})"

    @property
    def holds_event(self) -> bool:
        """This run took the event: it gives it back if it fails."""
        return self.claimed in {Claimed.FRESH, Claimed.REPLAY}

    def tracked(
        self, verdict: Verdict, detail: str = "", actions: tuple[Action, ...] = (), *, retry: bool = False
    ) -> Tracked:
        event = self.arrival.event
        notification_id, recipient = self.arrival.place.notification_id, self.observation.recipient
        return Tracked(
            event.type, event.message_id, notification_id, recipient, verdict, detail, actions, retry
        )


def locate(event: SesEvent, ledger: TrackingLedger) -> Place | None:
    """The notification and outbound round the event belongs to: its tag, or for a feedback notification
    (no tags) what an earlier tagged event of the same message taught us."""
    notification_id = event.notification_id
    if notification_id is None:
        owner = ledger.message_owner(event.message_id) if event.legacy else None
        return Place(*owner) if owner is not None else None
    ledger.remember_message(event.message_id, notification_id, event.round)
    return Place(notification_id, event.round)


# --- once per event ----------------------------------------------------------------------------------------


def check_send(arrival: Arrival, deps: TrackingDeps) -> None:
    # Asked before this event adds its own evidence: a first arrival with nothing to show the send waits for
    # outbound to mark it; its redelivery finds this event's evidence and completes `ready → sent` itself.
    arrival.send_shown = deps.claims.shows_send(arrival.place.notification_id, arrival.event.message_id)


def evidence(arrival: Arrival, deps: TrackingDeps) -> None:
    """Any event of a tagged message shows SES took it: outbound's claim learns that."""
    event = arrival.event
    if event.notification_id is not None:
        deps.claims.record_send_evidence(arrival.place.notification_id, event.message_id, event.tags)


# --- per recipient's share ---------------------------------------------------------------------------------


def claim(share: Share, deps: TrackingDeps) -> Tracked | None:
    """Dedupe by event identity: an event applied before, or held by another run, goes no further."""
    share.claimed = Claimed(deps.ledger.claim(share.identity))
    if share.claimed is Claimed.DONE:
        return share.tracked(Verdict.DUPLICATE, "this event was applied before")
    if share.claimed is Claimed.BUSY:
        return share.tracked(Verdict.BUSY, "another run is applying this event", retry=True)
    return None


def record(share: Share, deps: TrackingDeps) -> None:
    """The recipient's outcome in the ledger (atomically, with every other one known)."""
    event, observation = share.arrival.event, share.observation
    notification_id, round_id = share.arrival.place.notification_id, share.arrival.place.round
    if event.type is EventType.DELIVERY:
        stored = deps.ledger.record_delivery(
            notification_id, round_id, observation.recipient, observation.timestamp
        )
    elif event.is_failure:
        failure = Failure(str(event.type), observation.detail, observation.timestamp)
        stored = deps.ledger.record_failure(notification_id, round_id, observation.recipient, failure)
    else:
        stored = deps.ledger.outcomes(notification_id, round_id)
    share.ledger = Ledger.of(stored)


def decide(share: Share, deps: TrackingDeps) -> Tracked | None:
    """The notification as NetBox has it, and the rule's writes for it; an event an earlier run wrote
    already, or one that must wait for the send, goes no further."""
    notification_id = share.arrival.place.notification_id
    try:
        notification = deps.notifications.read(notification_id)
    except NetBoxNotFound:
        deps.ledger.finish(share.identity)
        return share.tracked(Verdict.UNKNOWN_NOTIFICATION, "NetBox has no such prepared notification")
    if share.claimed is Claimed.REPLAY and deps.notifications.has_marker(notification_id, share.marker):
        deps.ledger.finish(share.identity)
        return share.tracked(Verdict.REPLAYED, "an earlier run wrote this event to NetBox")
    arrival = share.arrival
    share.etag = notification.etag
    share.decision = rule.decide(
        arrival.event,
        share.observation,
        share.ledger,
        notification,
        send_shown=arrival.send_shown,
        marker=share.marker,
    )
    decision = share.decision
    if decision.retry_later:
        deps.ledger.release(share.identity)
        return share.tracked(decision.verdict, decision.detail, decision.actions, retry=True)
    return None


def apply(share: Share, deps: TrackingDeps) -> None:
    deps.notifications.apply(share.arrival.place.notification_id, share.etag, share.decision.actions)


def finish(share: Share, deps: TrackingDeps) -> None:
    deps.ledger.finish(share.identity)
