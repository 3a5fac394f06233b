"""The `report` step: one structured log line and one metric per mail, with its outcome."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sesflow.notices.inbound.outcome import Outcome

logger = Logger(service="sesflow-notices-inbound")
metrics = Metrics(namespace="sesflow", service="notices-inbound")

type OnOutcome = Callable[[Outcome], None]


def log_outcome(outcome: Outcome) -> None:
    logger.info("inbound mail", extra=outcome.log_fields())
    metrics.add_metric(name=f"inbound_{outcome.result}", unit=MetricUnit.Count, value=1)


def report(outcome: Outcome, on_outcome: OnOutcome) -> None:
    """The outcome to the logs and metrics (`log_outcome`), or to whoever else runs the flow."""
    on_outcome(outcome)
