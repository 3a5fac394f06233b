"""The relay's collaborators in one value, built once per container by the wiring (or by a test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from sesflow.aws.ses import MailSender
from sesflow.config import RelaySettings
from sesflow.relay.links import utc_now
from sesflow.relay.ports import LinkSigning, MailStore, NoticePublisher, SendMarks
from sesflow.relay.send import Envelope, SendGuard, idempotency_config


@dataclass
class RelayDeps:
    """What the pipeline needs from the outside."""

    settings: RelaySettings
    store: MailStore
    signer: LinkSigning
    sender: MailSender
    publisher: NoticePublisher
    persistence: BasePersistenceLayer
    attempts: SendMarks
    idempotency: IdempotencyConfig = field(default_factory=idempotency_config)
    clock: Callable[[], datetime] = utc_now

    @property
    def envelope(self) -> Envelope:
        return Envelope(self.settings.sender_email, self.settings.configuration_set)

    @property
    def guard(self) -> SendGuard:
        return SendGuard(self.persistence, self.idempotency, self.attempts)
