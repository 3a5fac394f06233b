"""Seeding NetBox from the parser corpus: every provider and circuit the expected results name, in one
request per object type, and idempotent."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest

from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import (
    CIRCUIT_TYPES,
    CIRCUITS,
    CONTACTS,
    PROVIDERS,
    TEMPLATES,
    corpus_seed,
    seed_netbox,
)
from sesflow.netbox.client import Json, NetBoxClient, Params, Response
from sesflow.netbox.retry import RetryPolicy

from ..conftest import CORPUS

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

SEEDED_PATHS = (PROVIDERS, CIRCUIT_TYPES, CIRCUITS, CONTACTS, TEMPLATES)


class CountingClient(NetBoxClient):
    """A client that notes each API call (method, path) it makes."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token, retry=RetryPolicy(deadline=10))
        self.calls: list[tuple[str, str]] = []

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Json = None,
        headers: Mapping[str, str] | None = None,
        repeatable: bool = False,
    ) -> Response:
        self.calls.append((method, path))
        return super().request(method, path, params=params, body=body, headers=headers, repeatable=repeatable)


@pytest.fixture
def counting_client(clean_netbox: RunningNetBox) -> CountingClient:
    return CountingClient(clean_netbox.url, clean_netbox.tokens.admin)


def _expected_circuits(corpus_dir: Path) -> set[tuple[str, str]]:
    """(provider, circuit id) from every expected-result file, read without the seed code: the provider is the
    folder a result sits in."""
    pairs: set[tuple[str, str]] = set()
    for result in corpus_dir.glob("*/*.json"):
        data = json.loads(result.read_text())
        for maintenance in data if isinstance(data, list) else [data]:
            pairs |= {(result.parent.name, c["circuit_id"]) for c in maintenance.get("circuits") or []}
    return pairs


def _circuits_in_netbox(client: NetBoxClient) -> list[tuple[str, str]]:
    return [(item["provider"]["slug"], item["cid"]) for item in client.iterate(CIRCUITS)]


def test_corpus_seed_creates_every_provider_and_circuit_in_one_post_per_type(
    counting_client: CountingClient,
) -> None:
    expected = _expected_circuits(CORPUS)
    expected_providers = {path.name for path in CORPUS.iterdir() if path.is_dir()}
    assert len(expected_providers) == 15
    assert len(expected) == 49

    seeded = seed_netbox(counting_client, corpus_seed(CORPUS))

    # Providers without circuits in their results (eunetworks, pccw) are created too.
    assert set(seeded.providers) == expected_providers
    assert set(seeded.circuits) == expected
    assert {item["slug"] for item in counting_client.iterate(PROVIDERS)} == expected_providers
    in_netbox = _circuits_in_netbox(counting_client)
    assert sorted(in_netbox) == sorted(expected)  # no duplicates either
    assert set(seeded.contacts) == {"noc@example.net", "oncall@example.net"}
    assert seeded.template is not None and seeded.circuit_type is not None
    calls = counting_client.calls[:10]
    assert Counter(calls) == Counter(
        {(method, path): 1 for path in SEEDED_PATHS for method in ("GET", "POST")}
    )


def test_seeding_twice_creates_nothing_and_returns_the_same_ids(counting_client: CountingClient) -> None:
    data = corpus_seed(CORPUS)
    first = seed_netbox(counting_client, data)
    counting_client.calls.clear()

    second = seed_netbox(counting_client, data)

    assert second == first
    assert counting_client.calls == [("GET", path) for path in SEEDED_PATHS]
    assert len(_circuits_in_netbox(counting_client)) == len(first.circuits)
    assert counting_client.get(CONTACTS)["count"] == 2
    assert counting_client.get(TEMPLATES)["count"] == 1


def test_seeding_over_part_of_the_data_creates_only_what_is_missing(counting_client: CountingClient) -> None:
    zayo = counting_client.post(PROVIDERS, {"name": "Zayo by hand", "slug": "zayo"})["id"]
    data = corpus_seed(CORPUS)

    seeded = seed_netbox(counting_client, data)

    assert seeded.providers["zayo"] == zayo
    assert counting_client.get(PROVIDERS)["count"] == len(data.providers)


def test_each_lookup_filter_the_seed_uses_is_one_netbox_knows(counting_client: CountingClient) -> None:
    """NetBox ignores an unknown filter silently; the seed would stay correct but read everything."""
    seeded = seed_netbox(counting_client, corpus_seed(CORPUS))
    other_template = {"name": "Other", "slug": "other", "event_type": "maintenance"}
    counting_client.post(TEMPLATES, other_template | {"subject_template": "s", "body_template": "b"})
    zayo = seeded.providers["zayo"]
    lookups: list[tuple[str, Params, int]] = [
        (PROVIDERS, {"slug": ["zayo", "equinix"]}, 2),
        (CIRCUIT_TYPES, {"slug": ["transit"]}, 1),
        (CIRCUITS, {"provider_id": [zayo], "cid": ["1KYT/111111/ZYO"]}, 0),
        (CIRCUITS, {"provider_id": [zayo]}, sum(slug == "zayo" for slug, _ in seeded.circuits)),
        (CIRCUITS, {"cid": [next(cid for slug, cid in seeded.circuits if slug == "zayo")]}, 1),
        (CONTACTS, {"email": ["noc@example.net"]}, 1),
        (TEMPLATES, {"slug": "maintenance-notice"}, 1),
    ]
    for path, params, count in lookups:
        assert counting_client.get(path, params)["count"] == count, (path, params)
