"""The schedule: every `ready` notification, several at once. One pool claims, composes and sends (SES's
limiter paces it); batches of those are marked `sent` in NetBox by two more, in bulk PATCHes."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Final

from sesflow.batching import Batcher
from sesflow.netbox.errors import NetBoxValidationError
from sesflow.netbox.records import NotificationStatus, NotificationVersion, PreparedNotification
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.journal import sent_message
from sesflow.notices.outbound.outcomes import Attempt, Failed, Outcome, Result, Skipped, failed, logger
from sesflow.notices.outbound.pipeline import MARKING, SENDING, run_steps
from sesflow.notices.rounds import round_of

#: Bulk PATCHes to `sent` at once, and notifications in one (NetBox applies a bulk write in one transaction).
MARKERS: Final = 2
MARK_BATCH: Final = 50


class OutboundStepFailed(Exception):
    """A step could not be done for a reason outside this notification (NetBox kept failing)."""


def send_ready(deps: OutboundDeps) -> list[Attempt]:
    """Every `ready` notification through the steps. All pages are read first: pages are offsets into the
    `ready` set, which shrinks as notifications are marked."""
    ready = list(deps.notices.ready_notifications())
    with (
        ThreadPoolExecutor(max(1, deps.workers)) as sending,
        Batcher(partial(mark_in_bulk, deps=deps), workers=MARKERS, max_batch=MARK_BATCH) as marking,
    ):
        handed = [sending.submit(send_then_hand_over, item, deps, marking) for item in ready]
        results = [future.result() for future in handed]
        return [item.result() if isinstance(item, Future) else item for item in results]


def send_then_hand_over(
    notification: PreparedNotification, deps: OutboundDeps, marking: Batcher[Delivery, Attempt]
) -> Attempt | Future[Attempt]:
    """The sending steps; a notification that went is handed to the marking pool."""
    if notification.status != NotificationStatus.READY:
        return Skipped(notification.id, Result.NOT_READY)
    delivery = Delivery(notification, round_of(notification))
    try:
        outcome = run_steps(delivery, deps, SENDING)
    except Exception as error:  # noqa: BLE001 - reported as Failed: the next run picks it up
        return failed(notification.id, error)
    if outcome is not None:
        return outcome
    return marking.submit(delivery)


def mark_in_bulk(deliveries: Sequence[Delivery], deps: OutboundDeps) -> list[Attempt]:
    """`mark_sent` and `release` for a batch of the schedule's deliveries. One PATCH per notification costs
    NetBox more than SES's pace allows, so they go in one bulk PATCH; what NetBox refuses (it applies all or
    none) goes alone with If-Match, and the rest in bulk again when NetBox said which it refused. If NetBox
    keeps failing, each fails and gives its claim back; the next run marks them from what the claims
    recorded."""
    try:
        marked = bulk_mark_sent(deliveries, deps)
    except Exception as error:  # noqa: BLE001 - each delivery of the batch fails with it, below
        logger.exception(
            "bulk mark failed", extra={"notification_ids": [d.notification_id for d in deliveries]}
        )
        return [unlock_after_failed_mark(delivery, deps, error) for delivery in deliveries]
    for delivery in deliveries:
        delivery.marked = marked.get(delivery.notification_id)
    return [finish_marking(delivery, deps) for delivery in deliveries]


def finish_marking(delivery: Delivery, deps: OutboundDeps) -> Attempt:
    """The steps after `send` for one delivery; `release` decides the outcome."""
    try:
        outcome: Outcome | None = run_steps(delivery, deps, MARKING)
    except Exception as error:  # noqa: BLE001 - reported as Failed: the next run picks it up
        return failed(delivery.notification_id, error)
    assert outcome is not None, "release returns the outcome"  # the last step always decides
    return outcome


def unlock_after_failed_mark(delivery: Delivery, deps: OutboundDeps, error: Exception) -> Attempt:
    """The claim goes back at once, as after any unexpected error; what the claim recorded stays."""
    try:
        deps.claims.unlock(delivery.claim)
    except Exception as unlock_error:  # noqa: BLE001 - reported as Failed: the next run goes on
        return failed(delivery.notification_id, unlock_error)
    logger.error(
        "outbound notification failed", extra={"notification_id": delivery.notification_id}, exc_info=error
    )
    failure = OutboundStepFailed(f"mark_sent: {type(error).__name__}: {error}")
    return Failed(delivery.notification_id, f"{type(failure).__name__}: {failure}")


def bulk_mark_sent(deliveries: Sequence[Delivery], deps: OutboundDeps) -> dict[int, NotificationVersion]:
    """Each notification as the bulk PATCH left it; those NetBox refused are left out, for `mark_sent` to
    mark alone. A refused bulk write applies nothing. NetBox 4.7 names the objects it refused (moved on
    meanwhile: tracking marked one, say), so the rest go again in one PATCH, each time without the named
    ones; an older NetBox names none, and then every notification of the batch goes alone."""
    pending = {d.notification_id: sent_message(d) for d in deliveries}
    while pending:
        try:
            marked = deps.notices.mark_sent_many(pending)
        except NetBoxValidationError as refused:
            named = pending.keys() & set(refused.refused_ids)
            logger.warning("bulk mark refused", extra={"refused": sorted(named), "detail": str(refused)})
            if not named:
                return {}
            pending = {number: text for number, text in pending.items() if number not in named}
            continue
        return {version.id: version for version in marked}
    return {}
