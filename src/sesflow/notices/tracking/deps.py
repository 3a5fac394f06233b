"""What the tracking flow needs from the outside: the ledger, outbound's claim table (for the send evidence),
the prepared notifications in NetBox, and where each share's outcome goes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sesflow.notices.tracking.ledger import TrackingLedger
from sesflow.notices.tracking.notifications import Notifications
from sesflow.notices.tracking.outcomes import Tracked


class SendEvidence(Protocol):
    """Outbound's claim table, as far as tracking uses it (`sesflow.notices.claims.ClaimTable`)."""

    def record_send_evidence(
        self, notification_id: int, ses_message_id: str, tags: Mapping[str, Sequence[str]]
    ) -> None: ...

    def shows_send(self, notification_id: int, ses_message_id: str) -> bool: ...


def _ignore(tracked: Tracked) -> None:
    pass


@dataclass
class TrackingDeps:
    ledger: TrackingLedger
    claims: SendEvidence
    notifications: Notifications
    on_outcome: Callable[[Tracked], None] = field(default=_ignore)
