"""The overlap warnings' reads and write (overlap_reads.py over `NoticesApi`): the live maintenances of a
period, the sites their impacts reach (a circuit's site or location termination, a device, a site), the
warnings journaled, all written at once — as `NoticesInNetBox` finds them in the real NetBox and
`FakeInboundNetBox` in `FakeNotices`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pytest

from sesflow.local.netbox.seed import ProviderSeed, SeedData, Seeded, seed_netbox
from sesflow.netbox.notices import ImpactTarget, NoticesApi
from sesflow.netbox.records import ImpactLevel
from sesflow.notices.inbound.in_netbox import NoticesInNetBox
from sesflow.notices.inbound.overlaps import OverlapWarning, Site

from ..fakes.inbound_netbox import FakeInboundNetBox
from ..fakes.notices import FakeNotices
from ..notices.places import NetBoxPlaces

SEED = SeedData(
    providers=(ProviderSeed("Alpha", "alpha", ("A-1", "A-2")), ProviderSeed("Beta", "beta", ("B-1",)))
)


class Places(Protocol):
    def add_site(self, name: str) -> int: ...
    def add_location(self, name: str, site_id: int) -> int: ...
    def add_device(self, name: str, site_id: int) -> int: ...
    def terminate(self, circuit_id: int, scope: str, scope_id: int, side: str = "A") -> None: ...


@dataclass
class World:
    netbox: NoticesInNetBox
    api: NoticesApi
    places: Places
    seeded: Seeded

    def maintenance(self, name: str, provider: str, start: str, end: str, status: str = "CONFIRMED") -> int:
        body: dict[str, Any] = {
            "name": name,
            "summary": name,
            "provider": self.seeded.providers[provider],
            "start": start,
            "end": end,
            "status": status,
        }
        return int(self.api.create_maintenance_data(body)["id"])


@pytest.fixture(
    params=[
        pytest.param("real", marks=[pytest.mark.netbox, pytest.mark.integration]),
        pytest.param("fake", marks=pytest.mark.unit),
    ]
)
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "real":
        client = request.getfixturevalue("nb_client")
        return World(
            NoticesInNetBox(client), NoticesApi(client), NetBoxPlaces(client), seed_netbox(client, SEED)
        )
    fake = FakeNotices()
    return World(FakeInboundNetBox(fake), fake, fake, fake.seed(SEED))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_live_windows_are_those_that_overlap_the_period_and_will_happen(world: World) -> None:
    inside = world.maintenance("IN", "alpha", "2031-03-01T02:00:00Z", "2031-03-01T06:00:00Z")
    world.maintenance("TOUCHING", "alpha", "2031-03-01T04:00:00Z", "2031-03-01T08:00:00Z")
    world.maintenance("BEFORE", "beta", "2031-02-28T00:00:00Z", "2031-03-01T00:00:00Z")
    for status in ("CANCELLED", "COMPLETED", "RE-SCHEDULED"):
        world.maintenance(status, "beta", "2031-03-01T01:00:00Z", "2031-03-01T03:00:00Z", status)
    found = world.netbox.live_windows(_at("2031-03-01T00:00:00"), _at("2031-03-01T04:00:00"))
    assert [(w.id, w.name, w.provider, w.start, w.end) for w in found] == [
        (inside, "IN", "Alpha", _at("2031-03-01T02:00:00"), _at("2031-03-01T06:00:00"))
    ]


def test_impacts_reach_their_circuits_terminations_devices_and_sites(world: World) -> None:
    one, two = world.places.add_site("Site One"), world.places.add_site("Site Two")
    room = world.places.add_location("Room", two)
    router = world.places.add_device("router1", one)
    a1, a2, b1 = (world.seeded.circuits[key] for key in (("alpha", "A-1"), ("alpha", "A-2"), ("beta", "B-1")))
    world.places.terminate(a1, "dcim.site", one)
    world.places.terminate(a2, "dcim.location", room, side="Z")
    first = world.maintenance("M1", "alpha", "2031-03-01T00:00:00Z", "2031-03-01T04:00:00Z")
    second = world.maintenance("M2", "beta", "2031-03-01T00:00:00Z", "2031-03-01T04:00:00Z")
    third = world.maintenance("M3", "beta", "2031-03-01T00:00:00Z", "2031-03-01T04:00:00Z")
    world.api.create_impacts(
        first, [ImpactTarget(a1, ImpactLevel.OUTAGE), ImpactTarget(a2, ImpactLevel.OUTAGE)]
    )
    world.api.create_impacts(second, [ImpactTarget(router, None, "dcim", "device")])
    world.api.create_impacts(third, [ImpactTarget(two, None, "dcim", "site")])
    reach = world.netbox.impact_sites([first, second, third], {})
    assert reach == {first: {Site(one, ""), Site(two, "")}, second: {Site(one, "")}, third: {Site(two, "")}}
    assert {site.name for site in reach[first]} == {"Site One", "Site Two"}
    # A circuit the plan is about to impact (a dry run's) is read for its sites; one with no termination
    # reaches none.
    assert world.netbox.impact_sites([third], {third: {a1, b1}}) == {third: {Site(one, ""), Site(two, "")}}


def test_warnings_are_written_at_once_and_read_back_by_maintenance(world: World) -> None:
    first = world.maintenance("M1", "alpha", "2031-03-01T00:00:00Z", "2031-03-01T04:00:00Z")
    second = world.maintenance("M2", "beta", "2031-03-01T00:00:00Z", "2031-03-01T04:00:00Z")
    world.netbox.add_warning(first, "not an overlap, but a warning all the same")
    world.api.add_journal_entry(second, "an info entry", kind="info", object_type="notices.maintenance")
    world.netbox.add_warnings([OverlapWarning(first, "about M2"), OverlapWarning(second, "about M1")])
    texts = world.netbox.warning_texts([first, second])
    assert sorted(texts[first]) == ["about M2", "not an overlap, but a warning all the same"]
    assert texts[second] == ["about M1"]
