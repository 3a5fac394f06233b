"""`sesflow notices …`: look at what the notices flows would do, apply a mail, replay a bucket."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sesflow.aws.clients import default_clients
from sesflow.aws.store import ObjectStore
from sesflow.cli.extras import require_extra
from sesflow.cli.outbound import app as outbound_app
from sesflow.cli.overlaps import overlaps_command
from sesflow.cli.tracking import app as tracking_app
from sesflow.cli.triage import triage_command
from sesflow.config import ConfigError, Flow, load_settings
from sesflow.mail import ParsedMail, parse_mail
from sesflow.netbox.client import NetBoxClient

# The flows' modules need the `notices` extra: imported where a command runs, so `sesflow[cli]` alone starts.
if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sesflow.config import InboundSettings
    from sesflow.notices.inbound.context import InboundDeps
    from sesflow.notices.inbound.in_netbox import NoticesInNetBox
    from sesflow.notices.inbound.receipt import Receipt
    from sesflow.notices.inbound.replay import ReplaySummary, StoredMailKey

notices_app = typer.Typer(help="Operate the notices flows.", no_args_is_help=True)
inbound_app = typer.Typer(help="Provider maintenance mail → NetBox.", no_args_is_help=True)
notices_app.add_typer(inbound_app, name="inbound")
notices_app.add_typer(outbound_app, name="outbound")
notices_app.add_typer(tracking_app, name="tracking")
notices_app.command("overlaps")(overlaps_command)
inbound_app.command("triage")(triage_command)
console = Console()


@notices_app.callback()
def notices_extra_installed() -> None:
    require_extra("notices", "sesflow notices")


#: A plan reads NetBox but no bucket of the deployment: a stand-in keeps the settings valid.
_PLAN_PLACEHOLDERS = {"S3_BUCKET_NAME": "plan-only", "IDEMPOTENCY_TABLE": "plan-only"}


def _read(source: str) -> tuple[str, bytes]:
    if source.startswith("s3://"):
        bucket, _, key = source.removeprefix("s3://").partition("/")
        stored = ObjectStore(default_clients().s3).open(bucket, key)
        return key.rpartition("/")[2], stored.body.read()
    path = Path(source)
    return path.name, path.read_bytes()


def _receipt(message_id: str, mail: ParsedMail) -> Receipt:
    """What SES would have said about the mail, from its own headers (the plan does not gate)."""
    from sesflow.notices.inbound.headers import header_addresses
    from sesflow.notices.inbound.receipt import Receipt

    try:
        received = parsedate_to_datetime(mail.header("Date") or "")
    except (TypeError, ValueError):
        received = datetime.now(UTC)
    senders = tuple(header_addresses(mail.message, "From"))
    return Receipt(message_id, received, "", senders, mail.header("Subject") or "", {})


@inbound_app.command("plan")
def plan_command(
    source: Annotated[str, typer.Argument(help="a .eml file or s3://bucket/key")],
) -> None:
    """Print what the mail would create or change in NetBox (NETBOX_URL, NETBOX_API_TOKEN); write nothing.
    The very steps of `apply` run after the gate, against a NetBox that is read but only records writes."""
    from sesflow.notices.inbound.in_netbox import NoticesPreview
    from sesflow.notices.inbound.pipeline import process_loaded
    from sesflow.notices.inbound.receipt import GateDecision

    deps = _inbound_deps(NoticesPreview)
    message_id, raw = _read(source)
    mail = parse_mail(raw)
    outcome = process_loaded(_receipt(message_id, mail), mail, GateDecision(None, "", None), deps)
    console.print_json(json.dumps(outcome.log_fields(), default=str))


def _inbound_settings() -> InboundSettings:
    try:
        return load_settings(Flow.INBOUND, {**_PLAN_PLACEHOLDERS, **os.environ})
    except ConfigError as error:
        console.print(str(error), markup=False)
        raise typer.Exit(2) from error


def _inbound_deps(netbox: type[NoticesInNetBox] | None = None) -> InboundDeps:
    """Settings from the environment (NETBOX_URL, NETBOX_API_TOKEN, the maps); the bucket comes with the
    command, so the deployment's S3_BUCKET_NAME and IDEMPOTENCY_TABLE may be left unset. `netbox`: the
    NetBox adapter (`NoticesPreview` for a plan), `NoticesInNetBox` unless given."""
    from sesflow.notices.inbound.context import InboundDeps
    from sesflow.notices.inbound.in_netbox import NoticesInNetBox

    settings = _inbound_settings()
    adapter = (netbox or NoticesInNetBox)(NetBoxClient.from_settings(settings.netbox))
    return InboundDeps(settings, ObjectStore(default_clients().s3), adapter)


_VOUCH = typer.Option(
    "--vouch",
    help="the mail never went through SES (no verdict headers): apply it without SPF/DKIM/DMARC verdicts",
)


@inbound_app.command("apply")
def apply_command(
    source: Annotated[str, typer.Argument(help="a .eml file or s3://bucket/key")],
    vouched: Annotated[bool, _VOUCH] = False,
) -> None:
    """Apply one mail to NetBox as the Lambda would and print the outcome; exit 1 when it was not applied.
    The gate reads SES's verdicts from the headers SES wrote into the stored mail."""
    from sesflow.notices.inbound.outcome import Result
    from sesflow.notices.inbound.replay import process_stored_mail

    deps = _inbound_deps()
    message_id, raw = _read(source)
    location = source if source.startswith("s3://") else str(Path(source).resolve())
    outcome = process_stored_mail(message_id, parse_mail(raw), deps, vouched=vouched, location=location)
    console.print_json(json.dumps(outcome.log_fields(), default=str))
    if outcome.result is not Result.APPLIED:
        raise typer.Exit(1)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@inbound_app.command("replay")
def replay_command(
    source: Annotated[str, typer.Argument(help="s3://bucket/prefix holding the mails SES stored")],
    since: Annotated[
        str | None,
        typer.Option(help="only mails stored at or after this ISO date or time (UTC unless given)"),
    ] = None,
    vouched: Annotated[bool, _VOUCH] = False,
) -> None:
    """Run every stored mail under the prefix through the inbound steps again, oldest first, and print a
    summary. Safe to interrupt and run again: mails already applied change nothing. Exit 1 if any failed."""
    from sesflow.notices.inbound.replay import ReplaySummary, replay, split_s3_url

    try:
        bucket, prefix = split_s3_url(source)
        moment = _since(since)
    except ValueError as error:
        console.print(str(error), markup=False)
        raise typer.Exit(2) from error
    deps = _inbound_deps()
    keys = _list_stored(default_clients().s3, bucket, prefix, moment)
    summary = ReplaySummary()
    interrupted = False
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("replaying", total=len(keys))

        def advance(stored: StoredMailKey, kind: str, reason: str) -> None:
            progress.update(task, advance=1, description=f"{kind:<9} {stored.message_id[:40]}")

        try:
            replay(keys, deps, on_mail=advance, summary=summary, vouched=vouched)
        except KeyboardInterrupt:
            interrupted = True  # the mail in hand is finished by the next run: every step is idempotent
    _print_summary(summary, len(keys), interrupted=interrupted)
    if interrupted:
        raise typer.Exit(130)
    if summary.failed:
        raise typer.Exit(1)


def _list_stored(s3: S3Client, bucket: str, prefix: str, since: datetime | None) -> list[StoredMailKey]:
    """The mails under the prefix stored at or after `since`, oldest first: the order SES received them in."""
    from sesflow.notices.inbound.replay import StoredMailKey

    found: list[StoredMailKey] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            modified = item["LastModified"].astimezone(UTC)
            if item["Key"].endswith("/") or (since is not None and modified < since):
                continue  # a "folder" marker, or older than asked
            found.append(StoredMailKey(bucket, item["Key"], modified))
    return sorted(found, key=lambda stored: (stored.modified, stored.key))


def _print_summary(summary: ReplaySummary, total: int, *, interrupted: bool) -> None:
    done = sum(summary.counts.values())
    table = Table(
        title=f"{done} of {total} mails" + (" (interrupted: run again to finish)" if interrupted else "")
    )
    table.add_column("result")
    table.add_column("reason")
    table.add_column("mails", justify="right")
    for kind, reason, count in summary.rows():
        table.add_row(kind, reason, str(count))
    console.print(table)
    for key, error in summary.failures[:20]:
        console.print(f"failed: {key}: {error}", markup=False)
