"""`sesflow netbox check`: can the flows reach NetBox, and does the token have every permission they use?
It also says what the NetBox version means for them: ETags for outbound's marking, the webhook's rule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sesflow.netbox.client import ETAGS_SINCE, NetBoxClient, netbox_version
from sesflow.netbox.errors import NetBoxError, NetBoxHTTPError
from sesflow.netbox.event_rules import (
    CHANGED_SINCE,
    READY_CHANGE,
    as_json,
    fires_on_every_edit,
    is_ready_rule,
)
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


#: Endpoints whose objects a detail read can be asked of, to see whether NetBox answers with an ETag.
DETAIL_SOURCES = (f"{PLUGIN}/prepared-notifications/", "/api/circuits/providers/", "/api/extras/event-rules/")
EVENT_RULES = "/api/extras/event-rules/"


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(number) for number in version)


def etag_seen(client: NetBoxClient) -> bool | None:
    """Whether a detail read of some object came with an ETag; None when there is no object to read."""
    for path in DETAIL_SOURCES:
        try:
            found = client.get(path, {"limit": 1, "brief": True})["results"]
        except NetBoxHTTPError:
            continue  # not readable with this token: try the next kind
        if found:
            return client.request("GET", f"{path}{found[0]['id']}/").etag is not None
    return None


def etag_lines(client: NetBoxClient, version: tuple[int, ...]) -> Iterator[str]:
    expected = version >= ETAGS_SINCE
    seen = etag_seen(client)
    if seen is None:
        verdict = "honoured" if expected else "not honoured"
        yield f"ETag/If-Match: {verdict} (from the version; no object to read one from)"
    elif seen:
        yield "ETag/If-Match: honoured: outbound marks `sent` with If-Match, so a lost race is a 412"
    elif expected:
        yield (
            f"[yellow]ETag/If-Match: not honoured, although NetBox {_dotted(version)} sends ETags: something "
            "between sesflow and NetBox strips them. Outbound works without them (it checks each PATCH's "
            "answer; docs/outbound.md), leaving a small window If-Match would close.[/yellow]"
        )
    else:
        yield (
            "ETag/If-Match: not honoured (NetBox before 4.6): outbound checks each PATCH's answer instead "
            "(docs/outbound.md)"
        )


def event_rule_lines(client: NetBoxClient, version: tuple[int, ...]) -> Iterator[str]:
    """One line per event rule that fires outbound's webhook, with a warning (and the fix) for a rule that
    fires on every edit of a ready notification where NetBox could fire it on the change to `ready` only."""
    try:
        rules: list[dict[str, Any]] = list(client.iterate(EVENT_RULES))
    except NetBoxHTTPError as error:
        yield f"Event rules: not readable with this token ({error.status}; needs extras.view_eventrule)"
        return
    ready = [rule for rule in rules if is_ready_rule(rule)]
    if not ready:
        yield "Event rules: none fires outbound's webhook on `ready` (fine when outbound only polls)"
    for rule in ready:
        name = escape(str(rule.get("name")))
        if not fires_on_every_edit(rule):
            yield f"Event rule '{name}': fires only when status changes to ready"
        elif version >= CHANGED_SINCE:
            yield (
                f"[yellow]Event rule '{name}' fires on every edit of a ready notification. Fix: set its "
                f"conditions to {escape(as_json(READY_CHANGE))}[/yellow]"
            )
        else:
            yield (
                f"Event rule '{name}': fires on every edit of a ready notification too; NetBox "
                f"{_dotted(CHANGED_SINCE)}+ can fire it on the change to ready only"
            )


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
    version = netbox_version(status)
    try:
        for line in (*etag_lines(client, version), *event_rule_lines(client, version)):
            console.print(line, soft_wrap=True)
    except NetBoxError as error:
        console.print(f"[red]Cannot use NetBox at {url}: {error}[/red]")
        raise typer.Exit(code=2) from error
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
