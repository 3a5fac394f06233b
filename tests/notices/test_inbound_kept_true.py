"""Impacts and maintenances kept true as a maintenance's notices come in: a newer notice that lists fewer
circuits removes the others' impacts (never an older notice, never on a closed event, never an impact on
something other than a circuit); a circuit ID that differs from NetBox's only in case or spaces is matched and
journaled; the operator's acknowledgement is cleared when a newer notice changes the status or the window.
Each case runs against the real NetBox and over the fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import ProviderSeed, SeedData, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxUnavailable
from sesflow.netbox.notices import ImpactTarget, NoticesApi
from sesflow.notices.inbound.in_netbox import MAINTENANCE_TYPE
from sesflow.notices.inbound.outcome import Outcome

from ..fakes.notices import FakeNotices
from .builders import FakeInbox
from .conftest import BUCKET, build_inbox
from .mails import bcop_notice

A, B, C = "KEPT-0001", "KEPT-0002", "KEPT-0003"
SPACED = "Kept Circuit 9"  # as NetBox spells it
SEED = SeedData(providers=(ProviderSeed("Kept", "kept", (A, B, C, SPACED)),))
SOURCE = "noc@noc.example.org"


@dataclass
class World:
    """One NetBox (real or fake) seeded with the provider `kept`, and the inbound flow in front of it."""

    deliver_raw: Callable[[bytes], Outcome]
    api: NoticesApi | FakeNotices
    provider_id: int
    circuits: dict[str, int]
    site_id: int  # a site an operator may mark as impacted by hand
    retry_last: Callable[[], None]

    def deliver(self, name: str, cids: tuple[str, ...], **notice: Any) -> Outcome:
        outcome = self.deliver_raw(bcop_notice(name, cids, provider="kept", **notice))
        assert outcome.result == "applied", outcome.detail
        return outcome

    def windows(self, name: str) -> list[dict[str, Any]]:
        return self.api.maintenances_named([name], self.provider_id)

    def current(self, name: str) -> dict[str, Any]:
        return self.windows(name)[-1]

    def impacted(self, maintenance_id: int) -> dict[str, str | None]:
        """{cid, or `site` for the site: level} of the maintenance's impacts."""
        cids = {number: cid for cid, number in self.circuits.items()}
        circuit = self.api.circuit_type_id()
        return {
            cids[item["target_object_id"]] if item["target_content_type"] == circuit else "site": item[
                "impact"
            ]
            for item in self.api.impacts_data(maintenance_id)
        }

    def journal(self, maintenance_id: int) -> list[tuple[str, str]]:
        """(kind, text) of the maintenance's journal entries, oldest first."""
        entries = self.api.journal_entries(maintenance_id, MAINTENANCE_TYPE)
        return [(entry.kind, entry.comments) for entry in reversed(entries)]


def _real_world(request: pytest.FixtureRequest) -> World:
    aws: AwsClients = request.getfixturevalue("aws")
    server: RunningNetBox = request.getfixturevalue("clean_netbox")
    client: NetBoxClient = request.getfixturevalue("nb_client")
    seeded = seed_netbox(client, SEED)
    site = client.post("/api/dcim/sites/", {"name": "Kept site", "slug": "kept-site"})
    aws.s3.create_bucket(Bucket=BUCKET)
    inbox = build_inbox(aws, server, client)

    def retry_last() -> None:
        inbox.counter -= 1

    return World(
        lambda raw: inbox.deliver(raw, source=SOURCE),
        NoticesApi(client),
        seeded.providers["kept"],
        {cid: number for (_, cid), number in seeded.circuits.items()},
        int(site["id"]),
        retry_last,
    )


def _fake_world() -> World:
    inbox = FakeInbox()
    seeded = inbox.notices.seed(SEED)

    def retry_last() -> None:
        inbox.counter -= 1

    return World(
        lambda raw: inbox.deliver(raw, source=SOURCE),
        inbox.notices,
        seeded.providers["kept"],
        {cid: number for (slug, cid), number in seeded.circuits.items() if slug == "kept"},
        1,
        retry_last,
    )


@pytest.fixture(
    params=[
        pytest.param("real", marks=[pytest.mark.netbox, pytest.mark.integration]),
        pytest.param("fake", marks=pytest.mark.unit),
    ]
)
def world(request: pytest.FixtureRequest) -> World:
    return _real_world(request) if request.param == "real" else _fake_world()


# impacts a newer notice no longer lists


def test_a_newer_notice_listing_fewer_circuits_removes_the_others_impacts(world: World) -> None:
    world.deliver("KT-1", (A, B, C))
    [first] = world.windows("KT-1")
    world.api.create_impacts(first["id"], [ImpactTarget(world.site_id, None, "dcim", "site")])
    outcome = world.deliver("KT-1", (A,), sequence=2)
    [same] = world.windows("KT-1")
    assert same["id"] == first["id"]
    assert world.impacted(same["id"]) == {A: "OUTAGE", "site": None}  # a site impact is not the notice's
    assert "impacts-2" in outcome.applied[0].changed
    removed = [text for kind, text in world.journal(same["id"]) if text.startswith("Impacts removed")]
    assert removed == [
        f"Impacts removed: circuits {B}, {C} are not in the notice of 2031-02-02T09:00:00+00:00 (sequence 2)"
    ]
    assert [kind for kind, text in world.journal(same["id"]) if text in removed] == ["info"]


def test_a_shrinking_reschedule_gives_the_new_window_only_the_circuits_it_lists(world: World) -> None:
    world.deliver("KT-2", (A, B, C))
    world.deliver("KT-2", (A,), sequence=2, day=8)
    retired, current = world.windows("KT-2")
    assert (retired["status"], current["replaces"]) == ("RE-SCHEDULED", retired["id"])
    assert world.impacted(current["id"]) == {A: "OUTAGE"}
    assert world.impacted(retired["id"]) == {A: "OUTAGE", B: "OUTAGE", C: "OUTAGE"}  # the retired window's


def test_an_older_notice_listing_fewer_circuits_removes_nothing(world: World) -> None:
    world.deliver("KT-3", (A, B, C), sequence=2)
    world.deliver("KT-3", (A,), sequence=1)
    [maintenance] = world.windows("KT-3")
    assert world.impacted(maintenance["id"]) == {A: "OUTAGE", B: "OUTAGE", C: "OUTAGE"}
    assert not [text for _, text in world.journal(maintenance["id"]) if text.startswith("Impacts removed")]


@pytest.mark.parametrize("status", ["CANCELLED", "COMPLETED"])
def test_no_impact_is_removed_from_a_closed_maintenance(world: World, status: str) -> None:
    world.deliver("KT-4", (A, B, C), status=status)
    world.deliver("KT-4", (A,), sequence=2, status=status)
    [maintenance] = world.windows("KT-4")
    assert maintenance["status"] == status
    assert world.impacted(maintenance["id"]) == {A: "OUTAGE", B: "OUTAGE", C: "OUTAGE"}


def test_a_removal_cut_short_is_finished_by_the_retry_with_one_journal_entry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.deliver("KT-5", (A, B))

    def unavailable(*args: object) -> None:
        raise NetBoxUnavailable("NetBox went away")

    with monkeypatch.context() as patch:
        patch.setattr(type(world.api), "delete_impacts", unavailable)
        with pytest.raises(NetBoxUnavailable):  # after the journal entry, before the DELETE
            world.deliver("KT-5", (A,), sequence=2)
    world.retry_last()  # Lambda's retry: the same event again
    world.deliver("KT-5", (A,), sequence=2)
    [maintenance] = world.windows("KT-5")
    assert world.impacted(maintenance["id"]) == {A: "OUTAGE"}
    assert (
        len([text for _, text in world.journal(maintenance["id"]) if text.startswith("Impacts removed")]) == 1
    )


# circuit IDs matched up to case and whitespace


def test_a_circuit_id_differing_in_case_and_spaces_is_matched_and_journaled_once(world: World) -> None:
    loose = "  KEPT   circuit 9 "
    outcome = world.deliver("KT-6", (A, loose))
    [maintenance] = world.windows("KT-6")
    assert world.impacted(maintenance["id"]) == {A: "OUTAGE", SPACED: "OUTAGE"}
    assert outcome.plans[0].unknown_circuits == ()
    note = f"Circuit IDs in the notice matched to NetBox's spelling (case, spaces): {loose!r} is {SPACED!r}"
    assert world.journal(maintenance["id"]) == [("info", note)]
    world.deliver("KT-6", (A, loose), sequence=2, status="IN-PROCESS")
    assert world.journal(maintenance["id"]) == [("info", note)]


# the operator's acknowledgement


def test_a_newer_notice_changing_the_status_clears_the_acknowledgement(world: World) -> None:
    world.deliver("KT-7", (A,), status="TENTATIVE")
    maintenance_id = world.current("KT-7")["id"]
    world.api.patch_maintenance(maintenance_id, {"acknowledged": True})
    world.deliver("KT-7", (A,), sequence=2, status="TENTATIVE")  # the same status: still acknowledged
    assert world.current("KT-7")["acknowledged"] is True
    world.deliver("KT-7", (A,), sequence=3, status="CONFIRMED")
    now = world.current("KT-7")
    assert (now["id"], now["status"], now["acknowledged"]) == (maintenance_id, "CONFIRMED", False)
    assert world.journal(maintenance_id) == [
        (
            "info",
            "Acknowledgement cleared: the notice of 2031-02-03T09:00:00+00:00 changed the status "
            "from TENTATIVE to CONFIRMED",
        )
    ]


def test_a_moved_window_is_not_acknowledged_and_says_which_was(world: World) -> None:
    world.deliver("KT-8", (A,))
    old_id = world.current("KT-8")["id"]
    world.api.patch_maintenance(old_id, {"acknowledged": True})
    world.deliver("KT-8", (A,), sequence=2, day=8)
    new = world.current("KT-8")
    assert (new["replaces"], new["acknowledged"]) == (old_id, False)
    assert world.journal(new["id"]) == [
        (
            "info",
            "Acknowledgement cleared: the notice of 2031-02-02T09:00:00+00:00 moved the window from "
            "(2031-03-01 22:00 to 2031-03-02 04:00 UTC) to (2031-03-08 22:00 to 2031-03-09 04:00 UTC); "
            f"the acknowledged maintenance {old_id} is retired",
        )
    ]
