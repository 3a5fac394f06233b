"""The claim around a delivery: won first, so no other run sends this round; finished once NetBox says
`sent` (`reject.py` gives it up for a while when the mail is refused)."""

from __future__ import annotations

from sesflow.notices.claims import NotClaimed
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.outcomes import Result, Sent, Skipped


def claim(delivery: Delivery, deps: OutboundDeps) -> Skipped | None:
    """Win this round's claim, so no other run sends it; a run that lost learns why."""
    won = deps.claims.acquire(delivery.notification_id, delivery.round)
    if isinstance(won, NotClaimed):
        return Skipped(delivery.notification_id, Result(won.why), won.until)
    delivery.claim = won
    delivery.message_ids = {part: mid for part in (*won.sent, *won.evidence) if (mid := won.message_id(part))}
    return None


def release(delivery: Delivery, deps: OutboundDeps) -> Sent:
    """NetBox says `sent`: the claim is finished."""
    deps.claims.done(delivery.claim)
    return Sent(
        delivery.notification_id,
        tuple(delivery.message_ids[part] for part in sorted(delivery.message_ids)),
        sum(len(mail.recipients) for mail in delivery.composition.mails),
    )
