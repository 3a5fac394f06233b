"""Notices outbound: a prepared notification that is `ready` in NetBox → SES → `sent`, exactly once.

    claim → refresh → compose → send → mark_sent → release

One handler, two triggers: an EventBridge schedule sends every `ready` notification; NetBox's webhook (API
Gateway HTTP API, signature checked first) sends the one it names, re-read from NetBox. The claim in
IDEMPOTENCY_TABLE (`notices/claims.py`) lets webhook and schedule race, runs overlap and crashes happen
with one mail per recipient in the end; docs/outbound.md goes through a crash after each step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Final

import urllib3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from sesflow import snapstart
from sesflow.aws.clients import AwsClients, default_clients
from sesflow.aws.ses import PermanentSendError, SesSender, TransientSendError, account_send_rate
from sesflow.batching import Batcher
from sesflow.config import OutboundSettings, outbound_settings
from sesflow.faults import checkpoint
from sesflow.mail.addresses import InvalidAddress, ValidAddress, dedupe_addresses, validate_address
from sesflow.netbox.client import NetBoxClient, Params
from sesflow.netbox.errors import NetBoxConflict, NetBoxNotFound, NetBoxValidationError
from sesflow.netbox.notices import PLUGIN, NoticesApi
from sesflow.netbox.records import (
    NotificationStatus,
    NotificationVersion,
    PreparedNotification,
    Recipient,
    etag_of,
)
from sesflow.notices.claims import Claim, ClaimTable, LeaseLost, NotClaimed
from sesflow.notices.rounds import NOTIFICATION_TAG, PART_TAG, ROUND_TAG, round_of

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from sesflow.mail.compose import Composition, RefusedHeader

logger = Logger(service="sesflow-notices-outbound")
metrics = Metrics(namespace="sesflow", service="notices-outbound")

#: Notifications handled at once on a schedule: SES's rate limiter paces the sends, the rest overlaps.
WORKERS: Final = 8
#: Bulk PATCHes to `sent` at once, and notifications in one (NetBox applies a bulk write in one transaction).
MARKERS: Final = 2
MARK_BATCH: Final = 50
PREPARED_NOTIFICATIONS: Final = f"{PLUGIN}/prepared-notifications/"


# --- outcomes ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    notification_id: int
    message_ids: tuple[str, ...]
    recipients: int
    result: str = "sent"


@dataclass(frozen=True)
class Skipped:
    """Nothing sent by this run: `not_ready`, `not_found`, `held` (another run has it), `done`,
    `backing_off` (SES refused it before), `awaiting_ses_evidence` (see docs/outbound.md)."""

    notification_id: int
    result: str
    until: float | None = None


@dataclass(frozen=True)
class Rejected:
    """SES (or our checks) refused the mail for good; journaled, and tried again only after `retry_at`."""

    notification_id: int
    reason: str
    retry_at: float
    result: str = "rejected"


@dataclass(frozen=True)
class Failed:
    """An unexpected error (NetBox or SES unavailable, a bug); the next run picks the notification up."""

    notification_id: int
    error: str
    result: str = "failed"


type Outcome = Sent | Skipped | Rejected
type Attempt = Outcome | Failed


# --- what the steps share ----------------------------------------------------------------------------------


def _quiet(step: str, delivery: Delivery) -> None:
    """The default observer of steps: only the fault tests' kill points (`sesflow.faults`); tests also put
    their own observer here to stop a run between two steps."""
    checkpoint("outbound", step)


@dataclass
class OutboundDeps:
    settings: OutboundSettings
    notices: NoticesApi
    claims: ClaimTable
    sender: SesSender
    workers: int = WORKERS
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_step: Callable[[str, Delivery], None] = _quiet


@dataclass
class Delivery:
    """One notification on its way through the steps."""

    notification: PreparedNotification
    round: str
    claim: Claim | None = None
    composition: Composition | None = None
    invalid: tuple[InvalidAddress, ...] = ()
    message_ids: dict[int, str] = field(default_factory=dict)  # part → SES message id
    marked: NotificationVersion | None = None  # what the schedule's bulk PATCH to `sent` left
    outcome: Outcome | None = None

    @property
    def notification_id(self) -> int:
        return self.notification.id

    @property
    def held(self) -> Claim:
        if self.claim is None:
            raise RuntimeError("step needs a claim but none is held")
        return self.claim


def deps_from(settings: OutboundSettings, clients: AwsClients, *, workers: int = WORKERS) -> OutboundDeps:
    netbox = NetBoxClient.from_settings(settings.netbox, pool=urllib3.PoolManager(maxsize=workers))
    return OutboundDeps(
        settings=settings,
        notices=NoticesApi(netbox),
        claims=ClaimTable(settings.common.idempotency_table, clients.dynamodb),
        sender=SesSender(clients.sesv2, rate_source=lambda sesv2: account_send_rate(sesv2, clients.ses_v1)),
        workers=workers,
    )


@cache
def default_deps() -> OutboundDeps:
    return deps_from(outbound_settings(), default_clients())


# --- the steps ---------------------------------------------------------------------------------------------


def claim(delivery: Delivery, deps: OutboundDeps) -> None:
    """Win this round's claim, so no other run sends it; a run that lost learns why."""
    won = deps.claims.acquire(delivery.notification_id, delivery.round)
    if isinstance(won, NotClaimed):
        delivery.outcome = Skipped(delivery.notification_id, won.why, won.until)
        return
    delivery.claim = won
    delivery.message_ids = {part: mid for part in (*won.sent, *won.evidence) if (mid := won.message_id(part))}


def refresh(delivery: Delivery, deps: OutboundDeps) -> None:
    """The notification as NetBox has it now, when there is no ETag for the final PATCH (a listed one
    carries the ETag of the version listed). A notification no longer `ready` in this round is left alone.
    A NetBox that gives no ETags (4.5) would give none now either: `mark_sent` checks its answer instead."""
    if delivery.notification.etag is not None or not deps.notices.client.honours_etags():
        return
    current = deps.notices.get_prepared_notification(delivery.notification_id)
    if current.status != NotificationStatus.READY or round_of(current) != delivery.round:
        deps.claims.unlock(delivery.held)
        delivery.outcome = Skipped(delivery.notification_id, "not_ready")
        return
    delivery.notification = current


def compose(delivery: Delivery, deps: OutboundDeps) -> None:
    """The MIME for each part; a notification with no address SES can take is rejected."""
    recipients, delivery.invalid = valid_recipients(delivery.notification.recipients)
    if not recipients:
        reject(delivery, deps, "no valid recipient address")
        return
    delivery.composition = composition_of(
        delivery.notification, recipients, deps.settings, round_id=delivery.round, date=deps.now()
    )


def send(delivery: Delivery, deps: OutboundDeps) -> None:
    """Each part not known to have gone goes to SES, its id recorded in the claim as soon as SES answers.
    A part an earlier run was handing to SES when it died is sent again only once SES's own events have had
    time to show it went (`ClaimTable.evidence_wait_seconds`)."""
    claimed, composition = delivery.held, _composed(delivery)
    parts = {mail.part for mail in composition.mails}
    for mail in composition.mails:
        if mail.part in delivery.message_ids:
            continue
        if claimed.taken_over and claimed.inflight == mail.part:
            evidence = deps.claims.evidence_for(delivery.notification_id, delivery.round).get(mail.part)
            if evidence is not None:
                _record(delivery, deps, mail.part, evidence, parts)
                continue
            until = (claimed.inflight_at or 0.0) + deps.claims.evidence_wait_seconds
            if deps.claims.clock() < until:
                deps.claims.unlock(claimed)
                delivery.outcome = Skipped(delivery.notification_id, "awaiting_ses_evidence", until)
                return
        deps.claims.begin_part(claimed, mail.part)
        try:
            sent = deps.sender.send_raw(
                mail.raw,
                from_address=deps.settings.from_address,
                recipients=mail.recipients,
                configuration_set=deps.settings.configuration_set,
                tags={
                    NOTIFICATION_TAG: str(delivery.notification_id),
                    ROUND_TAG: delivery.round,
                    PART_TAG: str(mail.part),
                },
            )
        except PermanentSendError as error:
            reject(delivery, deps, f"{error} (part {mail.part}, {len(mail.recipients)} recipients)")
            return
        except TransientSendError as error:
            if not error.uncertain:  # SES answered, or was never reached: it did not take the message
                deps.claims.abandon_part(claimed, mail.part)
            raise
        deps.on_step("ses_accepted", delivery)
        _record(delivery, deps, mail.part, sent.message_id, parts)


def mark_sent(delivery: Delivery, deps: OutboundDeps) -> None:
    """PATCH `sent` with the SES ids in the message (a journal entry); NetBox sets `sent_at` itself, so no
    clock skew can refuse it. On a schedule, `mark_in_bulk` usually did this for many at once; then only
    what it left is checked.

    With ETags (NetBox 4.6+), If-Match turns a lost race into a 412 instead of a silent same-status no-op
    or a write to a newer approval. Without them (4.5, or a proxy that strips them) the PATCH lands on
    whatever NetBox has: `sent` from `delivered`/`failed` is refused (it moved on), and a write that met a
    newer approval shows it in the answer's `approved_at` and is put back while the claim is held."""
    if delivery.marked is not None:
        if round_of(delivery.marked) != delivery.round:
            undo_mark_of_another_round(delivery, deps)
        return
    message = sent_message(delivery)
    notification_id = delivery.notification_id
    if_match = delivery.notification.etag if deps.notices.client.honours_etags() else None
    try:
        marked = deps.notices.transition(
            notification_id, NotificationStatus.SENT, message=message, if_match=if_match
        )
    except (NetBoxConflict, NetBoxValidationError) as refused:
        current = deps.notices.get_prepared_notification(notification_id)
        if current.status != NotificationStatus.READY or round_of(current) != delivery.round:
            # It moved on already (tracking, or our own PATCH whose answer was lost, marked it), or it
            # was approved again after this round's mail went: that approval is for the next run.
            return
        if not isinstance(refused, NetBoxConflict):
            raise  # still `ready` in this round, yet refused: not a race, so not ours to explain away
        marked = deps.notices.transition(
            notification_id, NotificationStatus.SENT, message=message, if_match=current.etag
        )
    if round_of(marked) != delivery.round:
        undo_mark_of_another_round(delivery, deps)


def release(delivery: Delivery, deps: OutboundDeps) -> None:
    deps.claims.done(delivery.held)
    delivery.outcome = Sent(
        delivery.notification_id,
        tuple(delivery.message_ids[part] for part in sorted(delivery.message_ids)),
        sum(len(mail.recipients) for mail in _composed(delivery).mails),
    )


#: The schedule runs the two halves in separate pools, so NetBox's PATCHes never hold back SES's pace.
SENDING_STEPS: Final = (claim, refresh, compose, send)
MARKING_STEPS: Final = (mark_sent, release)
STEPS: Final = SENDING_STEPS + MARKING_STEPS

type Step = Callable[[Delivery, OutboundDeps], None]


def run_steps(delivery: Delivery, deps: OutboundDeps, steps: Iterable[Step]) -> Outcome | None:
    """Steps in order until one decides the outcome (None: the steps ran out first). An unexpected error
    gives the claim back at once (the next run goes on from what the claim recorded) and is raised."""
    try:
        for step in steps:
            step(delivery, deps)
            deps.on_step(step.__name__, delivery)
            if delivery.outcome is not None:
                return delivery.outcome
    except LeaseLost:
        return Skipped(delivery.notification_id, "held")
    except Exception as error:
        if delivery.claim is not None:
            try:
                deps.claims.unlock(delivery.claim)
            except LeaseLost:
                error.add_note("the claim had already been taken over")
        raise
    return None


def deliver(notification: PreparedNotification, deps: OutboundDeps) -> Outcome:
    """One notification through all the steps; the first step that decides the outcome ends it."""
    if notification.status != NotificationStatus.READY:
        return Skipped(notification.id, "not_ready")
    return finish(Delivery(notification, round_of(notification)), deps, STEPS)


# --- pieces the steps use ----------------------------------------------------------------------------------


def valid_recipients(
    recipients: Iterable[Recipient],
) -> tuple[list[ValidAddress], tuple[InvalidAddress, ...]]:
    """The snapshot's addresses that SES can take, without repeats; and the others with the reason."""
    valid: list[ValidAddress] = []
    invalid: list[InvalidAddress] = []
    for recipient in recipients:
        checked = validate_address(recipient.email)
        if isinstance(checked, InvalidAddress):
            invalid.append(checked)
        elif checked.ascii_address is None:
            invalid.append(InvalidAddress(recipient.email, "SES needs an ASCII local part"))
        else:
            valid.append(dataclasses.replace(checked, display_name=recipient.name))
    return dedupe_addresses(valid), tuple(invalid)


def composition_of(
    notification: PreparedNotification,
    recipients: list[ValidAddress],
    settings: OutboundSettings,
    *,
    round_id: str,
    date: datetime,
) -> Composition:
    # Only a run that sends composes: css_inline (and the MIME builder) load on the first mail.
    from sesflow.mail.compose import NoticeContent, compose_notification

    return compose_notification(
        NoticeContent(
            subject=notification.subject,
            body_text=notification.body_text,
            body_html=notification.body_html,
            css=notification.css,
            ical_content=notification.ical_content,
            headers=notification.headers,
        ),
        recipients,
        notification_id=notification.id,
        round_id=round_id,
        from_address=settings.from_address,
        recipients_visible=settings.recipients_visible,
        date=date,
    )


def _composed(delivery: Delivery) -> Composition:
    if delivery.composition is None:
        raise RuntimeError("step needs the composed mail but there is none")
    return delivery.composition


def _record(delivery: Delivery, deps: OutboundDeps, part: int, message_id: str, parts: set[int]) -> None:
    delivery.message_ids[part] = message_id
    deps.claims.record_part(delivery.held, part, message_id, last=parts <= set(delivery.message_ids))


def _problems(refused: Iterable[RefusedHeader], invalid: Iterable[InvalidAddress]) -> list[str]:
    lines = [f"Header {header} not applied." for header in refused]
    lines += [f"Recipient {address.text!r} skipped: {address.reason}" for address in invalid]
    return lines


def sent_message(delivery: Delivery) -> str:
    composition = _composed(delivery)
    ids = ", ".join(delivery.message_ids[part] for part in sorted(delivery.message_ids))
    recipients = sum(len(mail.recipients) for mail in composition.mails)
    lines = [
        f"Sent via SES to {recipients} recipients in {len(composition.mails)} message(s) (MessageId: {ids})"
    ]
    return "\n".join([*lines, *_problems(composition.refused_headers, delivery.invalid)])


def undo_mark_of_another_round(delivery: Delivery, deps: OutboundDeps) -> None:
    """A PATCH without If-Match (a bulk one, or any on a NetBox without ETags) met a newer approval: after
    this round's mail went, tracking marked it `sent`, SES's bounce `failed`, and someone approved it
    again, all before the PATCH. While this run holds the notification's claim nobody can have sent that
    approval, so it goes back: `sent → failed → ready`, approved anew for the next run. If the claim was lost
    meanwhile, another run may have sent it: then it is only reported."""
    notification_id = delivery.notification_id
    current = deps.claims.get(notification_id)
    if current is None or current.owner != delivery.held.owner:
        logger.error(
            "a mark without If-Match met another approval", extra={"notification_id": notification_id}
        )
        return
    mistaken = (
        f"Marked sent by mistake: the mail of the approval at {delivery.round} went, this approval's did not."
    )
    deps.notices.transition(notification_id, NotificationStatus.FAILED, message=mistaken)
    deps.notices.transition(notification_id, NotificationStatus.READY, message="Approved again, to be sent.")


def reject(delivery: Delivery, deps: OutboundDeps, reason: str) -> None:
    """The plugin has no `ready → failed`: the reason goes to a journal entry and the claim, which holds
    the notification back (one hour, doubling to a day) instead of retrying it on every poll."""
    refused = delivery.composition.refused_headers if delivery.composition else ()
    lines = [f"Not sent: {reason}", *_problems(refused, delivery.invalid)]
    deps.notices.add_journal_entry(delivery.notification_id, "\n".join(lines), kind="warning")
    retry_at = deps.claims.reject(delivery.held, reason)
    delivery.outcome = Rejected(delivery.notification_id, reason, retry_at)


# --- the two triggers --------------------------------------------------------------------------------------


def attempt(notification_id: int, work: Callable[[], Outcome]) -> Attempt:
    try:
        return work()
    except Exception as error:
        logger.exception("outbound notification failed", extra={"notification_id": notification_id})
        return Failed(notification_id, f"{type(error).__name__}: {error}")


def ready_notifications(notices: NoticesApi) -> Iterator[PreparedNotification]:
    """Every `ready` notification, page by page, each with the ETag of the version listed."""
    params: Params = {"status": [str(NotificationStatus.READY)], "ordering": "id"}
    for item in notices.client.iterate(PREPARED_NOTIFICATIONS, params):
        yield PreparedNotification.from_api(item, etag_of(item))


def mark_in_bulk(deliveries: Sequence[Delivery], deps: OutboundDeps) -> list[Attempt]:
    """`mark_sent` and `release` for a batch of the schedule's deliveries. One PATCH per notification costs
    NetBox more than SES's pace allows, so they go in one bulk PATCH; what NetBox refuses (it applies all or
    none) goes alone with If-Match, and the rest in bulk again when NetBox said which it refused. If NetBox
    keeps failing, each fails and gives its claim back; the next run marks them from what the claims
    recorded."""
    try:
        marked = bulk_mark_sent(deliveries, deps)
    except Exception as error:
        logger.exception(
            "bulk mark failed", extra={"notification_ids": [d.notification_id for d in deliveries]}
        )
        return [attempt(d.notification_id, partial(give_up, d, deps, error)) for d in deliveries]
    for delivery in deliveries:
        delivery.marked = marked.get(delivery.notification_id)
    return [attempt(d.notification_id, partial(finish, d, deps, MARKING_STEPS)) for d in deliveries]


def bulk_mark_sent(deliveries: Sequence[Delivery], deps: OutboundDeps) -> dict[int, NotificationVersion]:
    """Each notification as the bulk PATCH left it; those NetBox refused are left out, for `mark_sent` to
    mark alone. A refused bulk write applies nothing. NetBox 4.7 names the objects it refused (moved on
    meanwhile: tracking marked one, say), so the rest go again in one PATCH, each time without the named
    ones; an older NetBox names none, and then every notification of the batch goes alone."""
    pending = {d.notification_id: sent_message(d) for d in deliveries}
    while pending:
        try:
            marked = deps.notices.mark_sent_many(pending)
        except NetBoxValidationError as refused:
            named = pending.keys() & set(refused.refused_ids)
            logger.warning("bulk mark refused", extra={"refused": sorted(named), "detail": str(refused)})
            if not named:
                return {}
            pending = {number: text for number, text in pending.items() if number not in named}
            continue
        return {version.id: version for version in marked}
    return {}


def finish(delivery: Delivery, deps: OutboundDeps, steps: Iterable[Step]) -> Outcome:
    """The steps to their end: one of them decides the outcome."""
    outcome = run_steps(delivery, deps, steps)
    if outcome is None:
        raise RuntimeError("the steps ended without an outcome")
    return outcome


def give_up(delivery: Delivery, deps: OutboundDeps, error: Exception) -> Outcome:
    """The claim goes back at once, as after any unexpected error; what the claim recorded stays."""
    deps.claims.unlock(delivery.held)
    raise OutboundStepFailed(f"mark_sent: {type(error).__name__}: {error}") from error


def send_ready(deps: OutboundDeps) -> list[Attempt]:
    """The schedule: every `ready` notification, several at once. One pool claims, composes and sends (SES's
    limiter paces it); batches of those are marked `sent` in NetBox as they come. All pages are read first:
    pages are offsets into the `ready` set, which shrinks as notifications are marked."""
    ready = list(ready_notifications(deps.notices))
    workers = max(1, deps.workers)
    with (
        ThreadPoolExecutor(workers) as sending,
        Batcher(partial(mark_in_bulk, deps=deps), workers=MARKERS, max_batch=MARK_BATCH) as marking,
    ):

        def send_then_hand_over(notification: PreparedNotification) -> Attempt | Future[Attempt]:
            if notification.status != NotificationStatus.READY:
                return Skipped(notification.id, "not_ready")
            delivery = Delivery(notification, round_of(notification))
            try:
                outcome = run_steps(delivery, deps, SENDING_STEPS)
            except Exception as error:
                logger.exception("outbound notification failed", extra={"notification_id": notification.id})
                return Failed(notification.id, f"{type(error).__name__}: {error}")
            if outcome is not None:
                return outcome
            return marking.submit(delivery)

        handed = [sending.submit(send_then_hand_over, notification) for notification in ready]
        results = [future.result() for future in handed]
        return [item.result() if isinstance(item, Future) else item for item in results]


def send_one(notification_id: int, deps: OutboundDeps) -> Outcome:
    """The webhook: the notification NetBox named, read again from NetBox (the payload is not trusted)."""
    try:
        notification = deps.notices.get_prepared_notification(notification_id)
    except NetBoxNotFound:
        return Skipped(notification_id, "not_found")
    return deliver(notification, deps)


def report(attempt: Attempt) -> None:
    fields: dict[str, Any] = dataclasses.asdict(attempt)
    logger.info("outbound notification", extra=fields)
    metrics.add_metric(name=f"outbound_{attempt.result}", unit=MetricUnit.Count, value=1)


class OutboundFailures(Exception):
    """Some notifications failed unexpectedly on a schedule; the others were handled."""


class OutboundStepFailed(Exception):
    """A step could not be done for a reason outside this notification (NetBox kept failing)."""


class UnknownEvent(ValueError):
    """Neither an EventBridge schedule nor an API Gateway HTTP API request."""


def is_http_event(event: Mapping[str, Any]) -> bool:
    return isinstance(event.get("requestContext"), dict) and "http" in event["requestContext"]


def is_scheduled_event(event: Mapping[str, Any]) -> bool:
    return event.get("detail-type") == "Scheduled Event"


def resolver_for(deps: OutboundDeps) -> APIGatewayHttpResolver:
    # Only the webhook needs Powertools' HTTP resolver: a scheduled poll never loads it.
    from sesflow.notices.webhook import WebhookAnswer, webhook_resolver

    def send_named(notification_id: int) -> WebhookAnswer:
        outcome = send_one(notification_id, deps)
        report(outcome)
        return WebhookAnswer(notification_id, outcome.result)

    return webhook_resolver(deps.settings.webhook_secret, send_named)


def run_schedule(deps: OutboundDeps) -> dict[str, Any]:
    attempts = send_ready(deps)
    for item in attempts:
        report(item)
    failed = [item for item in attempts if isinstance(item, Failed)]
    if failed:
        raise OutboundFailures(
            f"{len(failed)} of {len(attempts)} notifications failed: "
            + "; ".join(f"{item.notification_id}: {item.error}" for item in failed[:10])
        )
    return {"results": [{"notification_id": a.notification_id, "result": a.result} for a in attempts]}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Lambda shell (contract path): an HTTP API request is the webhook, a scheduled event the poll.
    A failed poll raises, so the invocation shows as failed; the next poll finishes the job."""
    if is_http_event(event):
        return resolver_for(default_deps()).resolve(event, context)
    if is_scheduled_event(event):
        return run_schedule(default_deps())
    raise UnknownEvent("outbound expects an EventBridge scheduled event or an HTTP API request")


def warm() -> None:
    """What the first send and the first webhook load (css_inline, the MIME builder, email-validator, the HTTP
    resolver), loaded and run once before a SnapStart snapshot (`sesflow.snapstart`)."""
    from sesflow.mail.compose import NoticeContent, compose_notification
    from sesflow.notices.webhook import WebhookAnswer, webhook_resolver

    checked = validate_address("noc@example.com")
    if isinstance(checked, ValidAddress):
        compose_notification(
            NoticeContent("warm", "warm", "<p class='x'>warm</p>", ".x { color: #333 }"),
            [checked],
            notification_id=0,
            round_id="warm",
            from_address="noc@example.com",
            recipients_visible=False,
            date=datetime.now(UTC),
        )
    webhook_resolver("warm", lambda notification_id: WebhookAnswer(notification_id, "warm"))


snapstart.register_handler(__name__, settings=outbound_settings, deps=default_deps, warm=warm)
