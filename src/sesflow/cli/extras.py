"""Which optional extra a command group needs, checked before it runs.

`sesflow[cli]` alone runs the relay and config commands; the notices commands run the notices flows' code
(extra `notices`), the local stack and the demo run moto and aiosmtpd (extra `local`). A command whose
extra is missing says so in one line instead of a traceback about a module.
"""

from __future__ import annotations

import importlib.util

import typer

#: Import names each extra brings, beyond what `cli` already has.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "notices": ("circuit_maintenance_parser", "css_inline"),
    "local": ("circuit_maintenance_parser", "css_inline", "moto", "aiosmtpd"),
}


def missing_modules(extra: str) -> list[str]:
    """The extra's modules this environment cannot import (found without importing them)."""
    return [name for name in EXTRA_MODULES[extra] if importlib.util.find_spec(name) is None]


def require_extra(extra: str, what: str) -> None:
    """Exit 2 with one line naming the extra to install when any of its modules is missing."""
    missing = missing_modules(extra)
    if missing:
        typer.echo(
            f"{what} needs the `{extra}` extra ({', '.join(missing)} not installed): "
            f"pip install 'sesflow[{extra}]'",
            err=True,
        )
        raise typer.Exit(code=2)
