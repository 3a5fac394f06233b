"""`sesflow netbox check`: can the flows reach NetBox, and does the token have every permission they use?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxError, NetBoxHTTPError
from sesflow.netbox.retry import RetryPolicy

netbox_app = typer.Typer(help="Check the NetBox the notices flows use.", no_args_is_help=True)
console = Console()

PLUGIN = "/api/plugins/notices"


@dataclass(frozen=True)
class PermissionProbe:
    """A harmless request that NetBox answers 403 only when the permission is missing: an empty POST fails
    validation (400), a PATCH of object 0 finds nothing (404)."""

    permission: str
    method: str
    path: str

    def allowed_statuses(self) -> frozenset[int]:
        return {"GET": frozenset({200}), "POST": frozenset({400}), "PATCH": frozenset({404})}[self.method]


PROBES = (
    PermissionProbe("circuits.view_provider", "GET", "/api/circuits/providers/"),
    PermissionProbe("circuits.view_circuit", "GET", "/api/circuits/circuits/"),
    PermissionProbe("notices.view_maintenance", "GET", f"{PLUGIN}/maintenance/"),
    PermissionProbe("notices.add_maintenance", "POST", f"{PLUGIN}/maintenance/"),
    PermissionProbe("notices.change_maintenance", "PATCH", f"{PLUGIN}/maintenance/0/"),
    PermissionProbe("notices.view_impact", "GET", f"{PLUGIN}/impact/"),
    PermissionProbe("notices.add_impact", "POST", f"{PLUGIN}/impact/"),
    PermissionProbe("notices.add_eventnotification", "POST", f"{PLUGIN}/eventnotification/"),
    PermissionProbe("notices.view_preparednotification", "GET", f"{PLUGIN}/prepared-notifications/"),
    PermissionProbe("notices.change_preparednotification", "PATCH", f"{PLUGIN}/prepared-notifications/0/"),
    PermissionProbe("extras.add_journalentry", "POST", "/api/extras/journal-entries/"),
)


def probe(client: NetBoxClient, check: PermissionProbe) -> str | None:
    """None when the token has the permission, else what NetBox answered. Probes create nothing (an empty
    body or object 0), so they are repeated freely."""
    body: dict[str, str] | None = {} if check.method in {"POST", "PATCH"} else None
    params = {"limit": 1} if check.method == "GET" else None
    try:
        status = client.request(check.method, check.path, params=params, body=body, repeatable=True).status
    except NetBoxHTTPError as error:
        status = error.status
        if status not in check.allowed_statuses():
            return f"{status}: {'; '.join(' '.join(texts) for texts in error.messages.values())}"
    return None if status in check.allowed_statuses() else f"unexpected {status}"


@netbox_app.command("check")
def netbox_check(
    url: Annotated[str, typer.Option(envvar="NETBOX_URL", help="NetBox's base URL.")],
    token: Annotated[str, typer.Option(envvar="NETBOX_API_TOKEN", help="API token (v1, or v2 nbt_…).")],
) -> None:
    """Reach NetBox, show its versions, and check the token and each permission the notices flows need."""
    # An operator waits for this answer: a slow NetBox gets a few tries within half a minute.
    client = NetBoxClient(url, token, retry=RetryPolicy(deadline=30.0), timeout=10.0)
    try:
        status = client.status()
        user = client.get("/api/authentication-check/")
    except NetBoxError as error:
        console.print(f"[red]Cannot use NetBox at {url}: {error}[/red]")
        raise typer.Exit(code=2) from error
    plugin = (status.get("plugins") or {}).get("notices")
    console.print(
        f"NetBox {status.get('netbox-version')} at {url}, netbox-notices {plugin or '[red]missing[/red]'}"
    )
    console.print(f"Token belongs to [bold]{user.get('username')}[/bold]")
    table = Table(title="Permissions the notices flows need")
    table.add_column("permission")
    table.add_column("check")
    table.add_column("how to fix")
    missing = 0 if plugin else 1
    for check in PROBES:
        problem = probe(client, check)
        if problem is None:
            table.add_row(check.permission, "[green]ok[/green]", "")
            continue
        missing += 1
        action = check.permission.split(".")[1].split("_")[0]
        fix = f"Admin → Permissions: grant '{action}' on {check.permission.split('.')[0]} | {check.path}"
        table.add_row(check.permission, f"[red]missing ({problem})[/red]", fix)
    console.print(table)
    if missing:
        console.print(f"[red]{missing} problem(s): the notices flows would fail.[/red]")
        raise typer.Exit(code=1)
    console.print("[green]NetBox is ready for the notices flows.[/green]")
