"""`sesflow relay …`: run the relay on one mail, revoke attachments, look into and redrive the DLQ."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.aws.clients import default_clients
from sesflow.aws.store import ObjectStore
from sesflow.config import ConfigError, Flow, RelaySettings, load_settings
from sesflow.relay.records import MailLocation, notification_for

if TYPE_CHECKING:
    from sesflow.relay.dry_run import DryRun

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
        _print_dry_run(_dry_run(source, settings))
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


def _dry_run(source: str, settings: RelaySettings) -> DryRun:
    """The relay's own steps on the mail, reading it (from S3 or a file) and writing nothing."""
    from sesflow.relay.dry_run import run_dry

    if source.startswith("s3://"):
        bucket, key = _split_s3_uri(source)
        raw = ObjectStore(default_clients().s3).open(bucket, key).body.read()
    else:
        # The file's name stands for SES's message id, as the object's name does in S3.
        raw, bucket, key = Path(source).read_bytes(), settings.incoming_bucket, Path(source).stem
    return run_dry(raw, MailLocation(bucket, key, len(raw), ""), settings)


def _print_dry_run(run: DryRun) -> None:
    from sesflow.relay.outcomes import Relayed

    console.print(f"from:     {escape(str(run.mail.sender))}")
    console.print(f"subject:  {escape(run.mail.subject)}")
    if run.defects:
        console.print(f"defects:  {', '.join(run.defects)} (tolerated)")
    outcome = run.outcome
    if isinstance(outcome, Relayed):
        console.print(
            f"[green]would relay[/green] to {len(outcome.recipients)} recipient(s) "
            f"in {len(run.envelopes)} send(s):"
        )
        for address in outcome.recipients:
            console.print(f"  {escape(address)}")
    else:
        console.print(f"[yellow]would not relay[/yellow]: {outcome.reason}: {escape(outcome.detail)}")
        if outcome.kept_at != run.mail.location.key:
            console.print(f"would move it to {escape(str(outcome.kept_at))}")
    left_out = run.mail.refused_recipients + run.mail.invalid_recipients
    if left_out:
        console.print(f"left out:  {escape(', '.join(left_out))}")
    if isinstance(outcome, Relayed):
        _print_attachments(run)
    console.print("[dim]dry run: nothing was written or sent[/dim]")


def _print_attachments(run: DryRun) -> None:
    offloaded = run.mail.offloaded
    if not offloaded.stored and not offloaded.kept_inline:
        return
    table = Table(title="attachments")
    for column in ("file", "type", "bytes", "goes to"):
        table.add_column(column)
    for stored in offloaded.stored:
        table.add_row(escape(stored.filename), stored.content_type, str(stored.size), escape(stored.key))
    for inline in offloaded.kept_inline:
        table.add_row(escape(inline.filename), inline.content_type, str(inline.size), "inline")
    console.print(table)


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
