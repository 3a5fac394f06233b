"""Campaign 1, the notices inbound part: provider notices from the real corpus over SMTP → the ingress → the
inbound worker → the real NetBox, while NetBox (500/503/429, lost answers, resets, delays, black holes) and
moto (S3) sit behind fault proxies, the inbound worker is killed at its named steps (`sesflow.faults`), and
half the mails reach the ingress through an SMTP fault proxy (resets, delays, black holes, lost answers to
DATA) with clients that send again until they see their 250.

Every corpus notice is sent several times with distinct Message-IDs, as a provider re-sends a notice: the
same maintenance must exist once. At the end the invocations that used up Lambda's retries wait in the
on-failure queue with their error; the operator replays them from the bucket (`sesflow notices inbound
replay`), and NetBox must then hold exactly what one fault-free delivery of each distinct notice gives:
compared object by object (maintenances, impacts, stored mails, journal entries, and which window replaces
which: the order the notices arrive in, which retries change, must not matter), so a duplicate, a missing
object or a link another order would not have made fails the campaign.

This campaign has its own stack (NetBox and AWS reached through the proxies); the shared campaign stack is
stopped first, as moto's state is one per process."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sesflow import faults
from sesflow.aws.store import ObjectStore
from sesflow.config import Flow, load_settings
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import corpus_seed, seed_netbox
from sesflow.local.stack import NetBoxTarget, Stack
from sesflow.mail import parse_mail
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices.inbound.context import InboundDeps
from sesflow.notices.inbound.in_netbox import NoticesInNetBox
from sesflow.notices.inbound.parser import provider_organizers
from sesflow.notices.inbound.replay import StoredMailKey, classify, process_stored_mail, replay

from ..conftest import CORPUS
from ..harness.fault_proxy import (
    BLACK_HOLE,
    DELAY,
    FORWARD,
    HTTP_429,
    HTTP_500,
    HTTP_503,
    LOST_ANSWER,
    RESET,
    RESET_AFTER_FORWARD,
    FaultPlan,
    FaultProxy,
)
from ..notices.conftest import CorpusRow, corpus_path, corpus_rows
from . import conftest
from .conftest import LogTap, SmtpSession, faulty_stack, size, table, write_table
from .smtp_faults import ANSWER_LOST, PADDING, SmtpClientLog, SmtpFaultProxy, send_mail

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netbox,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.timeout(3600),
]

NOTICES = size(short=20, full=200)
#: Rows the parser cannot take as single mails (see tests/notices/test_inbound_corpus.py).
UNUSABLE = {"hgc"}
#: Per NetBox request of the inbound handler. The client retries 429/503 and, for reads and PATCHes, resets
#: and 5xx; a POST whose answer is lost fails the invocation, and the next one finds what it created.
NETBOX_FAULTS = FaultPlan(
    {
        HTTP_500: 0.02,
        HTTP_503: 0.03,
        HTTP_429: 0.03,
        LOST_ANSWER: 0.02,
        RESET: 0.02,
        RESET_AFTER_FORWARD: 0.02,
        DELAY: 0.02,
        BLACK_HOLE: 0.003,
    },
    seed=21,
    delay_seconds=0.5,
    hold_seconds=12,
)
AWS_FAULTS = FaultPlan({HTTP_500: 0.03, HTTP_503: 0.03, RESET: 0.02, DELAY: 0.02}, seed=22, delay_seconds=0.5)
KILL_POINTS = (
    "inbound.load,inbound.plan,inbound.write_maintenance,inbound.write_impacts,"
    "inbound.final_status,inbound.store_mail,inbound.report"
)
KILL_RATE = 0.04
SMTP_FAULTS = {RESET: 0.05, RESET_AFTER_FORWARD: 0.05, DELAY: 0.05, BLACK_HOLE: 0.02, ANSWER_LOST: 0.1}
LINKS = "reschedule links (replaces)"


@dataclass
class Faulty:
    stack: Stack
    netbox: RunningNetBox
    netbox_proxy: FaultProxy
    aws_proxy: FaultProxy
    smtp_proxy: SmtpFaultProxy
    logs: LogTap

    def direct_client(self) -> NetBoxClient:
        return NetBoxClient(self.netbox.url, self.netbox.tokens.admin, retry=RetryPolicy(deadline=60))


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory,
    netbox: RunningNetBox,
) -> Iterator[Faulty]:
    netbox.reset()
    upstream = urlsplit(netbox.url)
    netbox_proxy = FaultProxy((upstream.hostname or "127.0.0.1", upstream.port or 80), NETBOX_FAULTS).start()
    netbox_proxy.enabled = False
    try:
        with faulty_stack(
            Path(tmp_path_factory.mktemp("notice-faults")),
            AWS_FAULTS,
            netbox=NetBoxTarget(netbox_proxy.url, netbox.tokens.admin),
            outbound_poll_seconds=3600,
            async_retry_delays=(0.5, 1.0),
            extra_environment={
                faults.KILL_AT: KILL_POINTS,
                faults.KILL_RATE: str(KILL_RATE),
                faults.KILL_SEED: "11",
            },
        ) as (stack, aws_proxy, logs):
            smtp_proxy = SmtpFaultProxy(
                (stack.ingress.host, stack.ingress.port), SMTP_FAULTS, seed=23
            ).start()
            try:
                yield Faulty(stack, netbox, netbox_proxy, aws_proxy, smtp_proxy, logs)
            finally:
                smtp_proxy.stop()
    finally:
        netbox_proxy.stop()


# --- the mails -------------------------------------------------------------------------------------------


def usable_rows() -> list[CorpusRow]:
    return [row for row in corpus_rows() if row.provider not in UNUSABLE]


def resent(raw: bytes, number: int) -> bytes:
    """The provider's notice as sent again: a Message-ID of its own, everything the notice says unchanged."""
    text = raw.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    # Drop the old Message-ID with its folded continuation lines.
    head = re.sub(rb"(?im)^message-id:.*\n?(?:[ \t].*\n?)*", b"", head + b"\n").rstrip(b"\n")
    extra = f"Message-ID: <campaign-notice-{number}@resend.example>\n{PADDING.replace(chr(13), '')}"
    return extra.encode() + head + b"\n\n" + body


def campaign_mails(count: int) -> list[tuple[int, CorpusRow, bytes]]:
    """`count` mails: the corpus's usable notices in turn, each sent at least twice."""
    rows = usable_rows()[: max(1, min(len(usable_rows()), count // 2))]
    mails = []
    for number in range(count):
        row = rows[number % len(rows)]
        mails.append((number, row, resent(corpus_path(row.provider, row.emls[0]).read_bytes(), number)))
    return mails


# --- what NetBox holds -----------------------------------------------------------------------------------


def netbox_objects(client: NetBoxClient) -> dict[str, Counter[tuple[Any, ...]]]:
    """Everything inbound writes, keyed by what it means (no database ids), as multisets."""
    providers = {int(p["id"]): p["slug"] for p in client.iterate("/api/circuits/providers/")}
    cids = {int(c["id"]): c["cid"] for c in client.iterate("/api/circuits/circuits/")}
    maintenances = {int(m["id"]): m for m in client.iterate(f"{PLUGIN}/maintenance/")}

    def provider_of(item: dict[str, Any]) -> str:
        provider = item["provider"]
        return providers[int(provider["id"] if isinstance(provider, dict) else provider)]

    def key(maintenance_id: int | None) -> tuple[Any, ...]:
        if maintenance_id is None or maintenance_id not in maintenances:
            return ("?", maintenance_id)
        item = maintenances[maintenance_id]
        return (provider_of(item), item["name"], item["start"], item["end"])

    def replaced(item: dict[str, Any]) -> tuple[Any, ...] | None:
        value = item.get("replaces")
        if value is None:
            return None
        return key(int(value["id"] if isinstance(value, dict) else value))

    found: dict[str, Counter[tuple[Any, ...]]] = {
        "maintenances": Counter(
            (*key(mid), item["status"], item.get("comments") or "") for mid, item in maintenances.items()
        ),
        "impacts": Counter(
            (*key(int(i["event_object_id"])), cids.get(int(i["target_object_id"]), "?"), i["impact"])
            for i in client.iterate(f"{PLUGIN}/impact/")
        ),
        "event notifications": Counter(
            (*key(int(n["event_object_id"])), n["subject"], n["email_from"].lower(), n["email_received"])
            for n in client.iterate(f"{PLUGIN}/eventnotification/")
        ),
        "journal entries": Counter(
            (*key(int(j["assigned_object_id"])), j["kind"], j["comments"])
            for j in client.iterate("/api/extras/journal-entries/")
            if j.get("assigned_object_type") == "notices.maintenance"
        ),
        LINKS: Counter(
            (key(mid), replaced(item)) for mid, item in maintenances.items() if item.get("replaces")
        ),
    }
    return found


def differences(
    found: dict[str, Counter[Any]], expected: dict[str, Counter[Any]], kinds: Iterable[str]
) -> list[str]:
    lines = []
    for kind in kinds:
        extra, missing = found[kind] - expected[kind], expected[kind] - found[kind]
        lines += [f"{kind}: extra {item} x{n}" for item, n in extra.items()]
        lines += [f"{kind}: missing {item} x{n}" for item, n in missing.items()]
    return lines


# --- the run ---------------------------------------------------------------------------------------------


def failure_records(stack: Stack) -> list[dict[str, Any]]:
    """The on-failure destination's records (Lambda's format), drained."""
    sqs, url = stack.clients.sqs, stack.aws.inbound_failures.url
    found: list[dict[str, Any]] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(message["Body"]) for message in got]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)],
        )
    return found


def stored_message_ids(stack: Stack) -> list[str]:
    notices = stack.resources.notices
    keys = []
    for page in stack.clients.s3.get_paginator("list_objects_v2").paginate(
        Bucket=notices.inbound_bucket.name, Prefix=notices.inbound_prefix
    ):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return [key.rpartition("/")[2] for key in keys]


def stored_number(stack: Stack, message_id: str) -> int:
    """The campaign's number of a stored mail, from the Message-ID it was sent with."""
    notices = stack.resources.notices
    raw = stack.clients.s3.get_object(
        Bucket=notices.inbound_bucket.name, Key=notices.inbound_prefix + message_id
    )["Body"].read()
    found = re.search(rb"(?im)^message-id:\s*<campaign-notice-(\d+)@", raw)
    assert found is not None, f"{message_id}: no campaign Message-ID"
    return int(found.group(1))


def inbound_deps(faulty: Faulty) -> InboundDeps:
    """The operator's wiring: NetBox and S3 reached directly, as `sesflow notices inbound replay` does."""
    stack = faulty.stack
    settings = load_settings(Flow.INBOUND, {**stack.environment, "NETBOX_URL": faulty.netbox.url})
    return InboundDeps(settings, ObjectStore(stack.clients.s3), NoticesInNetBox(faulty.direct_client()))


def stored_key(stack: Stack, message_id: str) -> StoredMailKey:
    notices = stack.resources.notices
    return StoredMailKey(notices.inbound_bucket.name, notices.inbound_prefix + message_id, datetime.now(UTC))


def test_provider_notices_under_netbox_and_aws_faults_and_kills_land_exactly_once(faulty: Faulty) -> None:
    stack = faulty.stack
    started = time.monotonic()
    mails = campaign_mails(NOTICES)
    organizers = provider_organizers()
    faulty.netbox_proxy.enabled = faulty.aws_proxy.enabled = True

    # --- in: half over a direct session, half through the SMTP fault proxy with retrying clients ---
    log = SmtpClientLog()
    session = SmtpSession(stack)
    try:
        for number, row, raw in mails:
            mail_from, to = organizers[row.provider], [stack.options.notices_address]
            if number % 2:
                faulty.smtp_proxy.upload_bytes = len(raw)
                send_mail(
                    number, stack.ingress.host, faulty.smtp_proxy.port, stack.ingress.cert_path,
                    raw, mail_from, to, log,
                )  # fmt: skip
            else:
                log.attempts[number] += 1
                code, answer = session.send(raw, mail_from, to)
                assert code == 250, answer
                log.accepted[number] = answer
    finally:
        session.close()
    submitted_in = time.monotonic() - started

    # --- settle: every invocation succeeded or went to the on-failure destination ---
    idle = stack.inbound.wait_idle(size(short=300, full=1800))
    settled_in = time.monotonic() - started
    faulty.netbox_proxy.enabled = faulty.aws_proxy.enabled = False
    killed = faults.kills()
    stored = stored_message_ids(stack)
    number_of = {mid: stored_number(stack, mid) for mid in stored}
    results = {
        str(item["message_id"]): str(item["result"])
        for result in list(stack.inbound.results)
        if isinstance(result, dict)
        for item in result.get("results", [])
    }
    failures = failure_records(stack)
    failed = {
        record["requestPayload"]["Records"][0]["ses"]["mail"]["messageId"]: (
            f"{record['responsePayload']['errorType']}: {record['responsePayload']['errorMessage']}"[:120]
        )
        for record in failures
    }
    failure_reasons = Counter(re.sub(r"\d+", "N", reason[:60]) for reason in failed.values())

    # --- the operator replays what waits in the failure queue, with NetBox and AWS healthy again ---
    deps = inbound_deps(faulty)
    with kills_off():
        summary = replay([stored_key(stack, mid) for mid in failed], deps)
    replayed = Counter(
        f"{kind} {reason}".strip() for kind, reason, count in summary.rows() for _ in range(count)
    )
    found = netbox_objects(faulty.direct_client())
    done_in = time.monotonic() - started

    # --- the reference: each distinct notice once, no faults, on a fresh NetBox seeded the same way ---
    first_copy: dict[str, str] = {}
    for mid in sorted(stored, key=lambda m: number_of[m]):
        first_copy.setdefault(mails[number_of[mid]][1].emls[0], mid)
    faulty.netbox.reset()
    direct = faulty.direct_client()
    seed_netbox(direct, corpus_seed(CORPUS))
    reference_deps = inbound_deps(faulty)
    reference_results: Counter[str] = Counter()
    with kills_off():
        for mid in first_copy.values():
            raw = stack.clients.s3.get_object(
                Bucket=stack.resources.notices.inbound_bucket.name,
                Key=stack.resources.notices.inbound_prefix + mid,
            )["Body"].read()
            outcome = process_stored_mail(mid, parse_mail(raw), reference_deps)
            reference_results[classify(outcome)[0]] += 1
    expected = netbox_objects(direct)
    wrong = differences(found, expected, list(expected))
    conftest.TABLES.mkdir(parents=True, exist_ok=True)
    (conftest.TABLES / "notices-inbound-faults-differences.txt").write_text("\n".join(wrong) + "\n")

    # --- the counts ---
    accepted = set(log.accepted)
    lost_smtp = [n for n, mid in log.accepted.items() if mid not in number_of]
    unaccepted = [number for number, _, _ in mails if number not in accepted]
    unanswered = [mid for mid in stored if mid not in results and mid not in failed]
    outcomes = Counter(results.get(mid, "on-failure queue") for mid in stored)
    copies = Counter(number_of.values())
    resent_after_lost_250 = sum(1 for count in copies.values() if count > 1)

    def totals(objects: dict[str, Counter[tuple[Any, ...]]]) -> str:
        return " / ".join(str(sum(objects[kind].values())) for kind in objects)

    counters = stack.inbound.counters
    write_table(
        "notices-inbound-faults",
        table(
            f"Notices inbound under NetBox/AWS/SMTP faults and killed workers ({NOTICES} notices)",
            [
                ("notices sent (distinct corpus notices)", f"{len(mails)} ({len(first_copy)})"),
                ("accepted over SMTP (250 seen by the client)", len(accepted)),
                ("SMTP attempts / failed attempts", f"{sum(log.attempts.values())} / {dict(log.failures)}"),
                ("stored by the ingress / second copies", f"{len(stored)} / {len(stored) - len(copies)}"),
                ("mails stored twice: 250 lost, client sent again", resent_after_lost_250),
                ("accepted but not stored (lost at SMTP)", len(lost_smtp)),
                ("inbound results per stored mail", dict(sorted(outcomes.items()))),
                ("on-failure queue (reasons)", f"{len(failed)} {dict(failure_reasons)}"),
                ("replayed by the operator", dict(replayed)),
                ("neither applied nor in the failure queue (lost)", len(unanswered)),
                ("NetBox: maintenances / impacts / mails / journal / links", totals(found)),
                ("the same after one fault-free delivery per notice", totals(expected)),
                ("objects or links extra or missing", len(wrong)),
                ("faults fired on NetBox requests", json.dumps(dict(faulty.netbox_proxy.fired))),
                ("faults fired on AWS requests", json.dumps(dict(faulty.aws_proxy.fired))),
                ("faults fired on SMTP connections", json.dumps(dict(faulty.smtp_proxy.fired))),
                ("workers killed (at step)", dict(sorted(killed.items()))),
                ("inbound invocations / failed attempts", f"{counters.invocations} / {counters.failed}"),
                (
                    "submitted / settled / replayed (s)",
                    f"{submitted_in:.0f} / {settled_in:.0f} / {done_in:.0f}",
                ),
            ],
        ),
    )

    assert idle, "inbound invocations still pending"
    assert not unaccepted, f"mails never accepted over SMTP: {unaccepted[:10]}"
    assert not lost_smtp and not unanswered, (lost_smtp[:5], unanswered[:5])
    assert set(outcomes) <= {"applied", "on-failure queue"}, outcomes
    assert summary.failed == 0, summary.failures[:5]
    assert reference_results["created"] >= 1
    assert not wrong, wrong[:20]
    assert sum(killed.values()) > 0
    assert sum(v for k, v in faulty.netbox_proxy.fired.items() if k != FORWARD) > 0


@contextmanager
def kills_off() -> Iterator[None]:
    """The operator's runs happen in a healthy process: no kill points while inside."""
    plan = faults.current_plan()
    rate = plan.rate if plan is not None else 0.0
    if plan is not None:
        plan.rate = 0.0
    try:
        yield
    finally:
        if plan is not None:
            plan.rate = rate
