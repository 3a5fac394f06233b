"""Overlap warnings against the real NetBox: two providers' maintenances down at once at one site are warned
about on both, once; other windows or other sites are not; the dry run only records the warnings; the cost is
a fixed number of requests whatever NetBox holds; `sesflow notices overlaps` lists the pairs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner

from sesflow.aws.clients import AwsClients
from sesflow.aws.store import ObjectStore
from sesflow.cli.notices import notices_app
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import ProviderSeed, SeedData, Seeded, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import JOURNAL, PLUGIN, ImpactTarget, NoticesApi
from sesflow.netbox.records import ImpactLevel
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices.inbound.context import InboundDeps
from sesflow.notices.inbound.in_netbox import NoticesPreview
from sesflow.pipeline import extra_hooks

from .conftest import BUCKET, Inbox, build_inbox, inbound_settings_for
from .mails import bcop_notice
from .places import NetBoxPlaces
from .test_inbound_requests import CountingPool

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

SOURCE = "noc@noc.example.org"
SEED = SeedData(
    providers=(
        ProviderSeed("Alpha", "alpha", ("A-1",)),
        ProviderSeed("Beta", "beta", ("B-1",)),
        ProviderSeed("Gamma", "gamma", ("G-1",)),
        ProviderSeed("Warm", "warm", ("W-1",)),
    )
)
WINDOW_QUERY = f"GET {PLUGIN}/maintenance/"


@dataclass
class StepRequests:
    """A step hook that keeps the requests sent during one step of the inbound flow."""

    pool: CountingPool
    step: str
    sent: list[str] = field(default_factory=list)
    _mark: int = 0

    def before(self, flow: str, step: str, context: object) -> None:
        if step == self.step:
            self._mark = len(self.pool.sent)

    def after(self, flow: str, step: str, context: object) -> None:
        if step == self.step:
            self.sent = self.pool.sent[self._mark :]


@dataclass
class World:
    inbox: Inbox
    pool: CountingPool
    client: NetBoxClient
    seeded: Seeded
    sites: dict[str, int]

    def deliver(self, name: str, provider: str, cid: str, *, day: int = 1, sequence: int = 1) -> list[str]:
        self.pool.sent.clear()
        raw = bcop_notice(name, [cid], provider=provider, day=day, sequence=sequence)
        outcome = self.inbox.deliver(raw, source=SOURCE)
        assert outcome.result == "applied", outcome.detail
        return list(self.pool.sent)

    def maintenance_id(self, name: str) -> int:
        found = self.client.get(f"{PLUGIN}/maintenance/", {"name": name, "ordering": "-id"})["results"]
        return int(found[0]["id"])

    def warnings(self, name: str) -> list[str]:
        params = {
            "assigned_object_type": "notices.maintenance",
            "assigned_object_id": self.maintenance_id(name),
        }
        entries = self.client.get(JOURNAL, {**params, "kind": "warning"})["results"]
        return [
            entry["comments"] for entry in entries if entry["comments"].startswith("Overlapping maintenance:")
        ]


@pytest.fixture
def world(aws: AwsClients, clean_netbox: RunningNetBox, nb_client: NetBoxClient) -> World:
    """Alpha's A-1 and Beta's B-1 into Site One, Gamma's G-1 into Site Two; the container warmed."""
    seeded = seed_netbox(nb_client, SEED)
    places = NetBoxPlaces(nb_client)
    sites = {name: places.add_site(name) for name in ("Site One", "Site Two")}
    for (slug, cid), site in (
        (("alpha", "A-1"), "Site One"),
        (("beta", "B-1"), "Site One"),
        (("gamma", "G-1"), "Site Two"),
    ):
        places.terminate(seeded.circuits[(slug, cid)], "dcim.site", sites[site])
    aws.s3.create_bucket(Bucket=BUCKET)
    pool = CountingPool()
    client = NetBoxClient(
        clean_netbox.url, clean_netbox.tokens.admin, retry=RetryPolicy(deadline=10), pool=pool
    )
    found = World(build_inbox(aws, clean_netbox, client), pool, client, seeded, sites)
    found.deliver(
        "WARM-1", "warm", "W-1", day=20
    )  # provider id and object types cached, as in a warm container
    return found


def test_two_providers_down_at_once_at_one_site_are_warned_on_both(world: World) -> None:
    world.deliver("A-WORK", "alpha", "A-1")
    world.deliver("B-WORK", "beta", "B-1")
    [on_a], [on_b] = world.warnings("A-WORK"), world.warnings("B-WORK")
    b_id, a_id = world.maintenance_id("B-WORK"), world.maintenance_id("A-WORK")
    assert on_a == (
        f"Overlapping maintenance: B-WORK (Beta, maintenance #{b_id}, "
        "2031-03-01 22:00 UTC to 2031-03-02 04:00 UTC) is down at the same time at Site One."
    )
    assert f"A-WORK (Alpha, maintenance #{a_id}," in on_b and on_b.endswith("at Site One.")


def test_a_replayed_notice_writes_no_second_warning(world: World) -> None:
    world.deliver("A-WORK", "alpha", "A-1")
    world.deliver("B-WORK", "beta", "B-1")
    world.inbox.counter -= 1  # the same SES delivery again
    sent = world.deliver("B-WORK", "beta", "B-1")
    assert all(line.startswith("GET ") for line in sent), sent
    assert (len(world.warnings("A-WORK")), len(world.warnings("B-WORK"))) == (1, 1)


@pytest.mark.parametrize(
    ("provider", "cid", "day"), [("beta", "B-1", 8), ("gamma", "G-1", 1)], ids=["other-window", "other-site"]
)
def test_no_warning_for_another_window_or_another_site(
    world: World, provider: str, cid: str, day: int
) -> None:
    world.deliver("A-WORK", "alpha", "A-1")
    world.deliver("B-WORK", provider, cid, day=day)
    assert (world.warnings("A-WORK"), world.warnings("B-WORK")) == ([], [])


def test_a_reschedule_into_an_overlap_warns_the_new_window(world: World) -> None:
    world.deliver("A-WORK", "alpha", "A-1", day=8)
    world.deliver("B-WORK", "beta", "B-1")
    assert world.warnings("B-WORK") == []
    world.deliver("B-WORK", "beta", "B-1", day=8, sequence=2)
    assert (len(world.warnings("A-WORK")), len(world.warnings("B-WORK"))) == (1, 1)


def test_the_dry_run_records_the_warnings_it_would_write(
    world: World, aws: AwsClients, clean_netbox: RunningNetBox
) -> None:
    world.deliver("A-WORK", "alpha", "A-1")
    preview = NoticesPreview(world.client)
    settings = inbound_settings_for(clean_netbox.url, clean_netbox.tokens.admin)
    dry = Inbox(aws, InboundDeps(settings, ObjectStore(aws.s3), preview), counter=world.inbox.counter)
    assert dry.deliver(bcop_notice("B-WORK", ["B-1"], provider="beta"), source=SOURCE).result == "planned"
    a_id = world.maintenance_id("A-WORK")
    assert {line for line in preview.would_write if "overlap" in line} == {
        f"journal overlap warning on maintenance {a_id}",
        "journal overlap warning on maintenance 0",  # the maintenance it would create
    }
    assert world.warnings("A-WORK") == []


def _fill_with_windows_elsewhere(world: World, count: int) -> None:
    """`count` maintenances of Gamma's, into Site One too, none overlapping March 2031's first days."""
    api = NoticesApi(world.client)
    router = NetBoxPlaces(world.client).add_device("router-one", world.sites["Site One"])
    for number in range(count):
        body = {
            "name": f"ELSEWHERE-{number}",
            "summary": "elsewhere",
            "provider": world.seeded.providers["gamma"],
            "start": f"2031-04-{number % 28 + 1:02d}T00:00:00Z",
            "end": f"2031-04-{number % 28 + 1:02d}T06:00:00Z",
            "status": "CONFIRMED",
        }
        maintenance = api.create_maintenance_data(body)
        api.create_impacts(
            int(maintenance["id"]), [ImpactTarget(router, ImpactLevel.OUTAGE, "dcim", "device")]
        )


@pytest.mark.parametrize("elsewhere", [0, 30])
def test_the_check_costs_a_fixed_number_of_requests_whatever_netbox_holds(
    world: World, elsewhere: int
) -> None:
    _fill_with_windows_elsewhere(world, elsewhere)
    check = StepRequests(world.pool, "warn_overlaps")
    with extra_hooks(check):
        world.deliver("A-WORK", "alpha", "A-1")
        alone = check.sent
        world.deliver("B-WORK", "beta", "B-1")
        overlapping = check.sent
    assert alone == [WINDOW_QUERY]  # nothing else in the window: the window query alone
    # Another maintenance there: the impacts of both, the journals, and the warnings in one POST.
    assert overlapping == [WINDOW_QUERY, f"GET {PLUGIN}/impact/", f"GET {JOURNAL}", f"POST {JOURNAL}"]


def test_the_overlaps_command_lists_the_pairs_of_a_period(world: World, clean_netbox: RunningNetBox) -> None:
    world.deliver("A-WORK", "alpha", "A-1")
    world.deliver("B-WORK", "beta", "B-1")
    world.deliver("G-WORK", "gamma", "G-1")  # same window, another site
    env = {"NETBOX_URL": clean_netbox.url, "NETBOX_API_TOKEN": clean_netbox.tokens.admin, "COLUMNS": "250"}
    runner = CliRunner()
    listed = runner.invoke(notices_app, ["overlaps", "--from", "2031-03-01", "--to", "2031-03-05"], env=env)
    assert listed.exit_code == 0, listed.output
    assert (
        "A-WORK (Alpha" in listed.output and "B-WORK (Beta" in listed.output and "Site One" in listed.output
    )
    assert "G-WORK" not in listed.output
    later = runner.invoke(notices_app, ["overlaps", "--from", "2031-03-05", "--to", "2031-03-31"], env=env)
    assert later.exit_code == 0, later.output
    assert "A-WORK" not in later.output and "none" in later.output
