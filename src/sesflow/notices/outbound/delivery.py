"""What outbound's steps share: the notification on its way through them, and what they need from outside."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from sesflow.config import OutboundSettings
from sesflow.mail.addresses import InvalidAddress
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationVersion, PreparedNotification
from sesflow.notices.claims import Claim, Claims
from sesflow.pipeline import StepHook

if TYPE_CHECKING:
    from sesflow.aws.ses import MailSender
    from sesflow.mail.compose import Composition

#: Notifications handled at once on a schedule: SES's rate limiter paces the sends, the rest overlaps.
WORKERS: Final = 8


@dataclass
class OutboundDeps:
    settings: OutboundSettings
    notices: NoticesApi
    claims: Claims
    sender: MailSender
    workers: int = WORKERS
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: Hooks around each step of every delivery (the kill points are always there; tests add their own).
    hooks: Sequence[StepHook] = ()


@dataclass
class Delivery:
    """One notification on its way through the steps. `claim` is set by the claim step and `composition`
    by the compose step; a step after them finds them there (a step that decides an outcome ends the run)."""

    notification: PreparedNotification
    round: str
    # Unset until their step: left out of repr and comparison, which would read them.
    claim: Claim = field(init=False, repr=False, compare=False)
    composition: Composition = field(init=False, repr=False, compare=False)
    invalid: tuple[InvalidAddress, ...] = ()
    message_ids: dict[int, str] = field(default_factory=dict)  # part → SES message id
    marked: NotificationVersion | None = None  # what the schedule's bulk PATCH to `sent` left

    @property
    def notification_id(self) -> int:
        return self.notification.id

    @property
    def is_claimed(self) -> bool:
        """Whether the claim step won the claim (before it, or after a lost one, there is none)."""
        return "claim" in vars(self)

    @property
    def is_composed(self) -> bool:
        return "composition" in vars(self)
