"""Campaign 1, the notices outbound part: prepared notifications approved in NetBox (`draft → ready`, one bulk
PATCH), sent by the stack's outbound function on its schedule and on NetBox's webhook at once, while NetBox
and moto (SES, DynamoDB, and everything tracking asks of AWS) sit behind fault proxies and outbound and
tracking are killed at their named steps. SES's events then flow to tracking, which marks them `delivered`.

In the end every notification went to SES exactly once: a send whose answer was lost, or a run killed
between SES's answer and its record, waits for SES's own events (`awaiting_ses_evidence`) instead of
sending again, and is resolved by them. Every notification is `sent` or `delivered` in NetBox; one that is
not `delivered` has its events waiting in tracking's DLQ.

The claim's lease (300 s) is shortened to 20 s here, as for a function with a short timeout, so a killed
run's claim comes free within the campaign; the full run keeps the deployed 900 s evidence wait. This
campaign has its own stack; the shared campaign stack is stopped first (moto's state is one per process)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sesflow import faults
from sesflow.aws.clients import AwsClients
from sesflow.local.moto_server import moto_session
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import DEMO_SEED, seed_netbox
from sesflow.local.stack import NetBoxTarget, Stack
from sesflow.local.workers import QueueWorker, resolve_handler
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices import tracking
from sesflow.notices.claims import EVIDENCE_WAIT_SECONDS as EVIDENCE_WAIT_SECONDS_DEPLOYED
from sesflow.notices.outbound import lambda_handler as outbound
from sesflow.notices.outbound.delivery import Delivery
from sesflow.notices.tracking import wiring as tracking_wiring
from sesflow.resources import RESOURCES

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
from . import conftest
from .conftest import (
    LogTap,
    faulty_stack,
    peek_queue,
    raise_send_quota,
    size,
    table,
    wait_until,
    write_table,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netbox,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.timeout(3600),
]

NOTIFICATIONS = size(short=20, full=200)
NOTIFICATIONS_PATH = f"{PLUGIN}/prepared-notifications/"
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
    seed=31,
    delay_seconds=0.5,
    hold_seconds=12,
)
#: Per AWS request (SES sends, DynamoDB claims and ledgers, tracking's reads). A reset after forwarding
#: loses SES's answer to a send that went: the case the claim's evidence wait is for.
AWS_FAULTS = FaultPlan(
    {HTTP_500: 0.02, HTTP_503: 0.03, HTTP_429: 0.02, RESET: 0.02, RESET_AFTER_FORWARD: 0.02, DELAY: 0.02},
    seed=32,
    delay_seconds=0.5,
)
OUTBOUND_STEPS = ("claim", "refresh", "compose", "ses_accepted", "send", "mark_sent", "release")
TRACKING_STEPS = ("evidence", "record", "apply")
KILL_POINTS = ",".join(
    [*(f"outbound.{s}" for s in OUTBOUND_STEPS), *(f"tracking.{s}" for s in TRACKING_STEPS)]
)
KILL_RATE = 0.03
LEASE_SECONDS = 20.0
#: Must exceed the time SES's first event takes to reach tracking (which records it as evidence), or a send
#: whose answer was lost is sent again. With one tracking consumer, killed and faulted as often as outbound,
#: that lag reached 538 s behind 200 sends, and 60 s or 300 s waits sent 5 to 8 of 200 twice: the campaign
#: keeps the deployed 900 s and gives tracking the concurrency Lambda would.
#: The short run (20 sends, tracking lags seconds behind) waits 60 s, so it stays short.
EVIDENCE_WAIT_SECONDS = size(short=60.0, full=EVIDENCE_WAIT_SECONDS_DEPLOYED)
TRACKING_CONSUMERS = 4
#: Tracking's event lease (120 s) is shorter than its queue's visibility timeout (6 x 60 s), so a killed
#: run's event is taken up again as a replay on its next delivery; with the campaign's 3 s visibility
#: timeout the lease shrinks in proportion.
TRACKING_LEASE_SECONDS = 2.0


#: (time, thread, step, notification, claim owner, taken over, parts known): every step of every run, so a
#: notification sent twice can be traced to the runs that sent it.
STEPS_SEEN: list[tuple[float, str, str, int, str, bool, tuple[int, ...]]] = []


class RecordSteps:
    """A step hook that records every step of every run; the kill points are the pipeline's own hook."""

    def before(self, flow: str, step: str, context: object) -> None:
        pass

    def after(self, flow: str, step: str, context: object) -> None:
        if not isinstance(context, Delivery):
            return
        claim = context.claim if context.is_claimed else None
        STEPS_SEEN.append(
            (
                time.time(),
                threading.current_thread().name,
                step,
                context.notification_id,
                claim.owner[:8] if claim else "",
                claim.taken_over if claim else False,
                tuple(sorted(context.message_ids)),
            )
        )


def outbound_with_kill_points(event: dict[str, Any], context: Any) -> Any:
    """The outbound function with its steps recorded, and a short lease (its kill points are always on)."""
    deps = outbound.default_deps()
    deps.hooks = (RecordSteps(),)
    deps.claims.lease_seconds = LEASE_SECONDS
    deps.claims.evidence_wait_seconds = EVIDENCE_WAIT_SECONDS
    return outbound.handler(event, context)


def tracking_with_short_lease(event: dict[str, Any], context: Any) -> Any:
    tracking_wiring.default_deps().ledger.lease_seconds = TRACKING_LEASE_SECONDS  # type: ignore[attr-defined]
    return tracking.handler(event, context)


@dataclass
class Faulty:
    stack: Stack
    netbox: RunningNetBox
    netbox_proxy: FaultProxy
    aws_proxy: FaultProxy
    logs: LogTap

    def direct_client(self) -> NetBoxClient:
        return NetBoxClient(
            self.netbox.url, self.netbox.tokens.admin, retry=RetryPolicy(deadline=60), timeout=120
        )


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, netbox: RunningNetBox) -> Iterator[Faulty]:
    netbox.reset()
    upstream = urlsplit(netbox.url)
    netbox_proxy = FaultProxy((upstream.hostname or "127.0.0.1", upstream.port or 80), NETBOX_FAULTS).start()
    netbox_proxy.enabled = False
    assert resolve_handler(RESOURCES.notices.outbound.handler) is outbound.handler
    try:
        with faulty_stack(
            Path(tmp_path_factory.mktemp("outbound-faults")),
            AWS_FAULTS,
            netbox=NetBoxTarget(netbox_proxy.url, netbox.tokens.admin),
            outbound_poll_seconds=3,
            handler_overrides={
                RESOURCES.notices.outbound.handler: outbound_with_kill_points,
                RESOURCES.notices.tracking.handler: tracking_with_short_lease,
            },
            extra_environment={
                faults.KILL_AT: KILL_POINTS,
                faults.KILL_RATE: str(KILL_RATE),
                faults.KILL_SEED: "12",
            },
        ) as (stack, aws_proxy, logs):
            raise_send_quota(50.0)
            consumers = more_tracking_consumers(stack, TRACKING_CONSUMERS - 1)
            try:
                yield Faulty(stack, netbox, netbox_proxy, aws_proxy, logs)
            finally:
                for consumer in consumers:
                    consumer.stop()
    finally:
        netbox_proxy.stop()


def more_tracking_consumers(stack: Stack, count: int) -> list[QueueWorker]:
    """Lambda runs several batches of a queue at once; the stack runs one. These poll beside it."""
    function, urls = stack.resources.notices.tracking, stack.aws.tracking_queue
    consumers = []
    for _ in range(count):
        sqs = AwsClients(moto_session(), endpoint_url=stack.moto.endpoint_url).sqs
        consumer = QueueWorker(sqs, urls.url, urls.arn, function, tracking_with_short_lease, batch_size=5)
        consumer.start()
        consumers.append(consumer)
    return consumers


def approve(client: NetBoxClient, count: int) -> list[int]:
    """`count` notifications created as drafts and approved in two bulk requests (benchmarks/outbound.py)."""
    seeded = seed_netbox(client, DEMO_SEED)
    body = [
        {
            "template_id": seeded.template,
            "subject": f"Planned maintenance {n}",
            "body_text": "Work on ZAYO-0001 from 02:00 to 04:00 UTC.",
            "contact_ids": list(seeded.contacts.values()),
        }
        for n in range(count)
    ]
    ids = [int(item["id"]) for item in client.post(NOTIFICATIONS_PATH, body)]
    client.request("PATCH", NOTIFICATIONS_PATH, body=[{"id": number, "status": "ready"} for number in ids])
    return ids


def statuses(client: NetBoxClient, ids: list[int]) -> dict[int, str]:
    wanted = set(ids)
    return {
        int(item["id"]): str(item["status"])
        for item in client.iterate(NOTIFICATIONS_PATH)
        if int(item["id"]) in wanted
    }


def queued(stack: Stack, url: str) -> int:
    attributes = stack.clients.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def dead_letter_notifications(stack: Stack) -> Counter[int]:
    """Tracking's DLQ: SES events by the notification they are for (read without taking them)."""
    found: Counter[int] = Counter()
    for message in peek_queue(stack.clients.sqs, stack.aws.tracking_queue.dlq_url):
        event = json.loads(json.loads(message["Body"])["Message"])
        for value in event.get("mail", {}).get("tags", {}).get("notification_id", []):
            found[int(value)] += 1
    return found


def test_outbound_notifications_under_faults_and_kills_are_sent_exactly_once(faulty: Faulty) -> None:
    stack = faulty.stack
    direct = faulty.direct_client()
    started = time.monotonic()
    faulty.netbox_proxy.enabled = faulty.aws_proxy.enabled = True
    ids = approve(direct, NOTIFICATIONS)
    approved_in = time.monotonic() - started
    tracking_url = stack.aws.tracking_queue.url
    quiet = [0]

    def settled() -> bool:
        now = statuses(direct, ids)
        if all(status == "delivered" for status in now.values()) and len(now) == len(ids):
            return True
        if not all(status in {"sent", "delivered"} for status in now.values()):
            quiet[0] = 0
            return False
        quiet[0] = quiet[0] + 1 if queued(stack, tracking_url) == 0 else 0
        return quiet[0] >= 3  # tracking has nothing left to try

    finished = wait_until(settled, timeout=size(short=400, full=2400), every=3.0)
    settled_in = time.monotonic() - started
    faulty.netbox_proxy.enabled = faulty.aws_proxy.enabled = False
    killed = faults.kills()

    final = statuses(direct, ids)
    sends = Counter(
        int(mail.tags["notification_id"])
        for mail in list(stack.outbox.delivered)
        if "notification_id" in mail.tags
    )
    per_notification = Counter(sends.get(number, 0) for number in ids)
    duplicated = sorted(number for number in ids if sends.get(number, 0) > 1)
    never_sent = sorted(number for number in ids if sends.get(number, 0) == 0)
    not_marked = sorted(number for number in ids if final.get(number) not in {"sent", "delivered"})
    parked = dead_letter_notifications(stack)
    undelivered = sorted(number for number in ids if final.get(number) != "delivered")
    unexplained = [number for number in undelivered if number not in parked]
    results = Counter(
        str(record.get("result"))
        for record in faulty.logs.of("sesflow-notices-outbound")
        if record.get("result")
    )
    decisions = Counter(
        str(record.get("decision"))
        for record in faulty.logs.of("sesflow-notices-tracking")
        if record.get("decision") and record.get("notification_id") in set(ids)
    )
    schedule = stack.schedule
    assert schedule is not None
    waiting = f"{len(undelivered)} / {sum(parked.values())} / {len(unexplained)}"
    lags = sorted(evidence_lags(faulty))
    lag = f"{lags[len(lags) // 2]:.0f} / {lags[-1]:.0f} s" if lags else "none"
    tracker = stack.workers[stack.resources.notices.tracking.name]
    write_table(
        "notices-outbound-faults",
        table(
            f"Notices outbound under NetBox/AWS faults and killed workers ({NOTIFICATIONS} notifications)",
            [
                ("notifications approved (draft → ready, one bulk PATCH)", len(ids)),
                ("SES sends per notification (sends: notifications)", dict(sorted(per_notification.items()))),
                ("sent twice / never sent", f"{len(duplicated)} / {len(never_sent)}"),
                ("final NetBox status", dict(sorted(Counter(final.values()).items()))),
                ("not delivered / events in tracking's DLQ / unexplained", waiting),
                ("outbound results (all runs, webhook and schedule)", dict(sorted(results.items()))),
                ("tracking decisions", dict(sorted(decisions.items()))),
                ("SES send to tracking's first event, median / max", lag),
                ("faults fired on NetBox requests", json.dumps(dict(faulty.netbox_proxy.fired))),
                ("faults fired on AWS requests", json.dumps(dict(faulty.aws_proxy.fired))),
                ("workers killed (at step)", dict(sorted(killed.items()))),
                (
                    "schedule runs / killed; tracking batches / killed",
                    f"{schedule.counters.invocations} / {schedule.counters.crashed}; "
                    f"{tracker.counters.invocations} / {tracker.counters.crashed}",
                ),
                ("webhook requests served", stack.api.requests_served),
                ("approved / settled (s)", f"{approved_in:.0f} / {settled_in:.0f}"),
            ],
        ),
    )  # fmt: skip

    if duplicated:
        trace_duplicates(faulty, duplicated)
    assert finished, f"not settled: {Counter(final.values())}"
    assert duplicated == [], duplicated[:10]
    assert never_sent == [] and not_marked == [], (never_sent[:10], not_marked[:10])
    assert unexplained == [], unexplained[:10]
    assert sum(killed.values()) > 0
    assert sum(v for k, v in faulty.netbox_proxy.fired.items() if k != FORWARD) > 0
    assert sum(v for k, v in faulty.aws_proxy.fired.items() if k != FORWARD) > 0


def trace_duplicates(faulty: Faulty, duplicated: list[int]) -> None:
    """What each run did with a notification sent twice, its claim item and its sends, for the report."""
    stack = faulty.stack
    lines = []
    for number in duplicated:
        lines.append(f"== notification {number}")
        for mail in stack.outbox.delivered:
            if mail.tags.get("notification_id") == str(number):
                lines.append(f"  send {mail.timestamp.isoformat()} {mail.message_id[:16]} {mail.tags}")
        item = stack.clients.dynamodb.get_item(
            TableName=stack.resources.idempotency.name, Key={"id": {"S": f"outbound#{number}"}}
        ).get("Item")
        lines.append(f"  claim {json.dumps(item, default=str)}")
        for seen in STEPS_SEEN:
            if seen[3] == number:
                lines.append(
                    f"  step {seen[0]:.3f} {seen[1]} {seen[2]} owner={seen[4]} over={seen[5]} {seen[6]}"
                )
        for record in faulty.logs.records:
            if record.get("notification_id") == number and record["logger"] == "sesflow-notices-outbound":
                lines.append(f"  log {record['_'][:600]}")
    conftest.TABLES.mkdir(parents=True, exist_ok=True)
    (conftest.TABLES / "notices-outbound-duplicates.txt").write_text("\n".join(lines) + "\n")


def evidence_lags(faulty: Faulty) -> list[float]:
    """Seconds from each send to tracking's first handling of one of its events (the evidence outbound
    waits for after a lost answer)."""
    to_wall = time.time() - time.monotonic()
    first: dict[str, float] = {}
    for record in faulty.logs.of("sesflow-notices-tracking"):
        message_id = record.get("ses_message_id")
        if message_id and message_id not in first:
            first[str(message_id)] = float(record["_t"]) + to_wall
    return [
        first[mail.message_id] - mail.timestamp.timestamp()
        for mail in list(faulty.stack.outbox.delivered)
        if mail.message_id in first
    ]
