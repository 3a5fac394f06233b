"""The triage against the real NetBox + netbox-notices and moto's S3: one mail per reason leaves one tagged
journal entry saying why and how to replay it, nothing more when it comes again; a replay after the fix
resolves it; circuits NetBox lacks are listed; `sesflow notices inbound triage` shows them all; `plan`
writes none. The same cases over the fakes: test_inbound_triage_over_fakes.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from sesflow.local.netbox import RunningNetBox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.notices.inbound.triage_netbox import OPEN_TAG, RESOLVED_TAG

from .conftest import BUCKET, PREFIX, Inbox
from .triage_cases import (
    CASES,
    LATER_SLUG,
    UNKNOWN_CIRCUITS,
    Case,
    check_waiting_entry,
    tags_of,
)

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def _cli(server: RunningNetBox, *args: str, **environ: str) -> Result:
    from sesflow.cli.notices import notices_app

    env = {"NETBOX_URL": server.url, "NETBOX_API_TOKEN": server.tokens.admin, "COLUMNS": "400", **environ}
    return CliRunner().invoke(notices_app, ["inbound", *args], env=env)


def _waiting(client: NetBoxClient) -> list[dict[str, object]]:
    return NoticesApi(client).find_journal_entries(tag=OPEN_TAG)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_mail_not_applied_waits_in_one_entry_however_often_it_comes(
    case: Case, make_inbox: Callable[..., Inbox], nb_client: NetBoxClient
) -> None:
    inbox = make_inbox(**case.environ)
    outcome = inbox.deliver(case.raw, **case.delivery)
    assert outcome.result == case.reason, outcome.detail
    provider_id = inbox.deps.netbox.provider_id(case.netbox_provider)
    assert provider_id is not None
    [entry] = _waiting(nb_client)
    check_waiting_entry(case, entry, provider_id)
    inbox.counter -= 1  # the same SES delivery again
    inbox.deliver(case.raw, **case.delivery)
    assert _waiting(nb_client) == [entry]


def test_a_replay_after_the_fix_resolves_the_entry_and_the_table_lists_what_waits(
    make_inbox: Callable[..., Inbox], nb_client: NetBoxClient, clean_netbox: RunningNetBox
) -> None:
    case = next(case for case in CASES if case.reason == "no_netbox_provider")
    assert make_inbox().deliver(UNKNOWN_CIRCUITS, source="noc@noc.example.org").result == "applied"
    inbox = make_inbox(**case.environ)
    inbox.counter = 1  # the bucket's second mail
    inbox.deliver(case.raw, **case.delivery)
    location = f"s3://{BUCKET}/{PREFIX}ses-0002"
    listed = _cli(clean_netbox, "triage")
    assert listed.exit_code == 0, listed.output
    assert "2 inbound mails wait" in listed.output
    for text in ("no_netbox_provider", "unknown_circuits", "NOT-IN-NETBOX-1", f"replay {location}"):
        assert text in listed.output, listed.output
    later = _cli(clean_netbox, "triage", "--since", "2999-01-01")
    assert later.exit_code == 0 and "0 inbound mails wait" in later.output

    nb_client.post("/api/circuits/providers/", {"name": "Zayo (later)", "slug": LATER_SLUG})  # the fix
    provider_map = case.environ["NETBOX_PROVIDER_MAP"]
    replayed = _cli(clean_netbox, "replay", location, "--vouch", NETBOX_PROVIDER_MAP=provider_map)
    assert replayed.exit_code == 0, replayed.output
    [resolved] = NoticesApi(nb_client).find_journal_entries(tag=RESOLVED_TAG)
    assert resolved["kind"]["value"] == "success" and tags_of(resolved) == {RESOLVED_TAG}
    assert location in resolved["comments"] and "**Resolved**: applied on " in resolved["comments"]
    # What waits now: the maintenances' circuits NetBox lacks (the new provider has none of zayo4's).
    assert {entry["assigned_object_type"] for entry in _waiting(nb_client)} == {"notices.maintenance"}
    again = _cli(clean_netbox, "replay", location, "--vouch", NETBOX_PROVIDER_MAP=provider_map)
    assert again.exit_code == 0, again.output
    assert len(NoticesApi(nb_client).find_journal_entries(tag=RESOLVED_TAG)) == 1


def test_applying_a_downloaded_copy_of_the_s3_object_resolves_its_entry(
    make_inbox: Callable[..., Inbox], nb_client: NetBoxClient, clean_netbox: RunningNetBox, tmp_path: Path
) -> None:
    case = next(case for case in CASES if case.reason == "no_netbox_provider")
    inbox = make_inbox(**case.environ)
    inbox.deliver(case.raw, **case.delivery)
    [waiting] = _waiting(nb_client)
    downloaded = tmp_path / "ses-0001"  # as `aws s3 cp` names it: the object's name, SES's message id
    downloaded.write_bytes(inbox.aws.s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}ses-0001")["Body"].read())
    nb_client.post("/api/circuits/providers/", {"name": "Zayo (later)", "slug": LATER_SLUG})  # the fix

    provider_map = case.environ["NETBOX_PROVIDER_MAP"]
    applied = _cli(clean_netbox, "apply", str(downloaded), "--vouch", NETBOX_PROVIDER_MAP=provider_map)
    assert applied.exit_code == 0, applied.output
    [resolved] = NoticesApi(nb_client).find_journal_entries(tag=RESOLVED_TAG)
    assert resolved["id"] == waiting["id"]


def test_circuits_netbox_lacks_are_tagged_on_their_maintenance(inbox: Inbox, nb_client: NetBoxClient) -> None:
    outcome = inbox.deliver(UNKNOWN_CIRCUITS, source="noc@noc.example.org")
    assert outcome.result == "applied"
    [entry] = _waiting(nb_client)
    assert (entry["assigned_object_type"], entry["assigned_object_id"]) == (
        "notices.maintenance",
        outcome.applied[0].maintenance_id,
    )
    assert "NOT-IN-NETBOX-1" in str(entry["comments"]) and entry["kind"]["value"] == "warning"  # type: ignore[index]


def test_a_plan_writes_no_triage_entry(
    inbox: Inbox, nb_client: NetBoxClient, clean_netbox: RunningNetBox, tmp_path: Path
) -> None:
    unknown = next(case for case in CASES if case.reason == "unknown_provider")
    mail = tmp_path / "unknown.eml"
    mail.write_bytes(unknown.raw)
    planned = _cli(clean_netbox, "plan", str(mail))
    assert planned.exit_code == 0, planned.output
    assert "unknown_provider" in planned.output
    assert nb_client.get("/api/extras/journal-entries/", {"limit": 1})["count"] == 0
    assert nb_client.get("/api/extras/tags/", {"limit": 1})["count"] == 0
