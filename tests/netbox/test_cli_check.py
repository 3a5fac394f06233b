"""`sesflow netbox check` against the real NetBox with a full and a read-only token."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from sesflow.cli.netbox import PROBES, netbox_app
from sesflow.local.netbox import RunningNetBox

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

# Mounted as the main CLI mounts it: a Typer app with one command would otherwise run it without its name.
cli = typer.Typer()
cli.add_typer(netbox_app, name="netbox")


def test_full_rights_token_passes(clean_netbox: RunningNetBox) -> None:
    result = CliRunner().invoke(
        cli,
        ["netbox", "check"],
        env={"NETBOX_URL": clean_netbox.url, "NETBOX_API_TOKEN": clean_netbox.tokens.admin},
    )
    assert result.exit_code == 0, result.output
    assert "NetBox 4.7.3" in result.output
    assert "netbox-notices 1.3.0" in result.output


def test_read_only_token_lists_each_missing_write_permission(clean_netbox: RunningNetBox) -> None:
    result = CliRunner().invoke(
        cli,
        ["netbox", "check"],
        env={
            "NETBOX_URL": clean_netbox.url,
            "NETBOX_API_TOKEN": clean_netbox.tokens.reader,
            "COLUMNS": "250",
        },
    )
    assert result.exit_code == 1, result.output
    writes = [probe.permission for probe in PROBES if probe.method != "GET"]
    assert f"{len(writes)} problem(s)" in result.output
    for line in result.output.splitlines():
        if any(permission in line for permission in writes):
            assert "missing" in line
