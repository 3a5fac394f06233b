"""How many HTTP requests reach NetBox for one mail, counted on the wire (the client's urllib3 pool)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import urllib3
from urllib3.response import BaseHTTPResponse

from sesflow.aws.clients import AwsClients
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import ProviderSeed, SeedData, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN, NoticesApi
from sesflow.netbox.retry import RetryPolicy

from .conftest import BUCKET, Inbox, build_inbox
from .mails import bcop_notice

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

CIDS = tuple(f"BENCH-{n:04d}" for n in range(1, 21))
#: A new maintenance: two reads (circuits, maintenances of the name) and three writes
#: (maintenance, impacts in one bulk POST, the mail), whatever the number of circuits.
NEW_MAINTENANCE_LIMIT = 5
REPLAY_LIMIT = 3


class CountingPool(urllib3.PoolManager):
    """A urllib3 pool that records every request it sends, as `METHOD /path`."""

    def __init__(self) -> None:
        super().__init__(maxsize=4)
        self.sent: list[str] = []

    def urlopen(  # type: ignore[override]  # as urllib3's own PoolManager does
        self, method: str, url: str, redirect: bool = True, **kw: Any
    ) -> BaseHTTPResponse:
        self.sent.append(f"{method} {urlsplit(url).path}")
        return super().urlopen(method, url, redirect=redirect, **kw)


@pytest.fixture
def counted(
    aws: AwsClients, clean_netbox: RunningNetBox, nb_client: NetBoxClient
) -> tuple[Inbox, CountingPool]:
    seed_netbox(nb_client, SeedData(providers=(ProviderSeed("Bench", "bench", CIDS),)))
    aws.s3.create_bucket(Bucket=BUCKET)
    pool = CountingPool()
    client = NetBoxClient(
        clean_netbox.url, clean_netbox.tokens.admin, retry=RetryPolicy(deadline=10), pool=pool
    )
    inbox = build_inbox(aws, clean_netbox, client)
    # Warm the container's caches (provider id, object type ids) with another maintenance first.
    assert (
        inbox.deliver(bcop_notice("WARM-1", CIDS[:1], provider="bench"), source="noc@noc.example.org").result
        == "applied"
    )
    return inbox, pool


def _deliver_counted(inbox: Inbox, pool: CountingPool, raw: bytes) -> list[str]:
    pool.sent.clear()
    outcome = inbox.deliver(raw, source="noc@noc.example.org")
    assert outcome.result == "applied", outcome.detail
    return list(pool.sent)


@pytest.mark.parametrize("circuits", [1, 20])
def test_a_new_maintenance_takes_at_most_five_requests_whatever_its_circuits(
    circuits: int, counted: tuple[Inbox, CountingPool], nb_client: NetBoxClient
) -> None:
    inbox, pool = counted
    sent = _deliver_counted(inbox, pool, bcop_notice("NEW-1", CIDS[:circuits], provider="bench"))
    assert len(sent) <= NEW_MAINTENANCE_LIMIT, sent
    assert sorted(sent) == sorted(
        [
            "GET /api/circuits/circuits/",
            f"GET {PLUGIN}/maintenance/",
            f"POST {PLUGIN}/maintenance/",
            f"POST {PLUGIN}/impact/",
            f"POST {PLUGIN}/eventnotification/",
        ]
    )
    [maintenance] = nb_client.get(f"{PLUGIN}/maintenance/", {"name": "NEW-1"})["results"]
    assert len(NoticesApi(nb_client).list_impacts(maintenance["id"])) == circuits


def test_a_replay_takes_three_reads_and_writes_nothing(counted: tuple[Inbox, CountingPool]) -> None:
    inbox, pool = counted
    raw = bcop_notice("NEW-2", CIDS, provider="bench")
    _deliver_counted(inbox, pool, raw)
    inbox.counter -= 1  # the same SES delivery again
    sent = _deliver_counted(inbox, pool, raw)
    assert len(sent) <= REPLAY_LIMIT, sent
    assert all(line.startswith("GET ") for line in sent), sent


def test_a_reschedule_reads_no_more_than_it_needs(counted: tuple[Inbox, CountingPool]) -> None:
    inbox, pool = counted
    _deliver_counted(inbox, pool, bcop_notice("NEW-3", CIDS[:2], provider="bench"))
    moved = bcop_notice("NEW-3", CIDS[:2], provider="bench", sequence=2, day=8)
    sent = _deliver_counted(inbox, pool, moved)
    # circuits, maintenances, this mail on them, then the new window, its impacts and the mail.
    assert len(sent) <= 6, sent
