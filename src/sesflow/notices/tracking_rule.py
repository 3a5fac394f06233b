"""The tracking rule: what one SES observation means for a prepared notification, as a pure function.

It reads the event, the ledger of every recipient's outcome known so far (the event's own included), and the
notification as NetBox has it, and returns the NetBox writes to make. docs/tracking.md states the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sesflow.netbox.records import NotificationStatus
from sesflow.notices.ses_event import EventType, Observation, SesEvent
from sesflow.notices.tracking_table import Failure, Ledger

#: NetBox journal kinds (the plugin writes its own entry for a transition with a message).
INFO: Final = "info"
WARNING: Final = "warning"
FINAL: Final = frozenset({NotificationStatus.DELIVERED, NotificationStatus.FAILED})


@dataclass(frozen=True)
class NotificationView:
    """What the rule needs of a prepared notification; `netbox_now` is NetBox's clock, not ours."""

    id: int
    status: str
    recipients: tuple[str, ...]
    approved_at: datetime | None
    sent_at: datetime | None
    netbox_now: datetime
    etag: str | None = None
    round: str = ""  # outbound's round of the current approval (its `outbound_round` tag value)


@dataclass(frozen=True)
class Transition:
    status: NotificationStatus
    timestamp: datetime
    message: str


@dataclass(frozen=True)
class JournalNote:
    kind: str
    comments: str


type Action = Transition | JournalNote


@dataclass(frozen=True)
class Decision:
    """`verdict`: delivered, failed, journal, late (an outcome after the final status), waiting (more
    recipients to hear from), nothing, earlier_round, or wait_for_send (not `sent` and nothing shows it was:
    try again later); prefixed `sent+` when the send was completed first."""

    verdict: str
    actions: tuple[Action, ...] = ()
    detail: str = ""

    @property
    def retry_later(self) -> bool:
        return self.verdict == "wait_for_send"


def clamp(moment: datetime, earliest: datetime | None, latest: datetime) -> datetime:
    """Never ahead of NetBox's clock, never before `earliest` (NetBox refuses both)."""
    moment = min(moment, latest)
    return max(moment, earliest) if earliest is not None else moment


def decide(
    event: SesEvent,
    observation: Observation,
    ledger: Ledger,
    notification: NotificationView,
    *,
    send_shown: bool,
    marker: str,
) -> Decision:
    """The writes one observation calls for. `send_shown`: outbound's claim (or an earlier event) shows SES
    took this message. `marker` ends every text written, so a replay can tell it was written already."""
    status, sent_at = notification.status, notification.sent_at
    first: tuple[Action, ...] = ()
    if event.round != "-" and notification.round and event.round != notification.round:
        return _earlier_round(event, observation, notification, marker)
    if status == NotificationStatus.DRAFT:
        return Decision("wait_for_send", detail="the notification is still a draft")
    if status == NotificationStatus.READY:
        if event.type is not EventType.SEND and not send_shown:
            return Decision("wait_for_send", detail="nothing shows the send yet")
        # SES's own send time, kept after the approval (NetBox requires sent_at ≥ approved_at).
        sent_at = clamp(event.sent_at, notification.approved_at, notification.netbox_now)
        message = f"Sent via SES (MessageId: {event.message_id}); completed from the SES {event.type} event"
        first = (Transition(NotificationStatus.SENT, sent_at, message),)
        status = NotificationStatus.SENT
    outcome = _outcome(event, observation, ledger, notification, status, sent_at, marker)
    verdict = f"sent+{outcome.verdict}" if first else outcome.verdict
    return Decision(verdict, first + outcome.actions, outcome.detail)


def _earlier_round(
    event: SesEvent, observation: Observation, notification: NotificationView, marker: str
) -> Decision:
    """An event of a send before the notification was approved again (`failed → ready`): it says nothing
    about the current round, so it is kept in the journal and changes nothing."""
    who = f" {observation.recipient}" if observation.recipient else ""
    text = f"[SES {event.type}] of an earlier send (round {event.round}, MessageId {event.message_id}){who}"
    detail = f": {observation.detail}" if observation.detail else ""
    return Decision("earlier_round", (JournalNote(WARNING, f"{text}{detail} {marker}"),))


def _who(event: SesEvent, observation: Observation) -> str:
    if observation.recipient:
        return observation.recipient
    count = len(event.destination)
    return "one of its recipients" if count != 1 else event.destination[0]


def _outcome(
    event: SesEvent,
    observation: Observation,
    ledger: Ledger,
    notification: NotificationView,
    status: str,
    sent_at: datetime | None,
    marker: str,
) -> Decision:
    kind = event.type
    if kind is EventType.SUBSCRIPTION:
        return Decision("nothing", detail="subscription preferences are not tracked")
    if kind is EventType.SEND:
        count = len(event.destination)
        text = f"[SES Send] accepted by SES for {count} recipient(s), MessageId {event.message_id}"
        return Decision("journal", (JournalNote(INFO, f"{text} {marker}"),))
    if kind in {EventType.OPEN, EventType.CLICK}:
        what = f" ({observation.detail})" if observation.detail else ""
        text = f"[SES {kind}] by {_who(event, observation)}{what}"
        return Decision("journal", (JournalNote(INFO, f"{text} {marker}"),))
    if kind is EventType.DELIVERY_DELAY or (kind is EventType.BOUNCE and not event.is_failure):
        label = (
            "DeliveryDelay"
            if kind is EventType.DELIVERY_DELAY
            else f"Bounce ({event.bounce_type or 'Transient'})"
        )
        text = (
            f"[SES {label}] to {observation.recipient}: {observation.detail or 'no diagnostic'}; still trying"
        )
        return Decision("journal", (JournalNote(WARNING, f"{text} {marker}"),))
    # An outcome: a delivery or a failure for this recipient.
    if status in FINAL:
        return _late(event, observation, status, marker)
    return _settle(event, observation, ledger, notification, sent_at, marker)


def _late(event: SesEvent, observation: Observation, status: str, marker: str) -> Decision:
    """An outcome after the final status: kept in the journal, the status stays."""
    if event.type is EventType.DELIVERY and status == NotificationStatus.DELIVERED:
        return Decision("nothing", detail="already delivered")
    what = "delivered" if event.type is EventType.DELIVERY else _failure_label(event)
    text = f"[SES {event.type}] after the notification was {status}: {what} for {observation.recipient}"
    detail = f": {observation.detail}" if observation.detail else ""
    return Decision("late", (JournalNote(WARNING, f"{text}{detail} {marker}"),))


def _failure_label(event: SesEvent) -> str:
    if event.type is EventType.BOUNCE:
        return f"permanent bounce ({event.bounce_type})"
    return str(event.type).lower()


def _settle(
    event: SesEvent,
    observation: Observation,
    ledger: Ledger,
    notification: NotificationView,
    sent_at: datetime | None,
    marker: str,
) -> Decision:
    """`sent`, and an outcome recorded: the ledger, not the arrival order, says whether it is final."""
    recipients = notification.recipients or event.destination
    if ledger.failed:
        if event.is_failure:
            who, failure = (
                observation.recipient,
                Failure(str(event.type), observation.detail, observation.timestamp),
            )
        else:  # a failure recorded earlier whose own run has not written it yet
            who, failure = min(ledger.failed.items(), key=lambda item: (item[1].at, item[0]))
        delivered = _delivered_list(recipients, ledger)
        text = f"[SES {failure.type}] {who}: {failure.detail or 'no diagnostic'}{delivered}"
        at = clamp(failure.at, sent_at, notification.netbox_now)
        return Decision("failed", (Transition(NotificationStatus.FAILED, at, f"{text} {marker}"),))
    missing = [address for address in recipients if address not in ledger.delivered]
    if missing:
        count = len(recipients) - len(missing)
        return Decision("waiting", detail=f"{count} of {len(recipients)} recipients delivered")
    last = max(ledger.delivered[address] for address in recipients)
    text = f"[SES Delivery] delivered to all {len(recipients)} recipient(s): {', '.join(recipients)}"
    at = clamp(last, sent_at, notification.netbox_now)
    return Decision("delivered", (Transition(NotificationStatus.DELIVERED, at, f"{text} {marker}"),))


def _delivered_list(recipients: Sequence[str], ledger: Ledger) -> str:
    done = [address for address in recipients if address in ledger.delivered]
    if not done:
        return ""
    return f"; delivered to {len(done)} of {len(recipients)}: {', '.join(done)}"
