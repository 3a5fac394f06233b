"""NetBox told the mail went: the PATCH to `sent`, and the undo of one that landed on a newer approval."""

from __future__ import annotations

from sesflow.netbox.errors import NetBoxConflict, NetBoxValidationError
from sesflow.netbox.records import NotificationStatus, PreparedNotification
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.journal import sent_message
from sesflow.notices.outbound.outcomes import logger
from sesflow.notices.rounds import round_of


def mark_sent(delivery: Delivery, deps: OutboundDeps) -> None:
    """PATCH `sent` with the SES ids in the message (a journal entry); NetBox sets `sent_at` itself, so no
    clock skew can refuse it. On a schedule, `mark_in_bulk` usually did this for many at once; then only
    what it left is checked.

    With ETags (NetBox 4.6+), If-Match turns a lost race into a 412 instead of a silent same-status no-op
    or a write to a newer approval. Without them (4.5, or a proxy that strips them) the PATCH lands on
    whatever NetBox has: `sent` from `delivered`/`failed` is refused (it moved on), and a write that met a
    newer approval shows it in the answer's `approved_at` and is put back while the claim is held."""
    if delivery.marked is not None:
        if round_of(delivery.marked) != delivery.round:
            undo_mark_of_another_round(delivery, deps)
        return
    if_match = delivery.notification.etag if deps.notices.honours_etags() else None
    try:
        marked = _patch_sent(delivery, deps, if_match)
    except (NetBoxConflict, NetBoxValidationError) as refused:
        current = deps.notices.get_prepared_notification(delivery.notification_id)
        if current.status != NotificationStatus.READY or round_of(current) != delivery.round:
            # It moved on already (tracking, or our own PATCH whose answer was lost, marked it), or it
            # was approved again after this round's mail went: that approval is for the next run.
            return
        if not isinstance(refused, NetBoxConflict):
            raise  # still `ready` in this round, yet refused: not a race, so not ours to explain away
        marked = _patch_sent(delivery, deps, current.etag)
    if round_of(marked) != delivery.round:
        undo_mark_of_another_round(delivery, deps)


def _patch_sent(delivery: Delivery, deps: OutboundDeps, if_match: str | None) -> PreparedNotification:
    return deps.notices.transition(
        delivery.notification_id, NotificationStatus.SENT, message=sent_message(delivery), if_match=if_match
    )


def undo_mark_of_another_round(delivery: Delivery, deps: OutboundDeps) -> None:
    """A PATCH without If-Match (a bulk one, or any on a NetBox without ETags) met a newer approval: after
    this round's mail went, tracking marked it `sent`, SES's bounce `failed`, and someone approved it
    again, all before the PATCH. While this run holds the notification's claim nobody can have sent that
    approval, so it goes back: `sent → failed → ready`, approved anew for the next run. If the claim was lost
    meanwhile, another run may have sent it: then it is only reported."""
    notification_id = delivery.notification_id
    current = deps.claims.get(notification_id)
    if current is None or current.owner != delivery.claim.owner:
        logger.error(
            "a mark without If-Match met another approval", extra={"notification_id": notification_id}
        )
        return
    mistaken = (
        f"Marked sent by mistake: the mail of the approval at {delivery.round} went, this approval's did not."
    )
    deps.notices.transition(notification_id, NotificationStatus.FAILED, message=mistaken)
    deps.notices.transition(notification_id, NotificationStatus.READY, message="Approved again, to be sent.")
