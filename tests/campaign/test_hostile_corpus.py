"""Campaign 2 (and most of 4): the hostile corpus over SMTP, each mail to the relay and to notices inbound at
once, through the whole local stack. Every mail must end with a reason on both sides — relayed, or a fallback
notice; an inbound result — with no exception anywhere, no worker crash, nothing in a DLQ, and no content in
logs, notices or SES events. Every relayed mail is checked: recipients inside the allowlist only, no header
copied from the device, no active markup smuggled in by a filename or subject, attachments under their mail's
own prefix."""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest

from .checks import (
    active_markup,
    attachment_keys,
    canary_sightings,
    everything_said,
    html_bodies,
    key_problems,
    relayed_mail_problems,
)
from .conftest import (
    CANARY,
    FULL,
    Campaign,
    SmtpSession,
    crlf,
    peak_rss_mb,
    rss_mb,
    table,
    wait_until,
    write_table,
)
from .corpus import HostileMail, hostile_corpus

SMTP_LINE_LIMIT = 998

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netbox,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
    pytest.mark.timeout(3600 if FULL else 600),
]


def has_long_line(raw: bytes) -> bool:
    return any(len(line) > SMTP_LINE_LIMIT for line in crlf(raw).split(b"\r\n"))


def test_hostile_corpus_is_routed_with_a_reason_and_leaks_nothing(campaign: Campaign) -> None:
    stack = campaign.stack
    corpus = hostile_corpus(full=FULL)
    families = Counter(mail.family for mail in corpus)
    assert len(corpus) >= (500 if FULL else 150)
    rss_before = rss_mb()
    started = time.monotonic()

    accepted: dict[str, HostileMail] = {}
    smtp_answers: Counter[str] = Counter()
    refused_at_smtp: list[HostileMail] = []
    session = SmtpSession(stack)
    try:
        for mail in corpus:
            code, answer = session.send(
                mail.raw, mail.mail_from, [stack.options.relay_address, stack.options.notices_address]
            )
            if code == 250:
                smtp_answers["250"] += 1
                accepted[answer] = mail
            else:
                # Refused at the door: the device is told why, and the session starts over.
                smtp_answers[f"{code} {answer[:40]}"] += 1
                refused_at_smtp.append(mail)
                session.close()
                session = SmtpSession(stack)
    finally:
        session.close()
    submitted_in = time.monotonic() - started

    def all_routed() -> bool:
        relay, inbound = campaign.relay_outcomes(), campaign.inbound_outcomes()
        return all(mid in relay and mid in inbound for mid in accepted)

    routed = wait_until(all_routed, timeout=1800 if FULL else 300, every=1.0)
    assert stack.inbound.wait_idle(60)
    finished_in = time.monotonic() - started
    relay, inbound = campaign.relay_outcomes(), campaign.inbound_outcomes()
    said = everything_said(campaign)
    notices = {item["message_id"]: item for item in campaign.fallback.messages if item.get("message_id")}

    # --- what became of each mail ---
    relay_reasons: Counter[str] = Counter()
    inbound_reasons: Counter[str] = Counter(inbound.get(mid, "(none)") for mid in accepted)
    unrouted = []
    for mid, mail in accepted.items():
        outcome = relay.get(mid)
        if outcome is None:
            unrouted.append(mail.name)
            continue
        if outcome["outcome"] == "relayed":
            relay_reasons["relayed"] += 1
        else:
            relay_reasons[f"fallback: {outcome['reason']}"] += 1
            notice = notices.get(mid)
            if notice is None or notice["reason"] != outcome["reason"]:
                unrouted.append(f"{mail.name} (refused as {outcome['reason']} without its notice)")

    # --- every relayed mail, and every stored attachment ---
    sends_by_id = {mail.message_id: mail for mail in stack.outbox.delivered}
    source_of_send = {
        send: mid
        for mid, outcome in relay.items()
        if outcome["outcome"] == "relayed"
        for send in outcome["sends"]
    }
    send_problems = []
    smuggled = []
    sends = 0
    for send_id, mid in source_of_send.items():
        sent = sends_by_id.get(send_id)
        if sent is None:
            send_problems.append(f"{accepted.get(mid, mid)}: send {send_id} not in the outbox")
            continue
        sends += 1
        name = accepted[mid].name if mid in accepted else mid
        send_problems += [f"{name}: {problem}" for problem in relayed_mail_problems(sent)]
        if mid in accepted and accepted[mid].smuggles_markup:
            smuggled += [f"{name}: {found}" for html in html_bodies(sent) for found in active_markup(html)]
    keys = attachment_keys(campaign)
    key_faults = [problem for key in keys for problem in key_problems(key, set(accepted))]

    # --- nothing went wrong underneath ---
    relay_worker = stack.workers[stack.resources.relay.function.name]
    errors = [record["_"][:400] for record in campaign.logs.records if record["level"] >= logging.ERROR]
    leaks = {where: canary_sightings(texts) for where, texts in said.items()}
    # The search is not blind: the canaries do travel where content belongs, in the relayed mails.
    carried = sum(CANARY.encode() in crlf(mail.raw) for mail in stack.outbox.delivered)
    relay_done = max((float(o["_t"]) for o in relay.values()), default=started) - started
    peak = peak_rss_mb()

    write_table(
        "hostile-corpus",
        table(
            "Hostile corpus through SMTP → relay and → inbound",
            [
                (
                    "mails",
                    f"{len(corpus)} ({', '.join(f'{k} {v}' for k, v in families.items())})",
                ),
                ("SMTP answers", dict(smtp_answers)),
                ("relay outcomes", dict(sorted(relay_reasons.items()))),
                ("inbound outcomes", dict(sorted(inbound_reasons.items()))),
                ("not routed with a reason", len(unrouted)),
                ("relay sends (all checked)", sends),
                ("relayed-mail problems", len(send_problems)),
                ("markup smuggled into HTML", len(smuggled)),
                ("attachments stored / bad keys", f"{len(keys)} / {len(key_faults)}"),
                (
                    "relay handler failures / crashes",
                    f"{relay_worker.counters.failed} / {relay_worker.counters.crashed}",
                ),
                ("inbound failed invocations", stack.inbound.counters.failed),
                (
                    "relay DLQ / inbound failure queue",
                    f"{campaign.relay_dlq()} / {campaign.inbound_failures()}",
                ),
                ("error log lines", len(errors)),
                ("searched for content", ", ".join(f"{len(texts)} {where}" for where, texts in said.items())),
                ("content seen there", sum(len(found) for found in leaks.values())),
                ("relayed mails carrying their content", carried),
                ("RSS before / after / peak (MB)", f"{rss_before:.0f} / {rss_mb():.0f} / {peak:.0f}"),
                (
                    "submitted / relay done / all routed (s)",
                    f"{submitted_in:.1f} / {relay_done:.1f} / {finished_in:.1f}",
                ),
            ],
        ),
    )

    assert routed and not unrouted, unrouted[:10]
    # aiosmtpd holds to RFC 5321's 1000-octet line limit and answers 500: the device learns why at once.
    refused_otherwise = [refused.name for refused in refused_at_smtp if not has_long_line(refused.raw)]
    assert not refused_otherwise, refused_otherwise
    assert not send_problems, send_problems[:10]
    assert not smuggled, smuggled[:10]
    assert not key_faults, key_faults[:10]
    assert relay_worker.counters.failed == 0 and relay_worker.counters.crashed == 0
    assert stack.inbound.counters.failed == 0
    assert campaign.relay_dlq() == 0 and campaign.inbound_failures() == 0
    assert not errors, errors[:5]
    assert not any(leaks.values()), leaks
    assert carried > 0
    # The stack, moto's stored objects and the NetBox client live in this process; a mail must not cost
    # memory in proportion to its size times its parts.
    assert peak < 1500, f"peak RSS {peak:.0f} MB"
