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
#: The overlap check's read of the maintenances whose windows meet a created or moved one (overlaps.py);
#: nothing overlaps in these tests, so it reads nothing more.
OVERLAP_READ = f"GET {PLUGIN}/maintenance/"
#: A new maintenance: two reads (circuits, maintenances of the name), three writes (maintenance, impacts in
#: one bulk POST, the mail) and the overlap check, whatever the number of circuits.
NEW_MAINTENANCE_LIMIT = 6
REPLAY_LIMIT = 3
SOURCE = "noc@noc.example.org"


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
    # Warm the container's caches (provider id, object type ids) with another maintenance first, in a window
    # no other test's overlaps: the overlap check then costs its one window read.
    assert (
        inbox.deliver(bcop_notice("WARM-1", CIDS[:1], provider="bench", day=20), source=SOURCE).result
        == "applied"
    )
    return inbox, pool


def _deliver_counted(inbox: Inbox, pool: CountingPool, raw: bytes) -> list[str]:
    pool.sent.clear()
    outcome = inbox.deliver(raw, source="noc@noc.example.org")
    assert outcome.result == "applied", outcome.detail
    return list(pool.sent)


@pytest.mark.parametrize("circuits", [1, 20])
def test_a_new_maintenance_takes_at_most_six_requests_whatever_its_circuits(
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
            OVERLAP_READ,
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
    # circuits, maintenances, this mail on them, then the new window, its impacts, the overlap check and the
    # mail.
    assert len(sent) <= 7, sent


#: A newer notice for the same window: three reads, the window PATCH, its impacts listed, the marker PATCH,
#: the overlap check and the mail.
UPDATE = [
    "GET /api/circuits/circuits/",
    f"GET {PLUGIN}/maintenance/",
    f"GET {PLUGIN}/eventnotification/",
    f"PATCH {PLUGIN}/maintenance/",
    f"GET {PLUGIN}/impact/",
    f"PATCH {PLUGIN}/maintenance/",
    OVERLAP_READ,
    f"POST {PLUGIN}/eventnotification/",
]


def _paths(sent: list[str]) -> list[str]:
    """`METHOD /path` with the object id cut off the detail paths."""
    return sorted(
        line.rstrip("/").rsplit("/", 1)[0] + "/" if line.rstrip("/")[-1].isdigit() else line for line in sent
    )


def test_an_update_listing_the_same_circuits_takes_eight_requests(
    counted: tuple[Inbox, CountingPool],
) -> None:
    inbox, pool = counted
    _deliver_counted(inbox, pool, bcop_notice("NEW-4", CIDS[:3], provider="bench"))
    sent = _deliver_counted(inbox, pool, bcop_notice("NEW-4", CIDS[:3], provider="bench", sequence=2))
    assert _paths(sent) == sorted(UPDATE)


def test_an_update_listing_fewer_circuits_adds_the_journal_read_its_entry_and_one_delete(
    counted: tuple[Inbox, CountingPool], nb_client: NetBoxClient
) -> None:
    inbox, pool = counted
    _deliver_counted(inbox, pool, bcop_notice("NEW-5", CIDS, provider="bench"))
    sent = _deliver_counted(inbox, pool, bcop_notice("NEW-5", CIDS[:1], provider="bench", sequence=2))
    removal = [
        "GET /api/extras/journal-entries/",
        "POST /api/extras/journal-entries/",
        f"DELETE {PLUGIN}/impact/",
    ]
    assert _paths(sent) == sorted(UPDATE + removal)
    [maintenance] = nb_client.get(f"{PLUGIN}/maintenance/", {"name": "NEW-5"})["results"]
    assert len(NoticesApi(nb_client).list_impacts(maintenance["id"])) == 1


def test_a_circuit_matched_loosely_costs_one_more_read_for_the_whole_mail(
    counted: tuple[Inbox, CountingPool],
) -> None:
    inbox, pool = counted
    loose = [cid.lower() for cid in CIDS[:5]]
    sent = _deliver_counted(inbox, pool, bcop_notice("NEW-6", [*CIDS[5:10], *loose], provider="bench"))
    # A new maintenance's requests, the loose read and the journal note naming both spellings.
    assert sorted(sent) == sorted(
        [
            "GET /api/circuits/circuits/",
            "GET /api/circuits/circuits/",
            f"GET {PLUGIN}/maintenance/",
            f"POST {PLUGIN}/maintenance/",
            f"POST {PLUGIN}/impact/",
            "POST /api/extras/journal-entries/",
            OVERLAP_READ,
            f"POST {PLUGIN}/eventnotification/",
        ]
    )
