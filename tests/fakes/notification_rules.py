"""The rules netbox-notices (NetBox 4.7) applies to a prepared notification's status, and the error bodies
it answers with when it refuses one, as the contract tests saw them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sesflow.netbox.records import NotificationStatus as Status

ALLOWED: Mapping[str, tuple[str, ...]] = {
    Status.DRAFT: (Status.READY,),
    Status.READY: (Status.SENT,),
    Status.SENT: (Status.DELIVERED, Status.FAILED),
    Status.FAILED: (Status.READY,),
    Status.DELIVERED: (),
}
#: The journal entry a transition with a message leaves, by the status it reaches.
JOURNAL_KIND: Mapping[str, str] = {Status.DELIVERED: "success", Status.FAILED: "warning"}
NO_RECIPIENTS = "Cannot approve notification with no recipients. Add contacts first."
IN_THE_FUTURE = "timestamp cannot be in the future"
SENT_BEFORE_APPROVAL = "sent_at cannot be before approved_at"
DELIVERED_BEFORE_SENT = "delivered_at cannot be before sent_at"


def iso(moment: datetime) -> str:
    """A datetime as NetBox writes it in JSON."""
    return moment.isoformat().replace("+00:00", "Z")


def when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def refused_transition(current: str, target: str) -> dict[str, Any]:
    valid = ", ".join(ALLOWED[current]) or "none"
    return {"status": [f"Cannot transition from '{current}' to '{target}'. Valid: {valid}"]}


def refusal(
    item: Mapping[str, Any], target: str, moment: datetime, now: datetime, recipients: Sequence[Any]
) -> dict[str, Any] | None:
    """Why the plugin refuses moving `item` to `target` at `moment`, or None when it allows it; `recipients`
    is what approving it would snapshot. A move to the status it already has is allowed (and changes
    nothing), whatever the timestamp."""
    current = item["status"]
    if target == current:
        return None
    if target not in ALLOWED[current]:
        return refused_transition(current, target)
    if moment > now:
        return {"timestamp": IN_THE_FUTURE}
    if target == Status.READY and not recipients:
        return {"timestamp": NO_RECIPIENTS}
    return _order_refusal(item, target, moment)


def _order_refusal(item: Mapping[str, Any], target: str, moment: datetime) -> dict[str, Any] | None:
    # Only the timestamp given (or now) is checked: an older `sent_at` kept from an earlier round is not.
    approved_at, sent_at = when(item["approved_at"]), when(item["sent_at"])
    if target == Status.SENT and approved_at is not None and moment < approved_at:
        return {"timestamp": SENT_BEFORE_APPROVAL}
    if target == Status.DELIVERED and sent_at is not None and moment < sent_at:
        return {"timestamp": DELIVERED_BEFORE_SENT}
    return None


def apply(
    item: dict[str, Any], target: str, moment: datetime, now: datetime, recipients: Sequence[Any]
) -> str | None:
    """Move `item` (already checked with `refusal`) to `target`; returns the journal kind the move earns
    when it changes the status, None for a same-status no-op."""
    current = item["status"]
    if target == current:
        return None
    if target == Status.READY:
        item["recipients"] = [dict(recipient) for recipient in recipients]
        item["approved_at"] = iso(now)  # the server's clock, whatever timestamp was given
    elif target == Status.SENT:
        item["sent_at"] = item["sent_at"] or iso(moment)
    elif target == Status.DELIVERED:
        item["delivered_at"] = item["delivered_at"] or iso(moment)
    item["status"] = target
    return JOURNAL_KIND.get(target, "info")


def journal_text(previous: str, target: str, message: str) -> str:
    return f"Status: {previous} → {target}\n\n{message}"
