"""`sesflow notices overlaps [--from --to]`: the maintenances down at the same time at a common site in a
period, as the inbound flow's overlap warnings find them (overlaps.py), in a table."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.config import ConfigError, Flow, NetBoxSettings, load_settings
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi

if TYPE_CHECKING:
    from sesflow.notices.inbound.overlaps import Overlap

console = Console()
#: The period looked at when none is given: from now, this many days.
DEFAULT_DAYS = 30
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def overlaps_command(
    start: Annotated[
        datetime | None, typer.Option("--from", formats=DATE_FORMATS, help="start of the period, UTC (now)")
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--to", formats=DATE_FORMATS, help=f"end of the period, UTC (--from + {DEFAULT_DAYS} days)"
        ),
    ] = None,
) -> None:
    """List the live maintenances in a period that overlap another at a common site (NETBOX_URL,
    NETBOX_API_TOKEN); write nothing."""
    from sesflow.notices.inbound.overlap_reads import impact_sites, live_windows
    from sesflow.notices.inbound.overlaps import overlapping_pairs

    since = _utc(start) if start else datetime.now(UTC)
    until = _utc(end) if end else since + timedelta(days=DEFAULT_DAYS)
    api = NoticesApi(NetBoxClient.from_settings(_netbox_settings()))
    windows = live_windows(api, since, until)
    pairs = overlapping_pairs(windows, impact_sites(api, [window.id for window in windows]))
    console.print(_table(pairs, since, until))


def _table(pairs: list[Overlap], since: datetime, until: datetime) -> Table:
    table = Table(title=f"Overlapping maintenances, {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC")
    for column in ("Maintenance", "Overlaps", "From", "To", "Shared sites"):
        table.add_column(column)
    for pair in pairs:
        table.add_row(
            escape(pair.first.describe()),
            escape(pair.second.describe()),
            f"{pair.start.astimezone(UTC):%Y-%m-%d %H:%M}",
            f"{pair.end.astimezone(UTC):%Y-%m-%d %H:%M}",
            escape(", ".join(site.name for site in pair.sites)),
        )
    if not pairs:
        table.caption = "none"
    return table


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _netbox_settings() -> NetBoxSettings:
    try:
        # The tracking flow's settings are NetBox's and the common ones; this command keeps no idempotency
        # records, so the deployment's table may be left unset.
        return load_settings(Flow.TRACKING, {"IDEMPOTENCY_TABLE": "unused", **os.environ}).netbox
    except ConfigError as error:
        console.print(f"[red]{escape(str(error))}[/red]")
        raise typer.Exit(code=2) from error
