"""`sesflow notices …`: look at what the notices flows would do, without writing anything."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sesflow.aws.clients import default_clients
from sesflow.aws.store import ObjectStore
from sesflow.config import ConfigError, Flow, load_settings
from sesflow.mail import ParsedMail, parse_mail
from sesflow.netbox.client import NetBoxClient
from sesflow.notices.inbound import InboundDeps, process_loaded
from sesflow.notices.netbox_side import NetBoxState
from sesflow.notices.providers import header_addresses
from sesflow.notices.receipt import GateDecision, Receipt

notices_app = typer.Typer(help="Operate the notices flows.", no_args_is_help=True)
inbound_app = typer.Typer(help="Provider maintenance mail → NetBox.", no_args_is_help=True)
notices_app.add_typer(inbound_app, name="inbound")
console = Console()

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
    """Print what the mail would create or change in NetBox (NETBOX_URL, NETBOX_API_TOKEN); write nothing."""
    try:
        settings = load_settings(Flow.INBOUND, {**_PLAN_PLACEHOLDERS, **os.environ})
    except ConfigError as error:
        console.print(str(error), markup=False)
        raise typer.Exit(2) from error
    message_id, raw = _read(source)
    mail = parse_mail(raw)
    deps = InboundDeps(
        settings, ObjectStore(default_clients().s3), NetBoxState(NetBoxClient.from_settings(settings.netbox))
    )
    outcome = process_loaded(
        _receipt(message_id, mail), mail, GateDecision(None, "", None), deps, dry_run=True
    )
    console.print_json(json.dumps(outcome.log_fields(), default=str))
