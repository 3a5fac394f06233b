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
from sesflow.notices.tracking.events import EventType, Observation, SesEvent
from sesflow.notices.tracking.ledger import Failure, Ledger
from sesflow.notices.tracking.outcomes import Decision, JournalNote, Transition, Verdict

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
class Case:
    """One observation as the rule weighs it: `status` and `sent_at` are the notification's once a send
    completed first is written; `marker` ends every text written."""

    event: SesEvent
    observation: Observation
    ledger: Ledger
    notification: NotificationView
    status: str
    sent_at: datetime | None
    marker: str


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
    case = Case(event, observation, ledger, notification, notification.status, notification.sent_at, marker)
    if event.round != "-" and notification.round and event.round != notification.round:
        return _earlier_round(case)
    if case.status == NotificationStatus.DRAFT:
        return Decision(Verdict.WAIT_FOR_SEND, detail="the notification is still a draft")
    if case.status != NotificationStatus.READY:
        return _outcome(case)
    if event.type is not EventType.SEND and not send_shown:
        return Decision(Verdict.WAIT_FOR_SEND, detail="nothing shows the send yet")
    # SES's own send time, kept after the approval (NetBox requires sent_at ≥ approved_at).
    sent_at = clamp(event.sent_at, notification.approved_at, notification.netbox_now)
    message = f"Sent via SES (MessageId: {event.message_id}); completed from the SES {event.type} event"
    outcome = _outcome(
        Case(event, observation, ledger, notification, NotificationStatus.SENT, sent_at, marker)
    )
    first = Transition(NotificationStatus.SENT, sent_at, message)
    return Decision(outcome.verdict.after_send(), (first, *outcome.actions), outcome.detail)


def _earlier_round(case: Case) -> Decision:
    """An event of a send before the notification was approved again (`failed → ready`): it says nothing
    about the current round, so it is kept in the journal and changes nothing."""
    event, observation = case.event, case.observation
    who = f" {observation.recipient}" if observation.recipient else ""
    text = f"[SES {event.type}] of an earlier send (round {event.round}, MessageId {event.message_id}){who}"
    detail = f": {observation.detail}" if observation.detail else ""
    return Decision(Verdict.EARLIER_ROUND, (JournalNote(WARNING, f"{text}{detail} {case.marker}"),))


def _who(event: SesEvent, observation: Observation) -> str:
    if observation.recipient:
        return observation.recipient
    count = len(event.destination)
    return "one of its recipients" if count != 1 else event.destination[0]


def _outcome(case: Case) -> Decision:
    event, observation = case.event, case.observation
    kind = event.type
    if kind is EventType.SUBSCRIPTION:
        return Decision(Verdict.NOTHING, detail="subscription preferences are not tracked")
    if kind is EventType.SEND:
        count = len(event.destination)
        text = f"[SES Send] accepted by SES for {count} recipient(s), MessageId {event.message_id}"
        return _journal(INFO, text, case.marker)
    if kind in {EventType.OPEN, EventType.CLICK}:
        what = f" ({observation.detail})" if observation.detail else ""
        return _journal(INFO, f"[SES {kind}] by {_who(event, observation)}{what}", case.marker)
    if kind is EventType.DELIVERY_DELAY or (kind is EventType.BOUNCE and not event.is_failure):
        return _still_trying(case)
    # An outcome: a delivery or a failure for this recipient.
    if case.status in FINAL:
        return _late(case)
    return _settle(case)


def _journal(kind: str, text: str, marker: str) -> Decision:
    return Decision(Verdict.JOURNAL, (JournalNote(kind, f"{text} {marker}"),))


def _still_trying(case: Case) -> Decision:
    """A delay or a bounce that is not for good: a warning in the journal, nothing else."""
    event, observation = case.event, case.observation
    label = (
        "DeliveryDelay"
        if event.type is EventType.DELIVERY_DELAY
        else f"Bounce ({event.bounce_type or 'Transient'})"
    )
    text = f"[SES {label}] to {observation.recipient}: {observation.detail or 'no diagnostic'}; still trying"
    return _journal(WARNING, text, case.marker)


def _late(case: Case) -> Decision:
    """An outcome after the final status: kept in the journal, the status stays."""
    event, observation, status = case.event, case.observation, case.status
    if event.type is EventType.DELIVERY and status == NotificationStatus.DELIVERED:
        return Decision(Verdict.NOTHING, detail="already delivered")
    what = "delivered" if event.type is EventType.DELIVERY else _failure_label(event)
    text = f"[SES {event.type}] after the notification was {status}: {what} for {observation.recipient}"
    detail = f": {observation.detail}" if observation.detail else ""
    return Decision(Verdict.LATE, (JournalNote(WARNING, f"{text}{detail} {case.marker}"),))


def _failure_label(event: SesEvent) -> str:
    if event.type is EventType.BOUNCE:
        return f"permanent bounce ({event.bounce_type})"
    return str(event.type).lower()


def _settle(case: Case) -> Decision:
    """`sent`, and an outcome recorded: the ledger, not the arrival order, says whether it is final."""
    recipients = case.notification.recipients or case.event.destination
    if case.ledger.failed:
        return _failed(case, recipients)
    ledger = case.ledger
    missing = [address for address in recipients if address not in ledger.delivered]
    if missing:
        count = len(recipients) - len(missing)
        return Decision(Verdict.WAITING, detail=f"{count} of {len(recipients)} recipients delivered")
    last = max(ledger.delivered[address] for address in recipients)
    text = f"[SES Delivery] delivered to all {len(recipients)} recipient(s): {', '.join(recipients)}"
    at = clamp(last, case.sent_at, case.notification.netbox_now)
    return Decision(
        Verdict.DELIVERED, (Transition(NotificationStatus.DELIVERED, at, f"{text} {case.marker}"),)
    )


def _failed(case: Case, recipients: Sequence[str]) -> Decision:
    """A recipient failed for good: the notification fails, naming them and who was delivered."""
    event, observation = case.event, case.observation
    if event.is_failure:
        who, failure = (
            observation.recipient,
            Failure(str(event.type), observation.detail, observation.timestamp),
        )
    else:  # a failure recorded earlier whose own run has not written it yet
        who, failure = min(case.ledger.failed.items(), key=lambda item: (item[1].at, item[0]))
    delivered = _delivered_list(recipients, case.ledger)
    text = f"[SES {failure.type}] {who}: {failure.detail or 'no diagnostic'}{delivered}"
    at = clamp(failure.at, case.sent_at, case.notification.netbox_now)
    return Decision(Verdict.FAILED, (Transition(NotificationStatus.FAILED, at, f"{text} {case.marker}"),))


def _delivered_list(recipients: Sequence[str], ledger: Ledger) -> str:
    done = [address for address in recipients if address in ledger.delivered]
    if not done:
        return ""
    return f"; delivered to {len(done)} of {len(recipients)}: {', '.join(done)}"
