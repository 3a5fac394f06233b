"""`sesflow notices outbound …`: see the mail a notification would become, send one, list what waits."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from sesflow.aws.clients import default_clients
from sesflow.config import ConfigError, Flow, OutboundSettings, load_settings
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus, PreparedNotification
from sesflow.notices.claims import Claim, ClaimState

# sesflow.notices.outbound needs the `notices` extra (css-inline): imported where a command runs, so that
# `sesflow[cli]` alone starts.
if TYPE_CHECKING:
    from sesflow.mail.compose import Composition
    from sesflow.notices.outbound.delivery import OutboundDeps
    from sesflow.notices.outbound.outcomes import Attempt

app = typer.Typer(help="Prepared notifications → SES → `sent`.", no_args_is_help=True)
console = Console()

#: A preview reads NetBox only: stand-ins keep the settings valid when the SES ones are not set.
_PREVIEW_PLACEHOLDERS = {
    "IDEMPOTENCY_TABLE": "preview-only",
    "SES_FROM_ADDRESS": "notices@preview.invalid",
    "SES_CONFIGURATION_SET": "preview-only",
}


def _settings(placeholders: dict[str, str] | None = None) -> OutboundSettings:
    try:
        return load_settings(Flow.OUTBOUND, {**(placeholders or {}), **os.environ})
    except ConfigError as error:
        console.print(str(error), markup=False)
        raise typer.Exit(2) from error


def _notices(settings: OutboundSettings) -> NoticesApi:
    return NoticesApi(NetBoxClient.from_settings(settings.netbox))


def _print_mime(notification: PreparedNotification, settings: OutboundSettings) -> None:
    from sesflow.notices.outbound.compose import composition_of, valid_recipients
    from sesflow.notices.rounds import round_of

    recipients, invalid = valid_recipients(notification.recipients)
    for address in invalid:
        console.print(f"[yellow]skipped recipient {address.text!r}: {address.reason}[/yellow]")
    if not recipients:
        console.print("[red]no valid recipient address: nothing would be sent[/red]")
        return
    composition = composition_of(
        notification, recipients, settings, round_id=round_of(notification), date=datetime.now(UTC)
    )
    _print_composition(composition)


def _print_composition(composition: Composition) -> None:
    for header in composition.refused_headers:
        console.print(f"[yellow]header {header} would not be applied[/yellow]")
    for mail in composition.mails:
        console.rule(f"part {mail.part} of {len(composition.mails)}: {len(mail.recipients)} recipients")
        console.print(f"envelope: {', '.join(mail.recipients)}", markup=False, soft_wrap=True)
        console.print(mail.raw.decode("ascii", errors="replace"), markup=False, highlight=False)


def _print_outcome(outcome: Attempt) -> None:
    console.print(f"notification {outcome.notification_id}: {outcome.result}", markup=False)
    for name, value in vars(outcome).items():
        if name not in {"notification_id", "result"} and value:
            console.print(f"  {name}: {value}", markup=False)


@app.command("preview")
def preview_command(notification_id: Annotated[int, typer.Argument(help="prepared notification id")]) -> None:
    """Print the MIME message(s) the notification would be sent as; send nothing."""
    settings = _settings(_PREVIEW_PLACEHOLDERS)
    notification = _notices(settings).get_prepared_notification(notification_id)
    if notification.status != NotificationStatus.READY:
        console.print(f"[yellow]status is {notification.status}: only `ready` ones are sent[/yellow]")
    _print_mime(notification, settings)


@app.command("send")
def send_command(
    notification_id: Annotated[int, typer.Argument(help="prepared notification id")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="the same steps, read-only: print what would be sent")
    ] = False,
) -> None:
    """Send one `ready` notification now, through the same claim as the schedule and the webhook."""
    from sesflow.notices.outbound.lambda_handler import deps_from
    from sesflow.notices.outbound.outcomes import Result, report
    from sesflow.notices.outbound.pipeline import send_one

    if dry_run:
        _dry_run(notification_id)
        return
    deps = deps_from(_settings(), default_clients(), workers=1)
    outcome = send_one(notification_id, deps)
    report(outcome)
    _print_outcome(outcome)
    if outcome.result == Result.REJECTED:
        raise typer.Exit(1)


def _dry_run(notification_id: int) -> None:
    """The steps of a real send with read-only adapters: the decision it would reach, and the mail."""
    from sesflow.aws.ses import NotedSends
    from sesflow.notices.claims import Claims, ClaimTable
    from sesflow.notices.outbound.delivery import OutboundDeps
    from sesflow.notices.outbound.dry_run import LastComposed, ReadOnlyClaimStore, read_only
    from sesflow.notices.outbound.pipeline import send_one

    settings = _settings(_PREVIEW_PLACEHOLDERS)
    table = settings.common.idempotency_table
    # Without an IDEMPOTENCY_TABLE (nor AWS) the claims are not read: every claim is granted.
    has_table = table != _PREVIEW_PLACEHOLDERS["IDEMPOTENCY_TABLE"]
    claims = ClaimTable(table, default_clients().dynamodb) if has_table else Claims(ReadOnlyClaimStore())
    composed = LastComposed()
    deps = read_only(
        OutboundDeps(settings, _notices(settings), claims, NotedSends(), workers=1), hooks=(composed,)
    )
    outcome = send_one(notification_id, deps)
    for delivery in composed.deliveries:
        console.print(f"status: {delivery.notification.status}")
        _print_composition(delivery.composition)
    _print_outcome(outcome)
    console.print("dry run: nothing was sent, claimed or written", markup=False)


def _when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def why_pending(claim: Claim | None, round_id: str, deps: OutboundDeps) -> str:
    """In words, why a `ready` notification has not gone yet and what happens next."""
    if claim is None or claim.round != round_id:
        return "not claimed yet: the next run sends it"
    now = deps.claims.clock()
    if claim.state is ClaimState.DONE:
        return "claim done but NetBox still says ready: check the journal"
    if claim.state is ClaimState.REJECTED:
        return f"rejected {claim.rejections}x: {claim.reason}; next try {_when(claim.retry_at)}"
    if claim.lease_until > now:
        return f"a run is sending it (lease until {_when(claim.lease_until)})"
    if claim.state is ClaimState.SENT:
        return f"sent ({', '.join(claim.message_ids)}); NetBox not marked yet: the next run marks it"
    if claim.inflight is not None and claim.message_id(claim.inflight) is None:
        until = (claim.inflight_at or 0.0) + deps.claims.evidence_wait_seconds
        if until > now:
            return (
                f"part {claim.inflight} may have reached SES: waiting for its Send event until {_when(until)}"
            )
    done = ", ".join(str(part) for part in sorted(set(claim.sent) | set(claim.evidence))) or "none"
    return f"a run stopped (parts sent: {done}): the next run goes on"


@app.command("pending")
def pending_command() -> None:
    """List `ready` notifications with their claim: new, being sent, stuck, or backing off, and why."""
    from sesflow.notices.outbound.lambda_handler import deps_from
    from sesflow.notices.rounds import round_of

    deps = deps_from(_settings(), default_clients(), workers=1)
    table = Table(title="ready notifications")
    for column in ("id", "subject", "recipients", "approved", "state", "why"):
        table.add_column(column)
    count = 0
    for notification in deps.notices.prepared_notifications(NotificationStatus.READY):
        count += 1
        claim = deps.claims.get(notification.id)
        round_id = round_of(notification)
        state = str(claim.state) if claim is not None and claim.round == round_id else "-"
        table.add_row(
            str(notification.id),
            notification.subject[:60],
            str(len(notification.recipients)),
            notification.approved_at.isoformat(timespec="seconds") if notification.approved_at else "-",
            state,
            why_pending(claim, round_id, deps),
        )
    if count == 0:
        console.print("no notification is ready")
        return
    console.print(table)
