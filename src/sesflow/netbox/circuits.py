"""Looking up the NetBox objects a provider's notice refers to: the provider by slug, its circuits by cid."""

from __future__ import annotations

import re
from collections import defaultdict

from sesflow.netbox.client import NetBoxClient, Params

_WHITESPACE = re.compile(r"\s+")


def find_provider_id(client: NetBoxClient, slug: str) -> int | None:
    found = client.get("/api/circuits/providers/", {"slug": slug, "brief": True})
    return int(found["results"][0]["id"]) if found["results"] else None


def find_circuit_ids(client: NetBoxClient, provider_id: int, cids: list[str]) -> dict[str, int]:
    """{cid: id} for the provider's circuits among `cids`, in one request (`cid` is unique per provider)."""
    if not cids:
        return {}
    params: Params = {"provider_id": provider_id, "cid": cids, "brief": True}
    return {item["cid"]: int(item["id"]) for item in client.iterate("/api/circuits/circuits/", params)}


def loose_cid(cid: str) -> str:
    """A cid as the tolerant match compares it: lower case, whitespace stripped and collapsed to one space."""
    return _WHITESPACE.sub(" ", cid).strip().lower()


def cid_pattern(cid: str) -> str:
    """A regular expression (PostgreSQL's, matched case-insensitively) for every cid whose `loose_cid` is
    this one's: any run of whitespace where it has one, any around it."""
    words = loose_cid(cid).split(" ")
    return r"^\s*" + r"\s+".join(re.escape(word) for word in words) + r"\s*$"


def find_circuits_loosely(
    client: NetBoxClient, provider_id: int, cids: list[str]
) -> dict[str, tuple[int, str]]:
    """{cid asked: (id, cid as NetBox spells it)} for the provider's circuits that match an asked cid only
    up to case and whitespace, in one request. A cid that matches two circuits is left out: which one the
    notice means cannot be told."""
    wanted = [cid for cid in dict.fromkeys(cids) if loose_cid(cid)]
    if not wanted:
        return {}
    params: Params = {
        "provider_id": provider_id,
        "cid__iregex": [cid_pattern(cid) for cid in wanted],
        "brief": True,
    }
    found = [
        (int(item["id"]), str(item["cid"])) for item in client.iterate("/api/circuits/circuits/", params)
    ]
    return loose_matches(wanted, found)


def loose_matches(wanted: list[str], found: list[tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """Each wanted cid paired with the one circuit of `found` ((id, cid) pairs) that matches it loosely."""
    by_loose: defaultdict[str, list[tuple[int, str]]] = defaultdict(list)
    for circuit in found:
        by_loose[loose_cid(circuit[1])].append(circuit)
    return {cid: matches[0] for cid in wanted if len(matches := by_loose[loose_cid(cid)]) == 1}
