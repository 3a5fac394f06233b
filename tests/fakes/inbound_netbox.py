"""The inbound flow's NetBox over `FakeNotices`: `NoticesInNetBox` itself (every plugin read and write goes
through the fake's `NoticesApi` methods), with the two lookups `sesflow.netbox.circuits` makes over the plain
client — the provider by slug, its circuits by cid — read from the fake's seeded providers and circuits."""

from __future__ import annotations

from sesflow.netbox.circuits import loose_cid, loose_matches
from sesflow.notices.inbound.in_netbox import NoticesInNetBox

from .notices import FakeNotices


class FakeInboundNetBox(NoticesInNetBox):
    def __init__(self, fake: FakeNotices) -> None:
        # No client: nothing here goes over HTTP.
        self.fake = fake
        self.api = fake  # type: ignore[assignment]
        self._providers: dict[str, int] = {}

    def provider_id(self, slug: str) -> int | None:
        found = [row["id"] for row in self.fake.providers.values() if row["slug"] == slug]
        return int(found[0]) if found else None

    def circuits(self, provider_id: int, cids: list[str]) -> dict[str, int]:
        """`cid` exact and unique per provider, as NetBox's filter matches it."""
        wanted = set(cids)
        return {
            row["cid"]: int(row["id"])
            for row in self.fake.circuits.values()
            if row["provider"] == provider_id and row["cid"] in wanted
        }

    def circuits_loosely(self, provider_id: int, cids: list[str]) -> dict[str, tuple[int, str]]:
        """Up to case and whitespace, one circuit per cid or none, as `find_circuits_loosely` matches them."""
        found = [
            (int(row["id"]), str(row["cid"]))
            for row in self.fake.circuits.values()
            if row["provider"] == provider_id
        ]
        return loose_matches([cid for cid in dict.fromkeys(cids) if loose_cid(cid)], found)
