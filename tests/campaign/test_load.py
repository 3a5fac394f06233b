"""Campaign 5: a sustained 20 mails/s over SMTP (60 s in the full campaign, 5 s in the short one) — device
mails to the relay, and one provider notice a second to inbound — on this machine. Nothing may be lost or sent
twice; the age of the oldest mail not yet handled (what the relay queue's age alarm watches, which fires at
3 minutes) and the process's memory are sampled throughout and printed."""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from ..conftest import CORPUS
from .checks import parsed
from .conftest import (
    ALLOWED_DOMAIN,
    FULL,
    SEND_RATE,
    Campaign,
    SmtpSession,
    rss_mb,
    size,
    table,
    wait_until,
    write_table,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netbox,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.timeout(1800 if FULL else 300),
]

RATE = 20  # mails per second
SECONDS = size(short=5, full=60)
SESSIONS = 4  # devices sending at once, each with its own SMTP session
QUEUE_AGE_ALARM = 180.0
NOTICE = "zayo/zayo4.eml"


def device_mail(number: int) -> bytes:
    attachment = base64.encodebytes(bytes(range(256)) * 40).replace(b"\n", b"\r\n")  # 10 KiB
    return (
        (
            b"From: Meter <meter-%d@iot.example.com>\r\nSubject: Load %06d\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="L"\r\n\r\n--L\r\nContent-Type: text/plain\r\n\r\n'
            b"Hourly readings.\r\nEmail_Rxers_Code:[ops@%s]:Email_Rxers_Code:\r\n--L\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="readings-%d.bin"\r\n\r\n'
            % (number % 50, number, ALLOWED_DOMAIN.encode(), number)
        )
        + attachment
        + b"\r\n--L--\r\n"
    )


@dataclass
class Submitted:
    accepted: dict[str, float] = field(default_factory=dict)  # SES message id → when 250 came
    notices: dict[str, float] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def device(campaign: Campaign, numbers: range, start: float, submitted: Submitted, notice: bytes) -> None:
    """One SMTP session sending its share of the mails, each at its slot in the 20/s schedule."""
    stack = campaign.stack
    session = SmtpSession(stack)
    try:
        for number in numbers:
            time.sleep(max(0.0, start + number / RATE - time.monotonic()))
            is_notice = number % RATE == 0
            raw = notice if is_notice else device_mail(number)
            to = stack.options.notices_address if is_notice else stack.options.relay_address
            sender = "mr@zayo.com" if is_notice else f"meter-{number % 50}@iot.example.com"
            code, answer = session.send(raw, sender, [to])
            with submitted.lock:
                if code != 250:
                    submitted.refused[f"{code} {answer[:40]}"] += 1
                elif is_notice:
                    submitted.notices[answer] = time.monotonic()
                else:
                    submitted.accepted[answer] = time.monotonic()
    finally:
        session.close()


def test_sustained_load_loses_nothing_and_keeps_the_queue_young(campaign: Campaign) -> None:
    stack = campaign.stack
    notice = (CORPUS / NOTICE).read_bytes()
    total = RATE * SECONDS
    submitted = Submitted()
    samples: list[tuple[float, float, float, int]] = []  # time, oldest age, RSS, queue depth
    relay_before = set(campaign.relay_outcomes())
    sent_before = len(stack.outbox.delivered)
    rss_start = rss_mb()
    start = time.monotonic() + 0.5
    devices = [
        threading.Thread(target=device, args=(campaign, range(n, total, SESSIONS), start, submitted, notice))
        for n in range(SESSIONS)
    ]
    for thread in devices:
        thread.start()

    def pending() -> dict[str, float]:
        done = campaign.relay_outcomes()
        inbound = campaign.inbound_outcomes()
        with submitted.lock:
            waiting = {mid: at for mid, at in submitted.accepted.items() if mid not in done}
            waiting |= {mid: at for mid, at in submitted.notices.items() if mid not in inbound}
        return waiting

    def sample() -> bool:
        now = time.monotonic()
        waiting = pending()
        oldest = now - min(waiting.values()) if waiting else 0.0
        samples.append((now - start, oldest, rss_mb(), campaign.queue_depth(stack.aws.relay_queue.url)))
        return not any(thread.is_alive() for thread in devices) and not waiting

    drained = wait_until(sample, timeout=size(short=120, full=900), every=0.5)
    for thread in devices:
        thread.join(timeout=60)
    finished = time.monotonic() - start

    relay = campaign.relay_outcomes()
    mine = {mid: relay[mid] for mid in submitted.accepted if mid in relay}
    outcomes = Counter(o["outcome"] for o in mine.values())
    sends_per_mail = Counter(len(o.get("sends", [])) for o in mine.values())
    subjects = Counter(str(parsed(m)["Subject"]) for m in stack.outbox.delivered[sent_before:])
    duplicated = sorted(subject for subject, count in subjects.items() if count > 1)
    inbound = campaign.inbound_outcomes()
    notice_results = Counter(inbound.get(mid, "(none)") for mid in submitted.notices)
    lost = len(submitted.accepted) - len(mine) + sum(mid not in inbound for mid in submitted.notices)
    under_load = [s for s in samples if s[0] <= SECONDS]
    oldest = max((s[1] for s in samples), default=0.0)
    rss = [s[2] for s in samples] or [rss_start]
    # Memory after the first quarter of the load against the end: what a leak per mail would show.
    settled = rss[len(rss) // 4] if rss else rss_start
    worker = stack.workers[stack.resources.relay.function.name]
    assert not relay_before & set(mine)

    write_table(
        "load",
        table(
            f"Sustained load: {RATE} mails/s for {SECONDS} s over SMTP ({SESSIONS} sessions)",
            [
                ("mails offered / accepted", f"{total} / {len(submitted.accepted) + len(submitted.notices)}"),
                ("refused at SMTP", dict(submitted.refused) or 0),
                ("relay outcomes", dict(outcomes)),
                ("SES sends per relayed mail", dict(sends_per_mail)),
                ("notices to inbound", dict(notice_results)),
                ("lost / sent twice", f"{lost} / {len(duplicated)}"),
                ("oldest unhandled mail, max (s)", f"{oldest:.1f} (alarm at {QUEUE_AGE_ALARM:.0f})"),
                ("relay queue depth, max under load", max((s[3] for s in under_load), default=0)),
                (
                    "RSS start / after 1/4 / max / end (MB)",
                    f"{rss_start:.0f} / {settled:.0f} / {max(rss, default=0):.0f} / {rss[-1]:.0f}",
                ),
                ("relay failures / crashes", f"{worker.counters.failed} / {worker.counters.crashed}"),
                ("drained in (s)", f"{finished:.1f}"),
                ("SES quota of the account (sends/s)", f"{SEND_RATE:.0f}"),
            ],
        ),
    )
    assert drained, f"{len(pending())} mails still waiting"
    assert not submitted.refused
    assert lost == 0 and not duplicated, duplicated[:5]
    assert outcomes == {"relayed": len(submitted.accepted)}
    assert set(sends_per_mail) == {1}
    assert oldest < QUEUE_AGE_ALARM
    assert worker.counters.failed == 0 and worker.counters.crashed == 0
    assert rss[-1] - settled < size(short=150, full=300), "memory grows with the mails"
