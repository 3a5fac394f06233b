"""`sesflow netbox check` against the real NetBox with a full and a read-only token; what it says about
ETags and the webhook's event rule on NetBox 4.7, and on 4.5 (4.7 behind a proxy that makes it 4.5)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from sesflow.cli.netbox import PROBES, netbox_app
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import DEMO_SEED, seed_netbox, seed_ready_webhook
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.event_rules import READY_CHANGE, READY_STATE

from .no_etag_proxy import REPORTED_VERSION, NoETagProxy

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


def check(url: str, token: str) -> Result:
    return CliRunner().invoke(
        cli, ["netbox", "check"], env={"NETBOX_URL": url, "NETBOX_API_TOKEN": token, "COLUMNS": "250"}
    )


def with_ready_rule(netbox: RunningNetBox, conditions: Mapping[str, Any] | None = None) -> None:
    """The demo seed (so there are objects to read) and outbound's webhook rule, with other conditions if
    given (as an operator may have set them)."""
    client = NetBoxClient(netbox.url, netbox.tokens.admin)
    seed_netbox(client, DEMO_SEED)
    rule = seed_ready_webhook(client, "http://127.0.0.1:9/webhook/outbound", "secret")
    if conditions is not None:
        client.patch(f"/api/extras/event-rules/{rule}/", {"conditions": conditions})


def test_netbox_47_honours_etags_and_its_rule_fires_on_the_change_only(clean_netbox: RunningNetBox) -> None:
    with_ready_rule(clean_netbox)
    result = check(clean_netbox.url, clean_netbox.tokens.admin)
    assert result.exit_code == 0, result.output
    assert "ETag/If-Match: honoured" in result.output
    assert "fires only when status changes to ready" in result.output
    assert "every edit" not in result.output


def test_a_rule_that_fires_on_every_edit_is_warned_about_with_the_fix(clean_netbox: RunningNetBox) -> None:
    with_ready_rule(clean_netbox, READY_STATE)
    result = check(clean_netbox.url, clean_netbox.tokens.admin)
    assert result.exit_code == 0, result.output  # a warning: the flows work, with needless webhook calls
    [warning] = [line for line in result.output.splitlines() if "every edit" in line]
    assert "Fix: set its conditions to" in warning
    assert json.loads(warning.split("Fix: set its conditions to", 1)[1]) == READY_CHANGE


@pytest.fixture
def as_45(clean_netbox: RunningNetBox) -> Iterator[NoETagProxy]:
    proxy = NoETagProxy(int(clean_netbox.url.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()


def test_netbox_45_gets_no_etags_and_its_rule_is_the_best_it_can_have(
    clean_netbox: RunningNetBox, as_45: NoETagProxy
) -> None:
    with_ready_rule(clean_netbox, READY_STATE)
    result = check(as_45.url, clean_netbox.tokens.admin)
    assert result.exit_code == 0, result.output
    assert f"NetBox {REPORTED_VERSION}" in result.output
    assert "ETag/If-Match: not honoured (NetBox before 4.6)" in result.output
    assert "fires on every edit of a ready notification too; NetBox 4.7+" in result.output
    assert "Fix:" not in result.output


def test_a_proxy_that_strips_the_etags_of_a_newer_netbox_is_named(clean_netbox: RunningNetBox) -> None:
    with_ready_rule(clean_netbox)
    proxy = NoETagProxy(int(clean_netbox.url.rsplit(":", 1)[1]), version=None)
    try:
        result = check(proxy.url, clean_netbox.tokens.admin)
    finally:
        proxy.close()
    assert result.exit_code == 0, result.output
    assert "not honoured, although NetBox 4.7.3 sends ETags: something between" in result.output
