"""`sesflow config check`: the settings a flow reads, checked as its Lambda function would at start."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sesflow.config import (
    COMMON_VARIABLES,
    SECRET_VARIABLES,
    VARIABLES,
    ConfigError,
    Flow,
    load_settings,
)

config_app = typer.Typer(help="Inspect the settings a flow reads from its environment.", no_args_is_help=True)
console = Console()


def _shown(name: str, value: str | None) -> str:
    if value is None or not value.strip():
        return "[dim](not set)[/dim]"
    if name in SECRET_VARIABLES:
        return "[dim]****** (set)[/dim]"
    return value


@config_app.command("check")
def config_check(
    flow: Annotated[Flow, typer.Option("--flow", "-f", help="Which flow's settings to check.")],
) -> None:
    """Check the environment as the flow's Lambda function would at a cold start."""
    problems: dict[str, list[str]] = {}
    try:
        load_settings(flow)
    except ConfigError as error:
        for problem in error.problems:
            problems.setdefault(problem.variable, []).append(problem.message)
    table = Table(title=f"sesflow {flow} settings")
    table.add_column("variable")
    table.add_column("value")
    table.add_column("check")
    for name in (*COMMON_VARIABLES, *VARIABLES[flow]):
        verdict = "; ".join(problems.get(name, [])) or "ok"
        style = "red" if name in problems else "green"
        table.add_row(name, _shown(name, os.environ.get(name)), f"[{style}]{verdict}[/{style}]")
    console.print(table)
    if problems:
        count = sum(len(messages) for messages in problems.values())
        console.print(f"[red]{count} problem(s): the {flow} function would fail at start.[/red]")
        raise typer.Exit(code=1)
    console.print(f"[green]The {flow} settings are valid.[/green]")
