"""`sesflow notices tracking …`: re-apply SES events (a saved file or the tracking DLQ) to NetBox."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from sesflow.aws.clients import default_clients
from sesflow.config import ConfigError, Flow, TrackingSettings, load_settings
from sesflow.netbox.errors import NetBoxError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    # sesflow.notices.tracking needs the `notices` extra (through outbound's css-inline): imported where
    # a command runs, so that `sesflow[cli]` alone starts.
    from sesflow.notices.tracking.deps import TrackingDeps
    from sesflow.notices.tracking.outcomes import Tracked

app = typer.Typer(help="SES sending events → prepared notifications in NetBox.", no_args_is_help=True)
console = Console()


@dataclass(frozen=True)
class Message:
    """One SES event to replay, and what to do once it is applied (delete it from the DLQ)."""

    label: str
    body: str | dict[str, Any]
    done: Callable[[], object] = lambda: None
    give_back: Callable[[], object] = lambda: None


@dataclass
class ReplaySummary:
    applied: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[Tracked] = field(default_factory=list)


def messages_in_file(path: Path) -> list[Message]:
    """A saved SES event, SNS envelope, Lambda SQS or SNS event, or a JSON list of any of them."""
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data if isinstance(data, list) else [data]
    found: list[Message] = []
    for index, item in enumerate(items):
        records = item.get("Records") if isinstance(item, dict) else None
        if isinstance(records, list):
            for number, record in enumerate(records):
                body = record.get("body") or (record.get("Sns") or {}).get("Message") or ""
                found.append(Message(f"{path.name}[{index}].Records[{number}]", body))
        else:
            found.append(Message(f"{path.name}[{index}]", item))
    return found


def messages_in_queue(sqs: SQSClient, queue_url: str) -> Iterator[Message]:
    """Every message visible in the queue, once each (a message received stays invisible for the queue's
    visibility timeout; one that shows up again is not listed twice)."""
    seen: set[str] = set()
    while True:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        batch = answer.get("Messages", [])
        fresh = [message for message in batch if message["MessageId"] not in seen]
        if not fresh:
            return
        for message in fresh:
            seen.add(message["MessageId"])
            handle = message["ReceiptHandle"]
            yield Message(
                message["MessageId"],
                message["Body"],
                done=partial(sqs.delete_message, QueueUrl=queue_url, ReceiptHandle=handle),
                give_back=partial(
                    sqs.change_message_visibility,
                    QueueUrl=queue_url,
                    ReceiptHandle=handle,
                    VisibilityTimeout=0,
                ),
            )


def replay(
    messages: list[Message], deps: TrackingDeps, *, dry_run: bool, progress: Progress
) -> ReplaySummary:
    """Each message through the flow's steps: for real (a message applied is done), or with adapters that
    read and write nothing (every message is given back; one that must wait is listed, not failed)."""
    from sesflow.notices.tracking.dry_run import dry_run_deps
    from sesflow.notices.tracking.events import UnreadableEvent, read_message
    from sesflow.notices.tracking.pipeline import RetryLater, track, track_message

    summary = ReplaySummary()
    deps.on_outcome = summary.outcomes.append
    dry_deps = dry_run_deps(deps)
    task = progress.add_task("replaying SES events", total=len(messages))
    for message in messages:
        try:
            if dry_run:
                summary.outcomes.extend(track(read_message(message.body), dry_deps))
                message.give_back()
            else:
                track_message(message.body, deps)
                message.done()
                summary.applied += 1
        except (RetryLater, UnreadableEvent, NetBoxError) as error:
            summary.failed.append((message.label, str(error)))
            message.give_back()
        progress.advance(task)
    return summary


def _settings() -> TrackingSettings:
    try:
        return load_settings(Flow.TRACKING, dict(os.environ))
    except ConfigError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(code=2) from error


def deps_from(settings: TrackingSettings) -> TrackingDeps:
    from sesflow.notices.tracking.wiring import deps_from

    return deps_from(settings, default_clients())


@app.command("replay")
def replay_command(
    source: Annotated[
        str, typer.Argument(help="A JSON file of SES events, or the URL of an SQS queue (the DLQ).")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the decisions; write nothing.")] = False,
) -> None:
    """Apply SES events again, the way the tracking Lambda does (NETBOX_URL, NETBOX_API_TOKEN,
    IDEMPOTENCY_TABLE). Events already applied are recognised and skipped; a queue's message is deleted
    once applied."""
    deps = deps_from(_settings())
    if source.startswith(("https://", "http://")):
        messages = list(messages_in_queue(default_clients().sqs, source))
    else:
        messages = messages_in_file(Path(source))
    with Progress(console=console, transient=True) as progress:
        summary = replay(messages, deps, dry_run=dry_run, progress=progress)
    _print(summary, len(messages), dry_run=dry_run)
    if summary.failed:
        raise typer.Exit(code=1)


def _print(summary: ReplaySummary, total: int, *, dry_run: bool) -> None:
    """One line per recipient's share of an event, then each write it made (or would make)."""
    from sesflow.notices.tracking.outcomes import describe

    for outcome in summary.outcomes:
        where = f"notification {outcome.notification_id}" if outcome.notification_id else "no notification"
        who = f" {outcome.recipient}" if outcome.recipient else ""
        event = f"{outcome.event_type} {outcome.message_id}"
        line = f"{escape(event)} → {where}{escape(who)}: [bold]{escape(outcome.verdict)}[/bold]"
        console.print(line if not outcome.detail else f"{line} ({escape(outcome.detail)})", soft_wrap=True)
        for action in outcome.actions:
            console.print(f"    {escape(describe(action))}", soft_wrap=True)
    verb = "planned" if dry_run else "applied"
    done = total - len(summary.failed) if dry_run else summary.applied
    console.print(f"{done} of {total} messages {verb}", soft_wrap=True)
    for label, reason in summary.failed:
        console.print(f"[red]{escape(label)}[/red]: {escape(reason)}", soft_wrap=True)
