"""The notification as NetBox has it now, when the listing gave no ETag for the final PATCH."""

from __future__ import annotations

from sesflow.netbox.records import NotificationStatus
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.outcomes import Result, Skipped
from sesflow.notices.rounds import round_of


def refresh(delivery: Delivery, deps: OutboundDeps) -> Skipped | None:
    """Re-read the notification when it carries no ETag (a listed one carries the ETag of the version
    listed). A notification no longer `ready` in this round is left alone. A NetBox that gives no ETags
    (4.5) would give none now either: `mark_sent` checks its answer instead."""
    if delivery.notification.etag is not None or not deps.notices.honours_etags():
        return None
    current = deps.notices.get_prepared_notification(delivery.notification_id)
    if current.status != NotificationStatus.READY or round_of(current) != delivery.round:
        deps.claims.unlock(delivery.claim)
        return Skipped(delivery.notification_id, Result.NOT_READY)
    delivery.notification = current
    return None
