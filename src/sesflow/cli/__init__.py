"""The `sesflow` command line: operator checks and the local demo. One module per command group."""

from __future__ import annotations

from typing import Annotated

import typer

from sesflow.cli.config import config_app
from sesflow.cli.extras import require_extra
from sesflow.cli.local import local_app
from sesflow.cli.netbox import netbox_app
from sesflow.cli.notices import notices_app
from sesflow.cli.relay import relay_app

app = typer.Typer(
    help="Email pipelines on Amazon SES: NetBox notices and the IoT relay.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(local_app, name="local")
app.add_typer(netbox_app, name="netbox")
app.add_typer(notices_app, name="notices")
app.add_typer(relay_app, name="relay")


@app.command()
def demo(
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="show the functions' logs inline instead of in a file"),
    ] = False,
) -> None:
    """Start local AWS stand-ins and show, end to end, what sesflow does today."""
    require_extra("local", "sesflow demo")
    from rich.console import Console

    from sesflow.local.demo import run_demo  # the demo starts servers: import it only when asked

    raise typer.Exit(code=run_demo(Console(), verbose=verbose))


def main() -> None:
    app()
