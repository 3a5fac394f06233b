"""Outbound schedule: 200 ready notifications, SES limited to 50/s; wall time against 4 s, NetBox requests.

A real NetBox (netbox-notices) and moto's server (SES, DynamoDB; in its own process) are started once.
Two contacts and the demo template are seeded; the 200 notifications are created as drafts in one bulk
POST and approved in one bulk PATCH (NetBox takes 0.05-0.2 s per notification for that on a shared
machine; it is set-up, not measured). Then one schedule run (`send_ready`) is timed from its first list
request to the last `sent` PATCH, with every NetBox request counted where it leaves the client (urllib3's
pool) and every SES SendEmail timed where boto3 sends it. The send phase (first list request to the last
SendEmail) is what the limiter governs; marking `sent` overlaps it in bulk PATCHes (a read of the batch's
versions, then one PATCH): one PATCH per notification would hold the run to NetBox's pace, about 20 per
second with two gunicorn workers on two cores.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3

from sesflow.aws.clients import AwsClients
from sesflow.aws.ses import SendRateLimiter, SesSender
from sesflow.config import Flow, load_settings
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.local.moto_server import moto_session
from sesflow.local.netbox import RunningNetBox, start_netbox
from sesflow.local.netbox.seed import DEMO_SEED, seed_netbox
from sesflow.local.ports import LOOPBACK, free_port
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN, NoticesApi
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices.claims import ClaimTable
from sesflow.notices.outbound.delivery import OutboundDeps
from sesflow.notices.outbound.outcomes import Sent
from sesflow.notices.outbound.schedule import send_ready
from sesflow.resources import RESOURCES

NOTIFICATIONS = 200
RATE = 50.0
WORKERS = 16
TOLERANCE = 0.10
MAX_REQUESTS_PER_NOTIFICATION = 2
TABLE = RESOURCES.idempotency.name
FROM = "notices@sesflow.example"
CONFIGURATION_SET = "notices-tracking"
NOTIFICATIONS_PATH = f"{PLUGIN}/prepared-notifications/"


class CountingPool(urllib3.PoolManager):
    """Counts each request by method and whether it is the list call, as it goes on the wire."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> Any:  # type: ignore[override]
        parts = urlsplit(url)
        if parts.path != NOTIFICATIONS_PATH:
            kind = method
        elif method == "GET" and "status=ready" in parts.query:
            kind = "list"
        else:
            kind = f"{method} (bulk)"
        with self._lock:
            self.counts[kind] += 1
        return super().urlopen(method, url, redirect=redirect, **kw)


def prepare(client: NetBoxClient, count: int) -> None:
    seeded = seed_netbox(client, DEMO_SEED)
    body = [
        {
            "template_id": seeded.template,
            "subject": f"Planned maintenance {n}",
            "body_text": "Work on ZAYO-0001 from 02:00 to 04:00 UTC.",
            "body_html": "<p class='note'>Work on <b>ZAYO-0001</b>.</p>",
            "css": ".note { color: #333 }",
            "contact_ids": list(seeded.contacts.values()),
        }
        for n in range(count)
    ]
    ids = [int(item["id"]) for item in client.post(NOTIFICATIONS_PATH, body)]
    client.request("PATCH", NOTIFICATIONS_PATH, body=[{"id": number, "status": "ready"} for number in ids])


def prepare_aws(aws: AwsClients) -> None:
    aws.sesv2.create_email_identity(EmailIdentity=FROM)
    aws.sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    create_idempotency_table(aws)


def start_moto_process() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in its own process: in this one it would compete with the run for the GIL, and the run
    would measure moto's Python as much as its own."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", LOOPBACK, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib3.request("GET", f"{url}/moto-api/", timeout=1, retries=False)
        except urllib3.exceptions.HTTPError:
            time.sleep(0.1)
            continue
        return process, url
    process.terminate()
    raise RuntimeError("moto's server did not start within 30 s")


def _proc_stats() -> dict[int, tuple[int, float]]:
    """Every process: its parent, and the CPU seconds it and its reaped children used."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        # after the name: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
        found[int(entry.name)] = (int(fields[1]), sum(int(value) for value in fields[11:15]) / tick)
    return found


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    """CPU seconds used by these processes and all their descendants, living or reaped."""
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0.0, [pid for pid in roots if pid in stats]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo += children.get(pid, [])
    return total


@dataclass(frozen=True)
class CpuSeconds:
    """CPU seconds used so far by this process, moto's server and NetBox (web, RQ worker, database, Redis)."""

    this: float
    moto: float
    netbox: float

    @classmethod
    def now(cls, moto_pid: int, netbox: RunningNetBox) -> CpuSeconds:
        this = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            this.ru_utime + this.ru_stime,
            tree_cpu_seconds([moto_pid]),
            tree_cpu_seconds(netbox.process_ids().values()),
        )

    def __sub__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(self.this - other.this, self.moto - other.moto, self.netbox - other.netbox)

    @property
    def total(self) -> float:
        return self.this + self.moto + self.netbox


def run() -> list[tuple[str, str]]:
    netbox = start_netbox()
    moto, endpoint_url = start_moto_process()
    try:
        netbox.reset()
        aws = AwsClients(moto_session(), endpoint_url=endpoint_url)
        prepare_aws(aws)
        admin = NetBoxClient(netbox.url, netbox.tokens.admin, retry=RetryPolicy(deadline=60), timeout=120)
        started = time.perf_counter()
        prepare(admin, NOTIFICATIONS)
        setup_seconds = time.perf_counter() - started

        settings = load_settings(
            Flow.OUTBOUND,
            {
                "NETBOX_URL": netbox.url,
                "NETBOX_API_TOKEN": netbox.tokens.admin,
                "IDEMPOTENCY_TABLE": TABLE,
                "SES_FROM_ADDRESS": FROM,
                "SES_CONFIGURATION_SET": CONFIGURATION_SET,
            },
        )
        deps = OutboundDeps(
            settings=settings,
            notices=NoticesApi(
                NetBoxClient(netbox.url, netbox.tokens.admin, pool=CountingPool(maxsize=WORKERS))
            ),
            claims=ClaimTable(TABLE, aws.dynamodb),
            sender=SesSender(aws.sesv2, limiter=SendRateLimiter(RATE)),
            workers=WORKERS,
        )
        pool = deps.notices.client._pool
        assert isinstance(pool, CountingPool)
        sends: list[float] = []
        aws.sesv2.meta.events.register(
            "before-call.sesv2.SendEmail", lambda **_: sends.append(time.perf_counter())
        )
        cpu_before, started = CpuSeconds.now(moto.pid, netbox), time.perf_counter()
        outcomes = send_ready(deps)
        wall = time.perf_counter() - started
        cpu = CpuSeconds.now(moto.pid, netbox) - cpu_before
    finally:
        moto.terminate()
        moto.wait(timeout=10)
        netbox.stop()
    return report(outcomes, pool.counts, wall, sends, started, setup_seconds, cpu)


def report(
    outcomes: list[Any],
    counts: Counter[str],
    wall: float,
    sends: list[float],
    started: float,
    setup_seconds: float,
    cpu: CpuSeconds,
) -> list[tuple[str, str]]:
    sent = sum(isinstance(outcome, Sent) for outcome in outcomes)
    results = Counter(outcome.result for outcome in outcomes)
    # The limiter lets the first send go at once and each next one 1/rate later.
    sending = (max(sends) - started) if sends else 0.0
    send_ideal = (len(sends) - 1) / RATE if sends else 0.0
    others = sum(count for kind, count in counts.items() if kind != "list")
    per_notification = others / max(1, sent)
    ideal = NOTIFICATIONS / RATE
    ratio = wall / ideal
    cores = os.cpu_count() or 1

    def verdict(ok: bool) -> str:
        return "within target" if ok else "OVER TARGET"

    return [
        ("set-up: 200 notifications created and approved (2 bulk requests)", f"{setup_seconds:.1f} s"),
        ("notifications sent", f"{sent} of {NOTIFICATIONS} ({dict(results)})"),
        ("NetBox list requests", str(counts["list"])),
        ("NetBox requests beyond the list", f"{others} ({dict(sorted(counts.items()))})"),
        (
            f"NetBox requests per notification (target ≤ {MAX_REQUESTS_PER_NOTIFICATION})",
            f"{per_notification:.2f}, {verdict(per_notification <= MAX_REQUESTS_PER_NOTIFICATION)}",
        ),
        (
            "SES phase: run start to last SendEmail (ideal (n-1)/rate)",
            f"{sending:.2f} s (ideal {send_ideal:.2f} s, ratio {sending / max(send_ideal, 1e-9):.3f})",
        ),
        (f"wall time, limiter {RATE:.0f}/s, until the last `sent` PATCH", f"{wall:.2f} s"),
        ("ideal (notifications / rate)", f"{ideal:.2f} s"),
        (f"ratio (target ≤ {1 + TOLERANCE:.2f})", f"{ratio:.3f}, {verdict(abs(ratio - 1) <= TOLERANCE)}"),
        (
            "CPU seconds used in the run: the run, moto, NetBox (web, RQ worker, PostgreSQL, Redis)",
            f"{cpu.this:.1f} + {cpu.moto:.1f} + {cpu.netbox:.1f} = {cpu.total:.1f} s",
        ),
        (
            f"shortest wall time that CPU allows on {cores} cores (CPU seconds / cores)",
            f"{cpu.total / cores:.2f} s (NetBox {cpu.netbox / max(1, sent) * 1000:.0f} ms per notification)",
        ),
    ]
