"""One structured log line and its counts per recipient's share of an event (and per unreadable message)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sesflow.notices.tracking.events import UnreadableEvent
from sesflow.notices.tracking.outcomes import Tracked

logger = Logger(service="sesflow-notices-tracking")
metrics = Metrics(namespace="sesflow", service="notices-tracking")


def report(tracked: Tracked) -> None:
    fields = tracked.log_fields()
    if tracked.retry:
        logger.warning("tracking event deferred", extra=fields)
    else:
        logger.info("tracking event", extra=fields)
    kind = tracked.event_type.replace(" ", "")
    metrics.add_metric(name=f"tracking_{kind}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name=f"tracking_decision_{tracked.verdict.replace('+', '_')}", unit=MetricUnit.Count, value=1
    )


def report_unreadable(error: UnreadableEvent) -> None:
    logger.warning("unreadable tracking message", extra={"decision": "unreadable", "detail": str(error)})
    metrics.add_metric(name="tracking_unreadable", unit=MetricUnit.Count, value=1)
