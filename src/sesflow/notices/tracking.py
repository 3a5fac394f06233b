"""Notices tracking: SES sending events (configuration set → SNS → SQS, or SNS directly) → the prepared
notification's status and journal in NetBox.

    read → dedupe → record → decide → apply → report

`read` types the event and finds our `notification_id` tag (other senders' events are acknowledged and left
alone). Each recipient's share of the event is then deduped by event identity, recorded in the ledger,
decided by the rule in `tracking_rule` and applied to NetBox. An event for a notification that is not `sent`
yet, a NetBox failure or a conflict is reported back (SQS redelivers it; the DLQ keeps it in the end; a
direct SNS invoke raises so SNS retries). docs/tracking.md explains why a replay never writes twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from sesflow import snapstart
from sesflow.aws.clients import default_clients
from sesflow.config import tracking_settings
from sesflow.faults import checkpoint
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxNotFound
from sesflow.netbox.notices import PLUGIN, NoticesApi
from sesflow.netbox.records import PreparedNotification
from sesflow.notices.claims import ClaimTable
from sesflow.notices.rounds import round_of
from sesflow.notices.ses_event import EventType as SesEventType
from sesflow.notices.ses_event import Observation, SesEvent, UnreadableEvent, read_message
from sesflow.notices.tracking_rule import Action, Decision, NotificationView, Transition, decide
from sesflow.notices.tracking_table import Claimed, Failure, Ledger, TrackingTable

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="sesflow-notices-tracking")
metrics = Metrics(namespace="sesflow", service="notices-tracking")


class SendEvidence(Protocol):
    """Outbound's claim table, as far as tracking uses it (`sesflow.notices.claims.ClaimTable`)."""

    def record_send_evidence(
        self, notification_id: int, ses_message_id: str, tags: Mapping[str, Sequence[str]]
    ) -> None: ...

    def shows_send(self, notification_id: int, ses_message_id: str) -> bool: ...


class RetryLater(Exception):
    """Some of the message's events could not be applied yet; SQS (or SNS) delivers it again."""


@dataclass(frozen=True)
class Tracked:
    """What became of one recipient's share of an event (one log line each)."""

    event_type: str
    message_id: str
    notification_id: int | None
    recipient: str
    verdict: str
    detail: str = ""
    actions: tuple[Action, ...] = ()
    retry: bool = False

    def log_fields(self) -> dict[str, Any]:
        return {
            "event_type": self.event_type,
            "ses_message_id": self.message_id,
            "notification_id": self.notification_id,
            "recipient": self.recipient,
            "decision": self.verdict,
            "detail": self.detail[:500],
            "actions": [describe(action) for action in self.actions],
            "retry": self.retry,
        }


def describe(action: Action) -> str:
    if isinstance(action, Transition):
        return f"status → {action.status} at {action.timestamp.isoformat()}: {action.message}"
    return f"journal ({action.kind}): {action.comments}"


# --- NetBox, as the rule sees it --------------------------------------------------------------------------


def netbox_clock(headers: Mapping[str, str], data: Mapping[str, Any]) -> datetime:
    """NetBox's time: its `Date` header, or the object's latest timestamp if that is later (the header has
    whole seconds, so it never runs ahead of NetBox)."""
    moments: list[datetime] = []
    date = next((value for name, value in headers.items() if name.lower() == "date"), None)
    if date:
        try:
            moments.append(parsedate_to_datetime(date))
        except (TypeError, ValueError):
            logger.warning("NetBox sent an unreadable Date header", extra={"date": date})
    for name in ("last_updated", "approved_at", "sent_at", "delivered_at"):
        if isinstance(value := data.get(name), str) and value:
            moments.append(datetime.fromisoformat(value))
    if not moments:
        raise ValueError("NetBox's answer has neither a Date header nor a timestamp to learn its clock from")
    return max(moment if moment.tzinfo else moment.replace(tzinfo=UTC) for moment in moments)


class NetBoxNotifications:
    """Prepared notifications read with NetBox's clock, and the rule's actions written."""

    def __init__(self, api: NoticesApi) -> None:
        self.api = api

    def read(self, notification_id: int) -> NotificationView:
        answer = self.api.client.request("GET", f"{PLUGIN}/prepared-notifications/{notification_id}/")
        notification = PreparedNotification.from_api(answer.data, answer.etag)
        return NotificationView(
            id=notification.id,
            status=notification.status,
            recipients=tuple(dict.fromkeys(r.email.strip().lower() for r in notification.recipients)),
            approved_at=notification.approved_at,
            sent_at=notification.sent_at,
            netbox_now=netbox_clock(answer.headers, answer.data),
            etag=notification.etag,
            round=round_of(notification) if notification.approved_at else "",
        )

    def has_marker(self, notification_id: int, marker: str) -> bool:
        """Whether a journal entry (ours, or the plugin's for a transition message) carries the marker."""
        return any(marker in entry.comments for entry in self.api.journal_entries(notification_id))

    def apply(self, notification: NotificationView, actions: Sequence[Action]) -> None:
        """The actions in order; transitions carry the ETag read, so a concurrent change gives 412."""
        etag = notification.etag
        for action in actions:
            if isinstance(action, Transition):
                changed = self.api.transition(
                    notification.id,
                    action.status,
                    message=action.message,
                    timestamp=action.timestamp,
                    if_match=etag,
                )
                etag = changed.etag
            else:
                self.api.add_journal_entry(notification.id, action.comments, kind=action.kind)


# --- the flow ----------------------------------------------------------------------------------------------


@dataclass
class TrackingDeps:
    table: TrackingTable
    claims: SendEvidence
    netbox: NetBoxNotifications
    on_outcome: Callable[[Tracked], None] = field(default=lambda tracked: report(tracked))


@cache
def default_deps() -> TrackingDeps:
    settings = tracking_settings()
    clients = default_clients()
    table_name = settings.common.idempotency_table
    return TrackingDeps(
        table=TrackingTable(table_name, clients.dynamodb),
        claims=ClaimTable(table_name, clients.dynamodb),
        netbox=NetBoxNotifications(NoticesApi(NetBoxClient.from_settings(settings.netbox))),
    )


def locate(event: SesEvent, deps: TrackingDeps, *, dry_run: bool = False) -> tuple[int, str] | None:
    """The notification and outbound round the event belongs to: its tag, or for a feedback notification
    (no tags) what an earlier tagged event of the same message taught us."""
    notification_id = event.notification_id
    if notification_id is None:
        return deps.table.message_owner(event.message_id) if event.legacy else None
    if not dry_run:
        deps.table.remember_message(event.message_id, notification_id, event.round)
    return notification_id, event.round


def record(event: SesEvent, observation: Observation, where: tuple[int, str], table: TrackingTable) -> Ledger:
    """The recipient's outcome in the ledger (atomically, with every other one known)."""
    notification_id, round_id = where
    if event.type is SesEventType.DELIVERY:
        return table.record_delivery(notification_id, round_id, observation.recipient, observation.timestamp)
    if event.is_failure:
        failure = Failure(str(event.type), observation.detail, observation.timestamp)
        return table.record_failure(notification_id, round_id, observation.recipient, failure)
    return table.ledger(notification_id, round_id)


def preview(event: SesEvent, observation: Observation, ledger: Ledger) -> Ledger:
    """The ledger as `record` would leave it, without writing (for a dry run)."""
    if event.type is SesEventType.DELIVERY:
        return ledger.with_delivery(observation.recipient, observation.timestamp)
    if event.is_failure:
        failure = Failure(str(event.type), observation.detail, observation.timestamp)
        return ledger.with_failure(observation.recipient, failure)
    return ledger


def track_observation(
    event: SesEvent,
    observation: Observation,
    where: tuple[int, str],
    send_shown: bool,
    deps: TrackingDeps,
) -> Tracked:
    """One recipient's share of an event: dedupe → record → decide → apply."""
    notification_id = where[0]
    identity = event.identity(observation)
    marker = f"(event {identity[:12]})"

    def tracked(
        verdict: str, detail: str = "", decision: Decision | None = None, retry: bool = False
    ) -> Tracked:
        actions = decision.actions if decision is not None else ()
        return Tracked(
            str(event.type),
            event.message_id,
            notification_id,
            observation.recipient,
            verdict,
            detail,
            actions,
            retry,
        )

    claimed = deps.table.claim(identity)
    if claimed is Claimed.DONE:
        return tracked("duplicate", "this event was applied before")
    if claimed is Claimed.BUSY:
        return tracked("busy", "another run is applying this event", retry=True)
    try:
        ledger = record(event, observation, where, deps.table)
        checkpoint("tracking", "record")
        try:
            notification = deps.netbox.read(notification_id)
        except NetBoxNotFound:
            deps.table.finish(identity)
            return tracked("unknown_notification", "NetBox has no such prepared notification")
        if claimed is Claimed.REPLAY and deps.netbox.has_marker(notification_id, marker):
            deps.table.finish(identity)
            return tracked("replayed", "an earlier run wrote this event to NetBox")
        decision = decide(event, observation, ledger, notification, send_shown=send_shown, marker=marker)
        if decision.retry_later:
            deps.table.release(identity)
            return tracked(decision.verdict, decision.detail, decision, retry=True)
        deps.netbox.apply(notification, decision.actions)
        checkpoint("tracking", "apply")
        deps.table.finish(identity)
    except Exception:
        # Give the event back at once so the redelivery need not wait for the lease (as a replay).
        deps.table.release(identity)
        raise
    return tracked(decision.verdict, decision.detail, decision)


def track(event: SesEvent, deps: TrackingDeps) -> list[Tracked]:
    """Every recipient's share of one SES event."""
    where = locate(event, deps)
    if where is None:
        detail = "no notification_id tag (another sender's mail)"
        return [Tracked(str(event.type), event.message_id, None, "", "ignored", detail)]
    notification_id = where[0]
    # Asked before this event adds its own evidence: a first arrival with nothing to show the send waits for
    # outbound to mark it; its redelivery finds this event's evidence and completes `ready → sent` itself.
    send_shown = deps.claims.shows_send(notification_id, event.message_id)
    if event.notification_id is not None:
        deps.claims.record_send_evidence(notification_id, event.message_id, event.tags)
        checkpoint("tracking", "evidence")
    return [
        track_observation(event, observation, where, send_shown, deps) for observation in event.observations
    ]


def plan(event: SesEvent, deps: TrackingDeps) -> list[Tracked]:
    """What `track` would do, reading DynamoDB and NetBox and writing nothing (the CLI's dry run)."""
    where = locate(event, deps, dry_run=True)
    if where is None:
        return [Tracked(str(event.type), event.message_id, None, "", "ignored", "no notification_id tag")]
    notification_id, round_id = where
    send_shown = deps.claims.shows_send(notification_id, event.message_id)
    ledger = deps.table.ledger(notification_id, round_id)
    found: list[Tracked] = []
    for observation in event.observations:
        marker = f"(event {event.identity(observation)[:12]})"
        ledger = preview(event, observation, ledger)
        notification = deps.netbox.read(notification_id)
        decision = decide(event, observation, ledger, notification, send_shown=send_shown, marker=marker)
        found.append(
            Tracked(
                str(event.type),
                event.message_id,
                notification_id,
                observation.recipient,
                decision.verdict,
                decision.detail,
                decision.actions,
                decision.retry_later,
            )
        )
    return found


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


def process_message(body: str | Mapping[str, Any], deps: TrackingDeps) -> list[Tracked]:
    """One SQS body or SNS message. Raises RetryLater when part of it must come again, UnreadableEvent when
    it is not an SES event (it then ends in the DLQ, where an operator can look at it)."""
    try:
        event = read_message(body)
    except UnreadableEvent as error:
        logger.warning("unreadable tracking message", extra={"decision": "unreadable", "detail": str(error)})
        metrics.add_metric(name="tracking_unreadable", unit=MetricUnit.Count, value=1)
        raise
    outcomes = track(event, deps)
    for outcome in outcomes:
        deps.on_outcome(outcome)
    waiting = [outcome for outcome in outcomes if outcome.retry]
    if waiting:
        raise RetryLater(f"{event.type} {event.message_id}: {waiting[0].verdict} ({waiting[0].detail})")
    return outcomes


def process_batch(
    event: dict[str, Any], context: LambdaContext | None, deps: TrackingDeps
) -> PartialItemFailureResponse:
    """An SQS batch; only the messages that raised are reported back for redelivery."""

    def record_handler(record: SQSRecord) -> None:
        process_message(record.body, deps)

    # A batch where every message failed is still answered with the list, not an exception: SQS then
    # redelivers exactly those, the same as for a partial failure.
    processor = BatchProcessor(EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


def process_sns(event: dict[str, Any], deps: TrackingDeps) -> dict[str, Any]:
    """A direct SNS invoke: any failure raises, so SNS retries the delivery."""
    results = [process_message(record.sns.message, deps) for record in SNSEvent(event).records]
    return {"results": [[outcome.verdict for outcome in outcomes] for outcomes in results]}


def is_sns_event(event: Mapping[str, Any]) -> bool:
    records = event.get("Records") or []
    return bool(records) and all(record.get("EventSource") == "aws:sns" for record in records)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, Any]:
    """The Lambda shell (contract path): SQS batches with partial failures, or a direct SNS event."""
    if is_sns_event(event):
        return process_sns(event, default_deps())
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


snapstart.register_handler(__name__, settings=tracking_settings, deps=default_deps, warm=warm)
