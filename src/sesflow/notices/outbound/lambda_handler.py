"""The Lambda shell of notices outbound (`sesflow.notices.outbound.handler`): settings → deps, the event
read into its trigger, and the trigger's answer. SnapStart's hooks are registered under the handler's
module name, `sesflow.notices.outbound`."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from sesflow import snapstart
from sesflow.aws.clients import AwsClients, default_clients
from sesflow.aws.ses import SesSender, account_send_rate
from sesflow.config import OutboundSettings, outbound_settings
from sesflow.mail.addresses import ValidAddress, validate_address
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.notices.claims import ClaimTable
from sesflow.notices.outbound.delivery import WORKERS, OutboundDeps
from sesflow.notices.outbound.events import ScheduledPoll, read_event
from sesflow.notices.outbound.outcomes import Failed, logger, metrics, report
from sesflow.notices.outbound.schedule import send_ready

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: The name the handler is known by (templates, SnapStart's registry).
HANDLER_MODULE: Final = "sesflow.notices.outbound"


class OutboundFailures(Exception):
    """Some notifications failed unexpectedly on a schedule; the others were handled."""


def deps_from(settings: OutboundSettings, clients: AwsClients, *, workers: int = WORKERS) -> OutboundDeps:
    netbox = NetBoxClient.from_settings(settings.netbox, pool_size=workers)
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
    return {"results": [{"notification_id": a.notification_id, "result": str(a.result)} for a in attempts]}


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An HTTP API request is the webhook, a scheduled event the poll. A failed poll raises, so the
    invocation shows as failed; the next poll finishes the job."""
    trigger = read_event(event)
    if isinstance(trigger, ScheduledPoll):
        return run_schedule(default_deps())
    # Only the webhook needs Powertools' HTTP resolver: a scheduled poll never loads it.
    from sesflow.notices.outbound.webhook import resolver_for

    return resolver_for(default_deps()).resolve(event, context)


def warm() -> None:
    """What the first send and the first webhook load (css_inline, the MIME builder, email-validator, the HTTP
    resolver), loaded and run once before a SnapStart snapshot (`sesflow.snapstart`)."""
    from sesflow.mail.compose import Addressing, NoticeContent, compose_notification
    from sesflow.notices.outbound.webhook import WebhookAnswer, webhook_resolver

    checked = validate_address("noc@example.com")
    if isinstance(checked, ValidAddress):
        compose_notification(
            NoticeContent("warm", "warm", "<p class='x'>warm</p>", ".x { color: #333 }"),
            [checked],
            notification_id=0,
            round_id="warm",
            addressing=Addressing("noc@example.com", False),
            date=datetime.now(UTC),
        )
    webhook_resolver("warm", lambda notification_id: WebhookAnswer(notification_id, "warm"))


snapstart.register_handler(HANDLER_MODULE, settings=outbound_settings, deps=default_deps, warm=warm)
