"""The real NetBox + netbox-notices for this folder: one per session, reset to the seed per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sesflow.local.netbox import NetBoxCache, RunningNetBox, start_netbox
from sesflow.local.netbox.seed import DEMO_SEED, Seeded, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.retry import RetryPolicy

#: Installing NetBox and migrating its database the first time on a machine takes ~5-12 minutes.
FIRST_START_TIMEOUT = 1800


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if NetBoxCache.default().is_prepared():
        return
    for item in items:
        if item.get_closest_marker("netbox") is not None:
            item.add_marker(pytest.mark.timeout(FIRST_START_TIMEOUT))


@pytest.fixture(scope="session")
def netbox() -> Iterator[RunningNetBox]:
    """A running NetBox on loopback: `url`, `tokens` (admin v2, admin v1, reader v2), `reset()`."""
    server = start_netbox()
    yield server
    server.stop()


@pytest.fixture
def clean_netbox(netbox: RunningNetBox) -> RunningNetBox:
    """The session's NetBox, reset to the seed (users and tokens only) before the test."""
    netbox.reset()
    return netbox


@pytest.fixture
def nb_client(clean_netbox: RunningNetBox) -> NetBoxClient:
    """A client with the admin's v2 token on a freshly reset NetBox."""
    return NetBoxClient(clean_netbox.url, clean_netbox.tokens.admin, retry=RetryPolicy(deadline=10))


@pytest.fixture
def seeded(nb_client: NetBoxClient) -> Seeded:
    """The demo providers, circuits, contacts and notification template in a freshly reset NetBox."""
    return seed_netbox(nb_client, DEMO_SEED)


@pytest.fixture
def notices(nb_client: NetBoxClient) -> NoticesApi:
    return NoticesApi(nb_client)
