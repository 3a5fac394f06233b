"""`sesflow notices inbound triage`: the inbound mails that wait for the operator, as NetBox keeps them
(journal entries tagged `sesflow-triage`), in one table."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.config import ConfigError, Flow, load_settings
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi

if TYPE_CHECKING:
    from sesflow.notices.inbound.triage import TriageRow

console = Console()
#: The listing reads NetBox only: stand-ins keep the inbound settings valid without the deployment's bucket.
_READ_ONLY_PLACEHOLDERS = {"S3_BUCKET_NAME": "triage-only", "IDEMPOTENCY_TABLE": "triage-only"}


def triage_command(
    since: Annotated[
        str | None,
        typer.Option(help="only entries recorded at or after this ISO date or time (UTC unless given)"),
    ] = None,
) -> None:
    """List the inbound mails that were not applied and wait for the operator (NETBOX_URL,
    NETBOX_API_TOKEN): reason, received, sender, subject, provider, where the mail is and the command that
    runs it again. The same entries are in NetBox under Journal Entries, tag `sesflow-triage`."""
    from sesflow.notices.inbound.triage import row_of
    from sesflow.notices.inbound.triage_netbox import TriageRecords

    try:
        moment = _moment(since)
        settings = load_settings(Flow.INBOUND, {**_READ_ONLY_PLACEHOLDERS, **os.environ})
    except (ValueError, ConfigError) as error:
        console.print(str(error), markup=False)
        raise typer.Exit(2) from error
    records = TriageRecords(NoticesApi(NetBoxClient.from_settings(settings.netbox)))
    rows = [row for entry in records.waiting(since=moment) if (row := row_of(entry)) is not None]
    console.print(_table(rows))


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _table(rows: list[TriageRow]) -> Table:
    table = Table(title=f"{len(rows)} inbound mails wait for the operator", expand=False)
    for name in ("reason", "received", "sender", "subject", "provider", "mail", "replay"):
        table.add_column(name, overflow="fold")
    for row in rows:
        # Senders and subjects come from the mails: shown as text, never read as Rich markup.
        fields = (row.reason, row.received, row.sender, row.subject, row.provider, row.location, row.replay)
        table.add_row(*(escape(value) for value in fields))
    return table
