"""`sesflow notices inbound plan`: prints what a mail would change, writes nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sesflow.cli.notices import notices_app
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import Seeded
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN

from .conftest import corpus_path

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def test_plan_prints_the_windows_and_writes_nothing(
    clean_netbox: RunningNetBox, nb_client: NetBoxClient, corpus_seeded: Seeded
) -> None:
    env = {"NETBOX_URL": clean_netbox.url, "NETBOX_API_TOKEN": clean_netbox.tokens.admin}
    path = corpus_path("zayo", "zayo5.eml")
    result = CliRunner().invoke(notices_app, ["inbound", "plan", str(path)], env=env)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["result"] == "planned"
    assert [(p["name"], p["action"]) for p in printed["plans"]] == [
        (f"TTN-0003456789 [{n}/3]", "create") for n in (1, 2, 3)
    ]
    assert nb_client.get(f"{PLUGIN}/maintenance/", {"limit": 1})["count"] == 0
