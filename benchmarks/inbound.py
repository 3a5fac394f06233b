"""Notices inbound over the corpus: our own time per mail against the parser's, and NetBox requests.

The harness NetBox (real NetBox + netbox-notices on loopback) is started once and seeded with the corpus's
providers, one copy per round so every round creates its maintenances afresh. Each corpus mail the parser
handles goes through `parse_mail` and the inbound steps after the gate (`process_loaded`), with three clocks
running in the same calls:
- the parser: the time inside `parse_maintenances` (circuit-maintenance-parser's own work);
- NetBox: the time inside the HTTP pool's `urlopen` (waiting on NetBox, and urllib3's share of it);
- ours: the rest — mail parsing, picking the provider, planning, building requests.
Ours must stay within `MAX_RATIO` times the parser's. Then, with warm caches, the requests a new maintenance
with 1 and with 20 circuits takes, and a replay of it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.response import BaseHTTPResponse

import sesflow.notices.inbound.parser as parser_module
from benchmarks import CORPUS
from sesflow.aws.clients import AwsClients
from sesflow.aws.store import ObjectStore
from sesflow.config import Flow, load_settings
from sesflow.local.netbox import RunningNetBox, start_netbox
from sesflow.local.netbox.seed import (
    ProviderSeed,
    SeedData,
    corpus_seed,
    seed_netbox,
)
from sesflow.mail import parse_mail
from sesflow.netbox.client import NetBoxClient
from sesflow.notices.inbound.context import InboundDeps
from sesflow.notices.inbound.in_netbox import NoticesInNetBox
from sesflow.notices.inbound.outcome import Outcome
from sesflow.notices.inbound.parser import parse_maintenances, provider_organizers
from sesflow.notices.inbound.pipeline import process_loaded
from sesflow.notices.inbound.receipt import GateDecision, Receipt

ROUNDS = 3
MAX_RATIO = 0.25
# The five of a new maintenance (circuits, maintenances, POST maintenance, impacts, mail) and the overlap
# check's window query, which finds nothing else in the window (each notice here has a day of its own).
MAX_NEW_REQUESTS = 6
UNPARSED = {"hgc"}  # hgc is one notice split over two mails
BENCH_CIDS = tuple(f"BENCH-{n:04d}" for n in range(1, 21))
RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class TimedPool(urllib3.PoolManager):
    """The NetBox client's pool, timing and counting every request it sends."""

    def __init__(self) -> None:
        super().__init__(maxsize=4)
        self.seconds = 0.0
        self.sent: list[str] = []

    def urlopen(  # type: ignore[override]  # as urllib3's own PoolManager does
        self, method: str, url: str, redirect: bool = True, **kw: Any
    ) -> BaseHTTPResponse:
        self.sent.append(f"{method} {urlsplit(url).path}")
        started = time.perf_counter()
        try:
            return super().urlopen(method, url, redirect=redirect, **kw)
        finally:
            self.seconds += time.perf_counter() - started


@dataclass
class ParserClock:
    """Wraps `parse_maintenances` where the inbound flow calls it, adding up its time."""

    seconds: float = 0.0
    real: Callable[..., Any] = field(default=parse_maintenances)

    def __call__(self, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.real(*args)
        finally:
            self.seconds += time.perf_counter() - started


@dataclass(frozen=True)
class CorpusMail:
    provider: str
    name: str
    raw: bytes


def corpus_mails() -> list[CorpusMail]:
    mails = []
    for line in (CORPUS / "INDEX.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        provider, emls = line.split("\t")[:2]
        if provider not in UNPARSED:
            name = emls.split("+")[0]
            mails.append(CorpusMail(provider, name, (CORPUS / provider / name).read_bytes()))
    return mails


def deps_for(server: RunningNetBox, client: NetBoxClient, provider_map: dict[str, str]) -> InboundDeps:
    settings = load_settings(
        Flow.INBOUND,
        {
            "NETBOX_URL": server.url,
            "NETBOX_API_TOKEN": server.tokens.admin,
            "S3_BUCKET_NAME": "unused",
            "IDEMPOTENCY_TABLE": "unused",
            "NETBOX_PROVIDER_MAP": json.dumps(provider_map),
        },
    )
    return InboundDeps(settings, ObjectStore(AwsClients().s3), NoticesInNetBox(client))


def deliver(raw: bytes, envelope: str, deps: InboundDeps, number: int) -> Outcome:
    """`parse_mail` and the steps after the gate, as the handler runs them once the mail is loaded."""
    mail = parse_mail(raw)
    receipt = Receipt(f"bench-{number}", RECEIVED + timedelta(seconds=number), envelope, (), "", {})
    return process_loaded(receipt, mail, GateDecision(None, "", None), deps)


@dataclass(frozen=True)
class RoundTimes:
    total: float
    parser: float
    netbox: float

    @property
    def ours(self) -> float:
        return self.total - self.parser - self.netbox


def corpus_round(
    server: RunningNetBox, admin: NetBoxClient, mails: list[CorpusMail], number: int
) -> RoundTimes:
    seed = corpus_seed(CORPUS)
    providers = tuple(
        replace(p, name=f"{p.slug}-r{number}", slug=f"{p.slug}-r{number}") for p in seed.providers
    )
    seed_netbox(admin, SeedData(providers=providers))
    pool = TimedPool()
    client = NetBoxClient(server.url, server.tokens.admin, pool=pool)
    deps = deps_for(server, client, {p.slug.rsplit("-r", 1)[0]: p.slug for p in providers})
    clock = ParserClock()
    # Replaced in the parser module's namespace, where the `parse` step looks it up.
    vars(parser_module)["parse_maintenances"] = clock
    try:
        started = time.perf_counter()
        for index, mail in enumerate(mails):
            outcome = deliver(mail.raw, provider_organizers()[mail.provider], deps, number * 1000 + index)
            if outcome.result != "applied":
                raise RuntimeError(f"{mail.name}: {outcome.result} {outcome.detail}")
        total = time.perf_counter() - started
    finally:
        vars(parser_module)["parse_maintenances"] = clock.real
    return RoundTimes(total, clock.seconds, pool.seconds)


def bcop_notice(maintenance_id: str, cids: tuple[str, ...], day: int = 1) -> bytes:
    """A BCOP iCalendar notice for provider `bench` (the parser's generic provider reads it)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//sesflow bench//EN",
        "BEGIN:VEVENT",
        "SUMMARY:Fiber work",
        f"DTSTART;VALUE=DATE-TIME:203103{day:02d}T220000Z",
        f"DTEND;VALUE=DATE-TIME:203103{day + 1:02d}T040000Z",
        "DTSTAMP;VALUE=DATE-TIME:20310201T090000Z",
        f"UID:{maintenance_id}@noc.example.org",
        "SEQUENCE:1",
        "X-MAINTNOTE-PROVIDER:bench",
        "X-MAINTNOTE-ACCOUNT:acct",
        f"X-MAINTNOTE-MAINTENANCE-ID:{maintenance_id}",
        *(f"X-MAINTNOTE-OBJECT-ID:{cid}" for cid in cids),
        "X-MAINTNOTE-IMPACT:OUTAGE",
        "X-MAINTNOTE-STATUS:CONFIRMED",
        "ORGANIZER:mailto:noc@noc.example.org",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    message = EmailMessage()
    message["From"] = "noc@noc.example.org"
    message["Subject"] = f"Maintenance {maintenance_id}"
    message["Date"] = "Sat, 01 Feb 2031 09:00:00 +0000"
    message.set_content("See the calendar.")
    message.add_attachment("\r\n".join(lines).encode(), maintype="text", subtype="calendar", filename="n.ics")
    return message.as_bytes()


def request_counts(server: RunningNetBox, admin: NetBoxClient) -> dict[str, int]:
    seed_netbox(admin, SeedData(providers=(ProviderSeed("Bench", "bench", BENCH_CIDS),)))
    pool = TimedPool()
    deps = deps_for(server, NetBoxClient(server.url, server.tokens.admin, pool=pool), {})
    deliver(bcop_notice("WARM", BENCH_CIDS[:1], day=20), "noc@noc.example.org", deps, 1)  # warms the caches
    counts = {}
    for label, number, cids in (("1 circuit", 2, BENCH_CIDS[:1]), ("20 circuits", 3, BENCH_CIDS)):
        raw = bcop_notice(f"NEW-{number}", cids, day=number * 3)
        pool.sent.clear()
        assert deliver(raw, "noc@noc.example.org", deps, number).result == "applied"
        counts[f"new maintenance, {label}"] = len(pool.sent)
        pool.sent.clear()
        deliver(raw, "noc@noc.example.org", deps, number)
        counts[f"replay of it, {label}"] = len(pool.sent)
    return counts


def run() -> list[tuple[str, str]]:
    mails = corpus_mails()
    for mail in mails:  # the parser's first calls import and compile much: not a cost of any round
        parse_maintenances(mail.provider, parse_mail(mail.raw).message)
    server = start_netbox()
    try:
        admin = NetBoxClient(server.url, server.tokens.admin)
        rounds = [corpus_round(server, admin, mails, number) for number in range(1, ROUNDS + 1)]
        counts = request_counts(server, admin)
    finally:
        server.stop()
    per_mail = len(mails)
    median = {
        name: statistics.median(getattr(r, name) for r in rounds) / per_mail
        for name in ("total", "parser", "netbox", "ours")
    }
    ratio = median["ours"] / median["parser"]
    rows = [
        ("corpus mails per round (rounds)", f"{per_mail} ({ROUNDS})"),
        ("time per mail, all", f"{median['total'] * 1000:.1f} ms"),
        ("  the parser's", f"{median['parser'] * 1000:.1f} ms"),
        ("  waiting on NetBox", f"{median['netbox'] * 1000:.1f} ms"),
        ("  ours (the rest)", f"{median['ours'] * 1000:.1f} ms"),
        (f"ours / parser (≤ {MAX_RATIO})", f"{ratio:.3f} {'ok' if ratio <= MAX_RATIO else 'OVER'}"),
    ]
    for label, count in counts.items():
        verdict = "" if "replay" in label else (" ok" if count <= MAX_NEW_REQUESTS else " OVER")
        rows.append((f"NetBox requests, {label} (warm caches)", f"{count}{verdict}"))
    return rows
