"""The tracking Lambda: settings → deps, the SQS batch (partial failures) or direct SNS shell, and the
hooks SnapStart runs (registered under the handler's module, `sesflow.notices.tracking`)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import SNSEvent, SQSEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sesflow import snapstart
from sesflow.aws.clients import AwsClients, default_clients
from sesflow.aws.tracking_ledger import TrackingTable
from sesflow.config import TrackingSettings, tracking_settings
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.notices.claims import ClaimTable
from sesflow.notices.tracking.deps import TrackingDeps
from sesflow.notices.tracking.events import read_message
from sesflow.notices.tracking.notifications import NetBoxNotifications
from sesflow.notices.tracking.pipeline import track_message
from sesflow.notices.tracking.report import logger, metrics, report

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

HANDLER_MODULE: Final = "sesflow.notices.tracking"


def deps_from(settings: TrackingSettings, clients: AwsClients) -> TrackingDeps:
    table_name = settings.common.idempotency_table
    return TrackingDeps(
        ledger=TrackingTable(table_name, clients.dynamodb),
        claims=ClaimTable(table_name, clients.dynamodb),
        notifications=NetBoxNotifications(NoticesApi(NetBoxClient.from_settings(settings.netbox))),
        on_outcome=report,
    )


@cache
def default_deps() -> TrackingDeps:
    return deps_from(tracking_settings(), default_clients())


def process_batch(
    event: dict[str, Any], context: LambdaContext | None, deps: TrackingDeps
) -> PartialItemFailureResponse:
    """An SQS batch; only the messages that raised are reported back for redelivery."""

    def record_handler(record: SQSRecord) -> None:
        track_message(record.body, deps)

    # A batch where every message failed is still answered with the list, not an exception: SQS then
    # redelivers exactly those, the same as for a partial failure.
    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def process_sns(event: dict[str, Any], deps: TrackingDeps) -> dict[str, Any]:
    """A direct SNS invoke: any failure raises, so SNS retries the delivery."""
    results = [track_message(record.sns.message, deps) for record in SNSEvent(event).records]
    return {"results": [[str(outcome.verdict) for outcome in outcomes] for outcomes in results]}


def trigger_of(event: dict[str, Any]) -> SNSEvent | SQSEvent:
    """The event as its trigger's record: a direct SNS invoke (each record from `aws:sns`) or an SQS batch."""
    sns = SNSEvent(event)
    records = list(sns.records)
    if records and all(record.get("EventSource") == "aws:sns" for record in records):
        return sns
    return SQSEvent(event)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, Any]:
    """The Lambda shell (contract path `sesflow.notices.tracking.handler`): SQS batches with partial
    failures, or a direct SNS event."""
    match trigger_of(event):
        case SNSEvent():
            return process_sns(event, default_deps())
        case SQSEvent():
            return process_batch(event, context, default_deps())


#: An SES event in miniature, for `warm`.
WARM_EVENT: Final = (
    '{"eventType": "Delivery", "mail": {"timestamp": "2026-01-01T00:00:00.000Z", "messageId": "warm",'
    ' "destination": ["noc@example.com"], "tags": {}}, "delivery": {"timestamp": "2026-01-01T00:00:01.000Z",'
    ' "recipients": ["noc@example.com"], "smtpResponse": "250 ok"}}'
)


def warm() -> None:
    """What the first event reads, read once before a SnapStart snapshot (`sesflow.snapstart`)."""
    read_message(WARM_EVENT)


snapstart.register_handler(HANDLER_MODULE, settings=tracking_settings, deps=default_deps, warm=warm)
