"""Notices tracking: SES sending events (configuration set → SNS → SQS, or SNS directly) → the prepared
notification's status and journal in NetBox.

    locate → check_send → evidence, then for each recipient's share: claim → record → decide → apply → finish

`locate` finds our `notification_id` tag (other senders' events are acknowledged and left alone);
`check_send` asks outbound's claim whether SES took the message, before `evidence` tells it this event
shows it did. Each recipient's share of the event is then deduped by event identity (`claim`), its outcome
`record`ed in the ledger, the rule in `rule` asked what to write (`decide`), written to NetBox (`apply`) and
the event marked applied (`finish`). An event for a notification that is not `sent` yet, a NetBox failure
or a conflict is reported back (SQS redelivers it; the DLQ keeps it in the end; a direct SNS invoke raises
so SNS retries). docs/tracking.md explains why a replay never writes twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sesflow.notices.tracking.deps import TrackingDeps
from sesflow.notices.tracking.events import SesEvent, UnreadableEvent, read_message
from sesflow.notices.tracking.outcomes import Tracked, Verdict
from sesflow.notices.tracking.report import report_unreadable
from sesflow.notices.tracking.steps import (
    Arrival,
    Share,
    apply,
    check_send,
    claim,
    decide,
    evidence,
    finish,
    locate,
    record,
)
from sesflow.pipeline import Pipeline

#: Once per event, after `locate`.
ARRIVAL: Pipeline[Arrival, TrackingDeps, Tracked] = Pipeline("tracking", (check_send, evidence))
#: Once per recipient's share of the event.
SHARE: Pipeline[Share, TrackingDeps, Tracked] = Pipeline("tracking", (claim, record, decide, apply, finish))


class RetryLater(Exception):
    """Some of the message's events could not be applied yet; SQS (or SNS) delivers it again."""


def track(event: SesEvent, deps: TrackingDeps) -> list[Tracked]:
    """Every recipient's share of one SES event."""
    place = locate(event, deps.ledger)
    if place is None:
        detail = "no notification_id tag (another sender's mail)"
        return [Tracked(event.type, event.message_id, None, "", Verdict.IGNORED, detail)]
    arrival = Arrival(event, place)
    ARRIVAL.run(arrival, deps)
    return [track_share(Share(arrival, observation), deps) for observation in event.observations]


def track_share(share: Share, deps: TrackingDeps) -> Tracked:
    try:
        outcome = SHARE.run(share, deps)
    except Exception:
        # Give the event back at once so the redelivery need not wait for the lease (as a replay).
        if share.holds_event:
            deps.ledger.release(share.identity)
        raise
    if outcome is not None:
        return outcome
    return share.tracked(share.decision.verdict, share.decision.detail, share.decision.actions)


def track_message(body: str | Mapping[str, Any], deps: TrackingDeps) -> list[Tracked]:
    """One SQS body or SNS message. Raises RetryLater when part of it must come again, UnreadableEvent when
    it is not an SES event (it then ends in the DLQ, where an operator can look at it)."""
    try:
        event = read_message(body)
    except UnreadableEvent as error:
        report_unreadable(error)
        raise
    outcomes = track(event, deps)
    for outcome in outcomes:
        deps.on_outcome(outcome)
    waiting = [outcome for outcome in outcomes if outcome.retry]
    if waiting:
        raise RetryLater(f"{event.type} {event.message_id}: {waiting[0].verdict} ({waiting[0].detail})")
    return outcomes
