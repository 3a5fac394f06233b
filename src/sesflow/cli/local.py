"""`sesflow local up | status`: the whole system on this machine, with no AWS account."""

from __future__ import annotations

import json
import os
import signal
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sesflow.cli.extras import require_extra
from sesflow.local.ports import LOCAL_UP_API_PORT, LOCAL_UP_NETBOX_PORT, LOCAL_UP_SMTP_PORT

if TYPE_CHECKING:
    from rich.console import Console

    from sesflow.local.stack import NetBoxTarget, Stack

local_app = typer.Typer(help="The local stack: moto as AWS, SMTP ingress, workers, outbox, NetBox.")

WORKDIR = Path(".sesflow")


@local_app.command()
def up(
    smtp_port: Annotated[int, typer.Option(help="SMTP ingress port (0: any free port)")] = LOCAL_UP_SMTP_PORT,
    api_port: Annotated[
        int, typer.Option(help="HTTP API port for POST /webhook/outbound (0: any)")
    ] = LOCAL_UP_API_PORT,
    smtp_user: Annotated[
        str, typer.Option(envvar="SESFLOW_SMTP_USER", help="require AUTH with this user")
    ] = "",
    smtp_password: Annotated[str, typer.Option(envvar="SESFLOW_SMTP_PASSWORD", show_default=False)] = "",
    netbox: Annotated[bool, typer.Option(help="start the local NetBox when NETBOX_URL is not set")] = True,
    netbox_port: Annotated[
        int, typer.Option(help="the started NetBox's web port (0: any free port)")
    ] = LOCAL_UP_NETBOX_PORT,
    poll_seconds: Annotated[float, typer.Option(help="the outbound schedule's interval")] = 10.0,
    workdir: Annotated[Path, typer.Option(help="where the outbox, certificate and status live")] = WORKDIR,
) -> None:
    """Start the stack, print its endpoints, and run until Ctrl-C."""
    require_extra("local", "sesflow local up")
    from rich.console import Console

    from sesflow.local.receipt_rules import Verdicts
    from sesflow.local.smtp_ingress import Credentials, IngressSettings
    from sesflow.local.stack import StackOptions, start_stack

    # Powertools warns on every invocation that flushes no metric; the stack disables metrics on purpose.
    warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
    console = Console()
    if bool(smtp_user) != bool(smtp_password):
        raise typer.BadParameter("set both SESFLOW_SMTP_USER and SESFLOW_SMTP_PASSWORD, or neither")
    options = StackOptions(
        workdir=workdir,
        smtp=IngressSettings(
            port=smtp_port, credentials=Credentials(smtp_user, smtp_password) if smtp_user else None
        ),
        api_port=api_port,
        netbox=_netbox_from_environment(),
        start_netbox=netbox,
        netbox_port=netbox_port,
        outbox_smtp=_outbox_target(),
        verdicts=Verdicts.from_mapping(json.loads(os.environ.get("SESFLOW_LOCAL_VERDICTS") or "{}")),
        outbound_poll_seconds=poll_seconds,
    )
    with console.status("starting the local stack (NetBox takes ~10 s)"):
        stack = start_stack(options)
    _serve_until_stopped(console, stack, workdir)


def _serve_until_stopped(console: Console, stack: Stack, workdir: Path) -> None:
    from sesflow.local.stack import write_status

    stopping = threading.Event()
    try:
        status_path = write_status(stack)
        _print_endpoints(console, stack.endpoints(), stack.started_in)
        if stack.notices_off is not None:
            console.print(
                f"notices flows off: {stack.notices_off} (set NETBOX_URL and NETBOX_API_TOKEN, or drop "
                "--no-netbox); the relay runs alone",
                markup=False,
                soft_wrap=True,
            )
        console.print(f"status in {status_path}; Ctrl-C stops everything")
        # Set both explicitly: a shell starts background jobs with SIGINT ignored.
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: stopping.set())
        while not stopping.wait(0.5):
            pass
        console.print("stopping")
    finally:
        stack.stop()
        (workdir / "local" / "stack.json").unlink(missing_ok=True)
    console.print("stopped")


@local_app.command()
def status(
    workdir: Annotated[Path, typer.Option(help="the folder `local up` ran with")] = WORKDIR,
) -> None:
    """Show the running stack's endpoints; exit 1 when none is running."""
    from rich.console import Console

    from sesflow.local.ports import port_is_open

    console = Console()
    path = workdir / "local" / "stack.json"
    if not path.exists():
        console.print("no local stack is running (start one with `sesflow local up`)")
        raise typer.Exit(code=1)
    data = json.loads(path.read_text())
    alive = _process_alive(int(data["pid"]))
    host, _, port = str(data["smtp"]).rpartition(":")
    smtp_open = port_is_open(int(port), host)
    _print_endpoints(console, data, float(data.get("started_in", 0)))
    console.print(
        f"process {data['pid']}: {'running' if alive else 'gone'}; SMTP {'open' if smtp_open else 'closed'}"
    )
    if not (alive and smtp_open):
        raise typer.Exit(code=1)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _netbox_from_environment() -> NetBoxTarget | None:
    from sesflow.local.stack import NetBoxTarget

    url = os.environ.get("NETBOX_URL", "").strip()
    if not url:
        return None
    token = os.environ.get("NETBOX_API_TOKEN", "").strip()
    if not token:
        raise typer.BadParameter("NETBOX_URL is set: NETBOX_API_TOKEN must be set too")
    return NetBoxTarget(url, token)


def _outbox_target() -> tuple[str, int] | None:
    from sesflow.local.outbox import parse_smtp_target

    value = os.environ.get("SESFLOW_OUTBOX_SMTP", "").strip()
    return parse_smtp_target(value) if value else None


def _print_endpoints(console: Console, endpoints: dict[str, object], started_in: float) -> None:
    from rich.table import Table

    table = Table(title=f"sesflow local stack (started in {started_in:.1f} s)")
    table.add_column("what")
    table.add_column("where")
    for name, value in endpoints.items():
        if name == "handlers" and isinstance(value, dict):
            for handler, state in value.items():
                table.add_row(f"handler {handler}", str(state))
            continue
        if name == "pid" or value is None:
            continue  # what this stack does not run (no NetBox, no function log file) has no row
        table.add_row(name, str(value))
    console.print(table)
