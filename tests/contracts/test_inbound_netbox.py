"""The inbound flow's NetBox lookups that go around `NoticesApi` (`sesflow.netbox.circuits`): the provider by
slug and its circuits by cid, as `NoticesInNetBox` finds them in the real NetBox and `FakeInboundNetBox` in
`FakeNotices`."""

from __future__ import annotations

import pytest

from sesflow.local.netbox.seed import DEMO_SEED, ProviderSeed, SeedData, Seeded, seed_netbox
from sesflow.notices.inbound.in_netbox import NoticesInNetBox

from ..fakes.inbound_netbox import FakeInboundNetBox
from ..fakes.notices import FakeNotices


@pytest.fixture(
    params=[
        pytest.param("real", marks=[pytest.mark.netbox, pytest.mark.integration]),
        pytest.param("fake", marks=pytest.mark.unit),
    ]
)
def lookups(request: pytest.FixtureRequest) -> tuple[NoticesInNetBox, Seeded]:
    if request.param == "real":
        client = request.getfixturevalue("nb_client")
        return NoticesInNetBox(client), seed_netbox(client, DEMO_SEED)
    fake = FakeNotices()
    return FakeInboundNetBox(fake), fake.seed(DEMO_SEED)


def test_a_provider_is_found_by_its_slug_and_an_unknown_slug_is_none(
    lookups: tuple[NoticesInNetBox, Seeded],
) -> None:
    netbox, seeded = lookups
    assert {slug: netbox.provider_id(slug) for slug in seeded.providers} == seeded.providers
    assert netbox.provider_id("not-a-provider") is None


def test_circuits_are_the_providers_own_with_exactly_those_cids(
    lookups: tuple[NoticesInNetBox, Seeded],
) -> None:
    netbox, seeded = lookups
    (slug, cid), circuit_id = next(iter(seeded.circuits.items()))
    others = {c for (s, c) in seeded.circuits if s != slug} - {c for (s, c) in seeded.circuits if s == slug}
    asked = [cid, cid.lower() + "x", "NOT-A-CIRCUIT", *sorted(others)[:1]]
    assert netbox.circuits(seeded.providers[slug], asked) == {cid: circuit_id}
    assert netbox.circuits(seeded.providers[slug], []) == {}


def test_circuits_match_loosely_up_to_case_and_whitespace_and_only_one(
    lookups: tuple[NoticesInNetBox, Seeded],
) -> None:
    netbox, seeded = lookups
    (slug, cid), circuit_id = next(iter(seeded.circuits.items()))
    provider_id = seeded.providers[slug]
    asked = [cid.lower(), f"  {cid} ", cid.replace("-", " - "), "NOT-A-CIRCUIT"]
    assert netbox.circuits_loosely(provider_id, asked) == {
        cid.lower(): (circuit_id, cid),
        f"  {cid} ": (circuit_id, cid),
    }
    assert netbox.circuits_loosely(provider_id, []) == {}
    others = [c.lower() for (s, c) in seeded.circuits if s != slug and c.lower() != cid.lower()]
    assert netbox.circuits_loosely(provider_id, others) == {}  # another provider's circuits


def test_a_cid_two_circuits_match_loosely_matches_neither(lookups: tuple[NoticesInNetBox, Seeded]) -> None:
    netbox, _ = lookups
    twins = SeedData(providers=(ProviderSeed("Twins", "twins", ("TWIN 1", "twin 1", "TWIN 2")),))
    seeded = seed_into(netbox, twins)
    provider_id = seeded.providers["twins"]
    assert netbox.circuits_loosely(provider_id, ["Twin  1", "twin 2"]) == {
        "twin 2": (seeded.circuits[("twins", "TWIN 2")], "TWIN 2")
    }


def seed_into(netbox: NoticesInNetBox, data: SeedData) -> Seeded:
    """`data` in the NetBox behind `netbox`: the fake's own seed, or the real one's through its client."""
    if isinstance(netbox, FakeInboundNetBox):
        return netbox.fake.seed(data)
    return seed_netbox(netbox.client, data)
