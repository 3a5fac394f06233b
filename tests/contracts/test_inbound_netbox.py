"""The inbound flow's NetBox lookups that go around `NoticesApi` (`sesflow.netbox.circuits`): the provider by
slug and its circuits by cid, as `NoticesInNetBox` finds them in the real NetBox and `FakeInboundNetBox` in
`FakeNotices`."""

from __future__ import annotations

import pytest

from sesflow.local.netbox.seed import DEMO_SEED, Seeded, seed_netbox
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
