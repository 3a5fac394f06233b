"""What a run decides for one notification, and the one log line and metric each decision gets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="sesflow-notices-outbound")
metrics = Metrics(namespace="sesflow", service="notices-outbound")


class Result(StrEnum):
    """The result code logged, returned by the webhook and counted (`outbound_<result>`)."""

    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"
    NOT_READY = "not_ready"
    NOT_FOUND = "not_found"
    HELD = "held"
    DONE = "done"
    BACKING_OFF = "backing_off"
    AWAITING_SES_EVIDENCE = "awaiting_ses_evidence"


@dataclass(frozen=True)
class Sent:
    notification_id: int
    message_ids: tuple[str, ...]
    recipients: int
    result: Result = Result.SENT


@dataclass(frozen=True)
class Skipped:
    """Nothing sent by this run: `not_ready`, `not_found`, `held` (another run has it), `done`,
    `backing_off` (SES refused it before), `awaiting_ses_evidence` (see docs/outbound.md)."""

    notification_id: int
    result: Result
    until: float | None = None


@dataclass(frozen=True)
class Rejected:
    """SES (or our checks) refused the mail for good; journaled, and tried again only after `retry_at`."""

    notification_id: int
    reason: str
    retry_at: float
    result: Result = Result.REJECTED


@dataclass(frozen=True)
class Failed:
    """An unexpected error (NetBox or SES unavailable, a bug); the next run picks the notification up."""

    notification_id: int
    error: str
    result: Result = Result.FAILED


type Outcome = Sent | Skipped | Rejected
#: What a run reports per notification: a decision, or the unexpected error that stopped it.
type Attempt = Outcome | Failed


def failed(notification_id: int, error: Exception) -> Failed:
    logger.exception("outbound notification failed", extra={"notification_id": notification_id})
    return Failed(notification_id, f"{type(error).__name__}: {error}")


def report(attempt: Attempt) -> None:
    fields: dict[str, Any] = {
        name: str(value) if isinstance(value, Result) else value
        for name, value in dataclasses.asdict(attempt).items()
    }
    logger.info("outbound notification", extra=fields)
    metrics.add_metric(name=f"outbound_{attempt.result}", unit=MetricUnit.Count, value=1)
