"""Looking up the NetBox objects a provider's notice refers to: the provider by slug, its circuits by cid."""

from __future__ import annotations

from sesflow.netbox.client import NetBoxClient, Params


def find_provider_id(client: NetBoxClient, slug: str) -> int | None:
    found = client.get("/api/circuits/providers/", {"slug": slug, "brief": True})
    return int(found["results"][0]["id"]) if found["results"] else None


def find_circuit_ids(client: NetBoxClient, provider_id: int, cids: list[str]) -> dict[str, int]:
    """{cid: id} for the provider's circuits among `cids`, in one request (`cid` is unique per provider)."""
    if not cids:
        return {}
    params: Params = {"provider_id": provider_id, "cid": cids, "brief": True}
    return {item["cid"]: int(item["id"]) for item in client.iterate("/api/circuits/circuits/", params)}
