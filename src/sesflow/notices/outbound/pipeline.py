"""Notices outbound: a prepared notification that is `ready` in NetBox → SES → `sent`, exactly once.

    claim → refresh → compose → send → mark_sent → release

- `claim`: win this round's claim in IDEMPOTENCY_TABLE (`notices/claims.py`), so no other run sends it;
- `refresh`: re-read the notification when the listing gave no ETag for the final PATCH;
- `compose`: the MIME for each part, to the addresses SES can take (none: rejected);
- `send`: each part not known to have gone to SES, its id recorded in the claim at once;
- `mark_sent`: PATCH `sent` in NetBox with the SES ids in the journal message;
- `release`: the claim is done.

One handler, two triggers (`lambda_handler.py`): an EventBridge schedule sends every `ready` notification
(`schedule.py`, which runs the steps up to `send` and the rest in two pools); NetBox's webhook sends the
one it names (`webhook.py`). The claim lets webhook and schedule race, runs overlap and crashes happen with
one mail per recipient in the end; docs/outbound.md goes through a crash after each step.
"""

from __future__ import annotations

from typing import Final

from sesflow.netbox.errors import NetBoxNotFound
from sesflow.netbox.records import NotificationStatus, PreparedNotification
from sesflow.notices.claims import LeaseLost
from sesflow.notices.outbound.claim import claim, release
from sesflow.notices.outbound.compose import compose
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.mark import mark_sent
from sesflow.notices.outbound.outcomes import Outcome, Result, Skipped
from sesflow.notices.outbound.refresh import refresh
from sesflow.notices.outbound.send import send
from sesflow.notices.rounds import round_of
from sesflow.pipeline import Pipeline

PIPELINE: Final[Pipeline[Delivery, OutboundDeps, Outcome]] = Pipeline(
    "outbound", (claim, refresh, compose, send, mark_sent, release)
)
#: The schedule runs the two halves in separate pools, so NetBox's PATCHes never hold back SES's pace.
SENDING: Final = PIPELINE.through("send")
MARKING: Final = PIPELINE.after("send")


def run_steps(
    delivery: Delivery, deps: OutboundDeps, steps: Pipeline[Delivery, OutboundDeps, Outcome]
) -> Outcome | None:
    """The steps in order until one decides the outcome (None: the steps ran out first). An unexpected
    error gives the claim back at once (the next run goes on from what the claim recorded) and is raised."""
    try:
        return steps.run(delivery, deps, hooks=deps.hooks)
    except LeaseLost:
        return Skipped(delivery.notification_id, Result.HELD)
    except Exception as error:
        if delivery.is_claimed:
            try:
                deps.claims.unlock(delivery.claim)
            except LeaseLost:
                error.add_note("the claim had already been taken over")
        raise


def deliver(notification: PreparedNotification, deps: OutboundDeps) -> Outcome:
    """One notification through all the steps; `release` always decides the outcome if no step before."""
    if notification.status != NotificationStatus.READY:
        return Skipped(notification.id, Result.NOT_READY)
    delivery = Delivery(notification, round_of(notification))
    outcome = run_steps(delivery, deps, PIPELINE)
    assert outcome is not None, "release returns the outcome"  # the last step always decides
    return outcome


def send_one(notification_id: int, deps: OutboundDeps) -> Outcome:
    """The webhook: the notification NetBox named, read again from NetBox (the payload is not trusted)."""
    try:
        notification = deps.notices.get_prepared_notification(notification_id)
    except NetBoxNotFound:
        return Skipped(notification_id, Result.NOT_FOUND)
    return deliver(notification, deps)
