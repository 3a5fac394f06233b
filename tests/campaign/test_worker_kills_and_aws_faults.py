"""Campaign 1, the relay's part: device mails over SMTP while the relay's AWS calls go through the fault proxy
(500/503/429, resets before the request reaches moto, answers lost after it acted — a reset or a gateway's
502 — and delays) and the relay worker is killed at random, before
its handler runs or after it did the work but before the messages were deleted. In the end every mail is
relayed, in a fallback notice, or in the DLQ, and no chunk of any mail is sent twice.

This campaign has its own stack (3 s visibility timeouts, so killed messages come back quickly); the shared
campaign stack is stopped first, as moto's state is one per process."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sesflow.local.stack import Stack
from sesflow.local.workers import Handler, resolve_handler
from sesflow.relay.records import read_record
from sesflow.resources import RESOURCES

from ..harness.fault_proxy import (
    BAD_GATEWAY_AFTER_FORWARD,
    BLACK_HOLE,
    DELAY,
    HTTP_429,
    HTTP_500,
    HTTP_503,
    RESET,
    RESET_AFTER_FORWARD,
    FaultPlan,
    FaultProxy,
)
from . import conftest
from .conftest import (
    ALLOWED_DOMAIN,
    Campaign,
    SmtpSession,
    TopicTap,
    faulty_stack,
    peek_queue,
    raise_send_quota,
    size,
    table,
    wait_until,
    write_table,
)
from .smtp_faults import ANSWER_LOST, PADDING, SmtpClientLog, SmtpFaultProxy, send_mail

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.timeout(3600),
]

RELAY_HANDLER = "sesflow.relay.distribute.handler"
MAILS = size(short=40, full=1000)
#: Per AWS request of the relay handler. boto3 retries these (adaptive mode, 5 attempts); a mail whose
#: retries all fail is retried by SQS, and after 5 receives it waits in the DLQ. A reset or a 502 after
#: forwarding loses the answer to work that was done: for an SES send, the chunk is reported on the
#: fallback topic (`ses_answer_lost`) and never resent.
FAULTS = FaultPlan(
    {
        HTTP_500: 0.03,
        HTTP_503: 0.04,
        HTTP_429: 0.04,
        RESET: 0.02,
        RESET_AFTER_FORWARD: 0.01,
        BAD_GATEWAY_AFTER_FORWARD: 0.01,
        DELAY: 0.03,
    },
    seed=11,
)
KILL_BEFORE, KILL_AFTER = 0.1, 0.15
#: Per SMTP connection of the devices that go through the SMTP fault proxy (every other mail). A lost
#: answer to DATA makes the device send its mail again: a second copy, relayed as a mail of its own.
SMTP_FAULTS = {RESET: 0.05, RESET_AFTER_FORWARD: 0.05, DELAY: 0.05, BLACK_HOLE: 0.02, ANSWER_LOST: 0.05}


@dataclass
class Killer:
    """The relay handler, killed at random: before it runs (nothing done) or after it ran (everything done,
    nothing deleted), as a Lambda container dies."""

    handler: Handler
    seed: int = 4
    enabled: bool = True
    killed: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self._lock:
            roll = self._random.random()
        if not self.enabled:
            return self.handler(event, context)
        if roll < KILL_BEFORE:
            self.killed["before the handler"] += 1
            raise SystemExit("killed before the handler")
        result = self.handler(event, context)
        if roll < KILL_BEFORE + KILL_AFTER:
            self.killed["after the handler"] += 1
            raise SystemExit("killed after the handler")
        return result


def _ignore(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"batchItemFailures": []}


@pytest.fixture(scope="module")
def faulty(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Campaign, FaultProxy, Killer, SmtpFaultProxy]]:
    real = resolve_handler(RELAY_HANDLER)
    assert real is not None
    killer = Killer(real)
    notices = RESOURCES.notices
    with faulty_stack(
        Path(tmp_path_factory.mktemp("faults")),
        FAULTS,
        start_netbox=False,
        handler_overrides={
            RELAY_HANDLER: killer,
            notices.inbound.handler: _ignore,
            notices.outbound.handler: _ignore,
            notices.tracking.handler: _ignore,
        },
        outbound_poll_seconds=3600,
        extra_environment={"ALLOWED_RECIPIENT_DOMAINS": ALLOWED_DOMAIN},
    ) as (stack, proxy, logs):
        raise_send_quota(50.0)
        smtp_proxy = SmtpFaultProxy((stack.ingress.host, stack.ingress.port), SMTP_FAULTS, seed=13).start()
        try:
            yield (
                Campaign(
                    stack,
                    logs,
                    TopicTap(stack, stack.aws.fallback_topic_arn, "faults-fallback-tap"),
                    TopicTap(stack, stack.aws.tracking_topic_arn, "faults-tracking-tap"),
                ),
                proxy,
                killer,
                smtp_proxy,
            )
        finally:
            smtp_proxy.stop()


def device_mail(number: int, *, padded: bool = False) -> bytes:
    many = number % 10 == 0  # two chunks of ≤ 50: each chunk must be sent once
    groups = [range(0, 30), range(30, 60)] if many else [range(1)]  # one list per line, merged
    lists = "".join(
        f"Email_Rxers_Code:[{', '.join(f'ops{n}@{ALLOWED_DOMAIN}' for n in group)}]:Email_Rxers_Code:\r\n"
        for group in groups
    )
    return (
        f"From: Meter <meter-{number % 20}@iot.example.com>\r\nSubject: Faults {number:05d}\r\n"
        f"{PADDING if padded else ''}Content-Type: text/plain\r\n\r\nReadings.\r\n{lists}"
    ).encode()


def dead_letters(stack: Stack) -> list[str]:
    """The mails (SES message ids) whose SQS messages wait in the relay's DLQ."""
    return [
        location.message_id
        for message in peek_queue(stack.clients.sqs, stack.aws.relay_queue.dlq_url)
        for location in read_record(message["Body"])
    ]


def test_relay_under_aws_faults_and_killed_workers_loses_and_duplicates_nothing(
    faulty: tuple[Campaign, FaultProxy, Killer, SmtpFaultProxy],
) -> None:
    campaign, proxy, killer, smtp_proxy = faulty
    stack = campaign.stack
    proxy.enabled = True
    # Half the devices keep one session; the other half connect through the SMTP fault proxy, one mail per
    # connection, and send again until they see their 250.
    log = SmtpClientLog()
    session = SmtpSession(stack)
    try:
        for number in range(MAILS):
            sender, to = f"meter-{number % 20}@iot.example.com", [stack.options.relay_address]
            if number % 2:
                raw = device_mail(number, padded=True)
                smtp_proxy.upload_bytes = len(raw)
                send_mail(
                    number, stack.ingress.host, smtp_proxy.port, stack.ingress.cert_path, raw, sender, to, log
                )
                continue
            log.attempts[number] += 1
            code, answer = session.send(device_mail(number), sender, to)
            assert code == 250, answer
            log.accepted[number] = answer
    finally:
        session.close()
    assert sorted(log.accepted) == list(range(MAILS)), "a device gave up before its mail was accepted"
    accepted = [log.accepted[number] for number in range(MAILS)]

    def settled() -> bool:
        done = campaign.relay_outcomes()
        notices = {n.get("message_id") for n in campaign.fallback.drain()}
        waiting = [mid for mid in accepted if mid not in done and mid not in notices]
        return not waiting or set(waiting) <= set(dead_letters(stack))

    finished = wait_until(settled, timeout=size(short=240, full=1800), every=2.0)
    proxy.enabled = False
    outcomes = campaign.relay_outcomes()
    notices = {n.get("message_id"): n for n in campaign.fallback.drain()}
    in_dlq = set(dead_letters(stack))
    relayed = [mid for mid in accepted if outcomes.get(mid, {}).get("outcome") == "relayed"]
    fallback = [mid for mid in accepted if mid in notices and mid not in relayed]
    parked = [mid for mid in accepted if mid in in_dlq and mid not in relayed and mid not in fallback]
    lost = [mid for mid in accepted if mid not in relayed and mid not in fallback and mid not in parked]
    chunks = Counter(
        (mail.tags.get("source_key"), mail.tags.get("relay_chunk"))
        for mail in stack.outbox.delivered
        if mail.tags.get("source_key")
    )
    duplicated = sorted(str(chunk) for chunk, count in chunks.items() if count > 1)
    second_copies = [
        mid
        for mid, record in outcomes.items()
        if mid not in set(accepted) and record.get("outcome") == "relayed"
    ]
    # A reset after the request left may hide a send: such a chunk is reported, never resent.
    answer_lost = Counter(
        str(n.get("message_id")) for n in campaign.fallback.drain() if n.get("reason") == "ses_answer_lost"
    )
    worker = stack.workers[stack.resources.relay.function.name]
    write_table(
        "relay-faults",
        table(
            f"Relay under AWS faults and killed workers ({MAILS} mails)",
            [
                ("mails in (SMTP 250)", len(accepted)),
                (
                    "SMTP: attempts / faults fired on the proxied half",
                    f"{sum(log.attempts.values())} / {json.dumps(dict(smtp_proxy.fired))}",
                ),
                ("second copies relayed (a device's 250 was lost; it sent again)", len(second_copies)),
                ("relayed", len(relayed)),
                ("fallback notices", len(fallback)),
                ("in the DLQ", len(parked)),
                ("lost", len(lost)),
                (
                    "SES sends (chunks) / sent twice",
                    f"{sum(chunks.values())} ({len(chunks)}) / {len(duplicated)}",
                ),
                ("chunks with a lost SES answer (reported, not resent)", sum(answer_lost.values())),
                ("faults fired on AWS requests", json.dumps(dict(proxy.fired))),
                ("workers killed", dict(killer.killed)),
                ("handler failures / crashes", f"{worker.counters.failed} / {worker.counters.crashed}"),
            ],
        ),
    )
    if lost:
        trace_lost(campaign, log, lost)
    assert finished, f"{len(lost)} mails neither relayed, reported nor in the DLQ"
    assert lost == []
    assert duplicated == [], duplicated[:5]
    assert sum(killer.killed.values()) > 0 and sum(v for k, v in proxy.fired.items() if k != "forward") > 0
    assert sum(v for k, v in smtp_proxy.fired.items() if k != "forward") > 0
    # Every chunk of a relayed mail went to SES or was reported as perhaps sent (a lost answer whose send
    # SES took is both: sent once, and reported because the relay cannot know).
    covered: dict[str, set[str]] = {}
    for source, chunk in chunks:
        covered.setdefault(str(source).rpartition("_")[2], set()).add(str(chunk))
    for notice in campaign.fallback.drain():
        if notice.get("reason") == "ses_answer_lost":
            covered.setdefault(str(notice.get("message_id")), set()).add(str(notice.get("chunk")))
    short = [
        mid
        for n, mid in enumerate(accepted)
        if mid in relayed and covered.get(mid, set()) != ({"1", "2"} if n % 10 == 0 else {"1"})
    ]
    assert short == [], "relayed mails missing a chunk that is neither sent nor reported"


def trace_lost(campaign: Campaign, log: SmtpClientLog, lost: list[str]) -> None:
    """What is known of each lost mail (its number, whether S3 holds it, every log line naming it), for the
    report."""
    stack = campaign.stack
    number_of = {mid: number for number, mid in log.accepted.items()}
    lines = []
    for mid in lost:
        key = stack.resources.relay.incoming_prefix + mid
        held = stack.clients.s3.list_objects_v2(Bucket=stack.resources.relay.incoming.name, Prefix=key)
        lines.append(f"== {mid} number={number_of.get(mid)} attempts={log.attempts[number_of.get(mid, -1)]}")
        lines.append(f"  in S3: {held.get('KeyCount', 0)}")
        lines += [f"  log {text[:800]}" for text in campaign.logs.texts() if mid in text]
    conftest.TABLES.mkdir(parents=True, exist_ok=True)
    (conftest.TABLES / "relay-faults-lost.txt").write_text("\n".join(lines) + "\n")


#: SES v2 SendEmail (the relay sends raw mail through it)
SES_SEND = b"POST /v2/email/outbound-emails"


@pytest.mark.parametrize("lost", [RESET_AFTER_FORWARD, BAD_GATEWAY_AFTER_FORWARD])
def test_a_lost_ses_answer_does_not_send_a_chunk_twice(
    faulty: tuple[Campaign, FaultProxy, Killer, SmtpFaultProxy], lost: str
) -> None:
    """SES takes the mail, and the connection breaks before its answer arrives (or a gateway answers 502 for
    it): the relay cannot know whether it was sent. It must not send it again when SQS hands it back."""
    campaign, proxy, killer, _ = faulty
    stack = campaign.stack
    killer.enabled = False
    proxy.plan = FaultPlan({lost: 1.0})
    proxy.applies_to = lambda head: head.startswith(SES_SEND)
    proxy.fired.clear()
    proxy.max_faults = 1
    proxy.enabled = True
    session = SmtpSession(stack)
    try:
        code, message_id = session.send(
            device_mail(1), "meter-1@iot.example.com", [stack.options.relay_address]
        )
    finally:
        session.close()
    assert code == 250
    # SQS hands the message back after the 3 s visibility timeout; give it a few rounds.
    wait_until(lambda: message_id in campaign.relay_outcomes(), timeout=30)
    wait_until(lambda: False, timeout=8)
    proxy.enabled = False
    sends = [m for m in stack.outbox.delivered if str(m.tags.get("source_key", "")).endswith(message_id)]
    assert proxy.fired[lost] == 1
    assert len(sends) == 1, f"{len(sends)} sends of one chunk after one lost answer"
    lost = [
        notice
        for notice in campaign.fallback.drain()
        if notice.get("reason") == "ses_answer_lost" and notice["location"].endswith("/" + message_id)
    ]
    assert len(lost) == 1, lost
    assert lost[0]["addresses"] and "not resent" in lost[0]["detail"]
