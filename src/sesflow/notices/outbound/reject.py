"""A mail refused for good (by SES, or for want of a valid address): journaled, and held back a while."""

from __future__ import annotations

from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.journal import problems
from sesflow.notices.outbound.outcomes import Rejected


def reject(delivery: Delivery, deps: OutboundDeps, reason: str) -> Rejected:
    """The plugin has no `ready → failed`: the reason goes to a journal entry and the claim, which holds
    the notification back (one hour, doubling to a day) instead of retrying it on every poll."""
    refused = delivery.composition.refused_headers if delivery.is_composed else ()
    lines = [f"Not sent: {reason}", *problems(refused, delivery.invalid)]
    deps.notices.add_journal_entry(delivery.notification_id, "\n".join(lines), kind="warning")
    retry_at = deps.claims.reject(delivery.claim, reason)
    return Rejected(delivery.notification_id, reason, retry_at)
