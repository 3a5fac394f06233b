"""`sesflow relay …`: run the relay on one mail, revoke attachments, look into and redrive the DLQ."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.aws.clients import default_clients
from sesflow.aws.store import ObjectStore
from sesflow.config import ConfigError, Flow, RelaySettings, load_settings
from sesflow.mail import parse_mail
from sesflow.relay.preview import Preview, preview
from sesflow.relay.records import MailLocation, notification_for

relay_app = typer.Typer(help="Operate the IoT mail relay.", no_args_is_help=True)
console = Console()

#: Stand-ins so a dry run of a local file works without a deployment's settings.
_DRY_RUN_PLACEHOLDERS = {
    "IDEMPOTENCY_TABLE": "dry-run",
    "INCOMING_BUCKET": "dry-run-incoming",
    "ATTACHMENTS_BUCKET": "dry-run-attachments",
    "SENDER_EMAIL": "relay@dry-run.example",
    "SNS_TOPIC": "arn:aws:sns:us-east-1:000000000000:dry-run",
}
_DURATION = re.compile(r"^(\d+)([smhd])$")


def _settings(*, dry_run: bool) -> RelaySettings:
    environ = {**_DRY_RUN_PLACEHOLDERS, **os.environ} if dry_run else dict(os.environ)
    try:
        return load_settings(Flow.RELAY, environ)
    except ConfigError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(code=2) from error


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise typer.BadParameter(f"expected s3://bucket/key, got {uri!r}")
    return bucket, key


@relay_app.command("process")
def process(
    source: Annotated[str, typer.Argument(help="A .eml file, or s3://bucket/key of a stored mail.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; write and send nothing.")
    ] = False,
) -> None:
    """Run the relay pipeline on one mail and print each step's result."""
    from sesflow.relay.distribute import Refused, Relayed, deps_from, process_message

    settings = _settings(dry_run=dry_run)
    clients = default_clients()
    if dry_run:
        if source.startswith("s3://"):
            bucket, key = _split_s3_uri(source)
            raw = clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            message_id = Path(key).name
        else:
            raw, message_id = Path(source).read_bytes(), Path(source).stem
        _print_preview(preview(parse_mail(raw), message_id, settings))
        return
    if source.startswith("s3://"):
        bucket, key = _split_s3_uri(source)
    else:
        bucket, key = settings.incoming_bucket, f"incoming/cli-{uuid.uuid4().hex}"
        clients.s3.put_object(Bucket=bucket, Key=key, Body=Path(source).read_bytes())
        console.print(f"stored {source} at s3://{bucket}/{key}")
    head = clients.s3.head_object(Bucket=bucket, Key=key)
    body = notification_for(MailLocation(bucket, key, head["ContentLength"], head["ETag"].strip('"')))
    for outcome in process_message(body, deps_from(settings, clients)):
        if isinstance(outcome, Relayed):
            ids = ", ".join(chunk.message_id for chunk in outcome.chunks)
            sends = f"{len(outcome.recipients)} recipient(s) in {len(outcome.chunks)} send(s) ({ids})"
            stored = f"{outcome.attachments} attachment(s), {outcome.bytes_offloaded} bytes offloaded"
            console.print(f"[green]relayed[/green] to {sends}; {stored}")
        elif isinstance(outcome, Refused):
            console.print(f"[yellow]not relayed[/yellow]: {outcome.reason}: {escape(outcome.detail)}")
            console.print(
                f"kept at s3://{bucket}/{outcome.kept_at or key}; notice sent to the fallback topic"
            )
        else:
            console.print(f"skipped: {outcome.reason}")


def _print_preview(plan: Preview) -> None:
    console.print(f"from:     {escape(str(plan.sender))}")
    console.print(f"subject:  {escape(plan.subject)}")
    if plan.defects:
        console.print(f"defects:  {', '.join(plan.defects)} (tolerated)")
    if plan.refusal:
        console.print(f"[yellow]would not relay[/yellow]: {plan.refusal}: {escape(plan.detail)}")
    else:
        console.print(
            f"[green]would relay[/green] to {len(plan.recipients)} recipient(s) in {plan.sends} send(s):"
        )
        for address in plan.recipients:
            console.print(f"  {escape(address)}")
    if plan.left_out:
        console.print(f"left out:  {escape(', '.join(plan.left_out))}")
    if plan.attachments:
        table = Table(title="attachments")
        for column in ("file", "type", "bytes", "goes to"):
            table.add_column(column)
        for item in plan.attachments:
            table.add_row(escape(item.filename), item.content_type, str(item.size), escape(item.destination))
        console.print(table)
    console.print("[dim]dry run: nothing was written or sent[/dim]")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise typer.BadParameter(f"expected a duration like 36h, 7d or 90m, got {text!r}")
    amount, unit = int(match[1]), match[2]
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


@relay_app.command("revoke")
def revoke(
    message_id: Annotated[str | None, typer.Argument(help="The relayed mail's message id.")] = None,
    older_than: Annotated[
        str | None, typer.Option("--older-than", help="Revoke everything stored longer ago, e.g. 36h, 7d.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be revoked.")] = False,
) -> None:
    """Delete stored attachments, which kills every link to them at once."""
    from sesflow.relay.revoke import revoke_message, revoke_older_than

    if (message_id is None) == (older_than is None):
        raise typer.BadParameter("give either a message id or --older-than")
    bucket = _settings(dry_run=False).attachments_bucket
    s3 = default_clients().s3
    if message_id is not None:
        revoked = revoke_message(s3, bucket, message_id, dry_run=dry_run)
    else:
        cutoff = datetime.now(UTC) - parse_duration(older_than or "")
        revoked = revoke_older_than(s3, bucket, cutoff, dry_run=dry_run)
    table = Table(title=f"{'would revoke' if dry_run else 'revoked'} in s3://{bucket}")
    for column in ("key", "bytes", "stored"):
        table.add_column(column)
    for item in revoked:
        table.add_row(escape(item.key), str(item.size), item.last_modified.isoformat(timespec="seconds"))
    console.print(table)
    console.print(f"{len(revoked)} object(s){' (dry run)' if dry_run else ''}")


@relay_app.command("dlq")
def dlq(
    dlq_url: Annotated[str, typer.Option("--dlq-url", envvar="RELAY_DLQ_URL", help="The relay's DLQ URL.")],
    queue_url: Annotated[
        str | None,
        typer.Option("--queue-url", envvar="RELAY_QUEUE_URL", help="Where --redrive moves messages."),
    ] = None,
    redrive: Annotated[
        bool, typer.Option("--redrive", help="Move the messages back for another try.")
    ] = False,
) -> None:
    """List what the DLQ holds; with --redrive, move it back to the queue."""
    from sesflow.relay import dlq as dead_letters

    clients = default_clients()
    letters = dead_letters.list_dead_letters(clients.sqs, ObjectStore(clients.s3), dlq_url)
    table = Table(title=f"{len(letters)} message(s) in the DLQ")
    for column in ("key", "sender", "subject", "receives"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            escape(letter.key), escape(letter.sender), escape(letter.subject), str(letter.receive_count)
        )
    console.print(table)
    if redrive:
        if queue_url is None:
            raise typer.BadParameter("--redrive needs --queue-url (or RELAY_QUEUE_URL)")
        console.print(dead_letters.redrive(clients.sqs, dlq_url, queue_url))
