"""The tracking flow end to end: SES events published to the configuration set's topic on moto's server,
delivered to the SQS queue in SNS envelopes, handed to the handler's batch function, applied to the real
NetBox + netbox-notices over HTTP."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.aws.tracking_ledger import TrackingTable
from sesflow.local import ses_events as ses
from sesflow.local.netbox import RunningNetBox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus, PreparedNotification
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices.claims import Claim, ClaimTable
from sesflow.notices.tracking.outcomes import Tracked
from sesflow.notices.tracking.pipeline import RetryLater
from sesflow.notices.tracking.wiring import process_sns

from ...netbox.fault_proxy import UNAVAILABLE, FaultProxy, throttled
from .cases import CASES, build
from .conftest import RECIPIENTS, TABLE, Notifications, TrackingPipe, journal, make_deps, to_ms, wait_past
from .scenarios import all_delivered, latest_delivery, one_bounce, tags

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

ms = timedelta(milliseconds=1)


def kinds(api: NoticesApi, notification_id: int) -> list[tuple[str, str]]:
    return [(entry.kind, entry.comments) for entry in api.journal_entries(notification_id)]


def mail_for(notification: PreparedNotification, message_id: str, *, tagged: bool = True) -> dict[str, Any]:
    assert notification.sent_at is not None
    return ses.mail_object(
        message_id,
        [r.email for r in notification.recipients],
        sent=notification.sent_at,
        tags=tags(notification.id) if tagged else {"campaign": ["other"]},
    )


# --- every event type, both shapes, one and several recipients -----------------------------------------


@pytest.mark.parametrize(("case", "count", "legacy", "status", "text"), CASES)
def test_each_event_type_reaches_netbox_by_the_rule(
    pipe: TrackingPipe, prepared: Notifications, case: str, count: int, legacy: bool, status: str, text: str
) -> None:
    notification = prepared.sent(RECIPIENTS[:count])
    mail = mail_for(notification, f"ses-{case}")
    at = notification.sent_at + 150 * ms if notification.sent_at else datetime.now(UTC)
    event = build(case, mail, list(RECIPIENTS[:count]), at)
    if legacy:
        # Feedback notifications carry no tags: the message is placed by the tagged Send seen before.
        pipe.publish(ses.send_event(mail))
        event = ses.legacy(event)
    wait_past(at)
    pipe.publish(event)
    assert pipe.drain() == []
    after = prepared.api.get_prepared_notification(notification.id)
    assert after.status == status
    entries = journal(prepared.api, notification.id)
    assert sum(text in entry for entry in entries) == 1, entries
    if status == "delivered":
        assert after.delivered_at == to_ms(at)  # SES's delivery time, not when it was processed
    if status == "failed" and case in {"bounce", "complaint"}:
        failed = next(entry for entry in entries if "sent → failed" in entry.lower() or "failed" in entry)
        assert RECIPIENTS[count - 1 if case == "bounce" else 0] in failed


# --- shuffles against the real NetBox ----------------------------------------------------------------------

SHUFFLES_PER_SCENARIO = 100 if os.environ.get("SESFLOW_CAMPAIGN", "").lower() == "full" else 5


@pytest.mark.parametrize("scenario", ["one_bounce", "all_delivered"])
def test_shuffled_and_repeated_events_end_the_same_in_netbox(
    pipe: TrackingPipe, prepared: Notifications, scenario: str
) -> None:
    """Seeded shuffles of the whole set, every event published twice: 5 per scenario in `make test`, 100 per
    scenario (200 in all) in `make campaign`; the same 200 shuffles also run in process in test_rule.py,
    and through the flow over the fakes in test_over_fakes.py."""
    build_set = one_bounce if scenario == "one_bounce" else all_delivered
    runs = []
    for seed in range(SHUFFLES_PER_SCENARIO):
        notification = prepared.sent()
        assert notification.sent_at is not None
        events = build_set(notification.id, RECIPIENTS, notification.sent_at, f"ses-{scenario}-{seed}")
        shuffled = events * 2
        random.Random(seed).shuffle(shuffled)
        runs.append((notification, events, shuffled))
    wait_past(max(n.sent_at + timedelta(seconds=1) for n, _, _ in runs if n.sent_at))
    for _, _, shuffled in runs:
        pipe.publish(*shuffled)
    assert pipe.drain() == []
    for notification, events, _ in runs:
        after = prepared.api.get_prepared_notification(notification.id)
        entries = journal(prepared.api, notification.id)
        assert len(entries) == len(set(entries)), entries
        assert sum("[SES Send]" in entry for entry in entries) == 1
        assert sum("[SES Open]" in entry for entry in entries) == 1
        assert sum("[SES Click]" in entry for entry in entries) == 1
        if scenario == "one_bounce":
            assert after.status == "failed"
            assert after.delivered_at is None  # the plugin keeps no time for `failed`
            assert sum("[SES DeliveryDelay]" in entry for entry in entries) == 1
        else:
            assert after.status == "delivered"
            assert after.delivered_at == latest_delivery(events)
            assert sum("Bounce (Transient)" in entry for entry in entries) == 1


# --- early events ------------------------------------------------------------------------------------------


def test_delivery_before_outbound_marks_sent_completes_the_send_from_the_claim(
    pipe: TrackingPipe, prepared: Notifications, aws: AwsClients
) -> None:
    ready = prepared.ready(RECIPIENTS[:2])
    claims = ClaimTable(TABLE, aws.dynamodb)
    claim = claims.acquire(ready.id, "r1")
    assert isinstance(claim, Claim)
    claims.record_part(claim, 0, "ses-early", last=True)  # outbound sent it and has not marked it yet
    assert ready.approved_at is not None
    sent = ready.approved_at + 100 * ms
    mail = ses.mail_object("ses-early", RECIPIENTS[:2], sent=sent, tags=tags(ready.id))
    wait_past(sent + 300 * ms)
    assert pipe.send_through(ses.delivery_event(mail, RECIPIENTS[:2], at=sent + 300 * ms)) == []
    after = prepared.api.get_prepared_notification(ready.id)
    assert after.status == "delivered"
    assert after.sent_at == to_ms(sent) and after.delivered_at == to_ms(sent + 300 * ms)
    entries = journal(prepared.api, ready.id)
    assert sum("Sent via SES (MessageId: ses-early)" in entry for entry in entries) == 1
    # Outbound then marks it sent too: NetBox answers a same-status PATCH as a no-op, nothing breaks.


def test_delivery_with_no_sign_of_the_send_is_redelivered_until_sent_exists(
    pipe: TrackingPipe, prepared: Notifications
) -> None:
    ready = prepared.ready(RECIPIENTS[:1])
    assert ready.approved_at is not None
    at = ready.approved_at + 500 * ms
    mail = ses.mail_object(
        "ses-unclaimed", RECIPIENTS[:1], sent=ready.approved_at + 100 * ms, tags=tags(ready.id)
    )
    wait_past(at)
    assert pipe.send_through(ses.delivery_event(mail, RECIPIENTS[:1], at=at)) == ["Delivery"]
    assert prepared.api.get_prepared_notification(ready.id).status == "ready"
    assert pipe.outcomes[-1].verdict == "wait_for_send"
    prepared.mark_sent(ready.id, "ses-unclaimed")  # outbound gets there
    time.sleep(1.1)  # the queue's visibility timeout: SQS redelivers the message
    assert pipe.drain() == []
    after = prepared.api.get_prepared_notification(ready.id)
    assert after.status == "delivered"
    entries = journal(prepared.api, ready.id)
    assert sum("[SES Delivery]" in entry for entry in entries) == 1


def test_without_outbound_the_redelivery_completes_the_send_from_the_first_arrival(
    pipe: TrackingPipe, prepared: Notifications
) -> None:
    ready = prepared.ready(RECIPIENTS[:1])
    assert ready.approved_at is not None
    sent = ready.approved_at + 100 * ms
    mail = ses.mail_object("ses-alone", RECIPIENTS[:1], sent=sent, tags=tags(ready.id))
    wait_past(sent + 200 * ms)
    assert pipe.send_through(ses.delivery_event(mail, RECIPIENTS[:1], at=sent + 200 * ms)) == ["Delivery"]
    time.sleep(1.1)
    assert pipe.drain() == []
    after = prepared.api.get_prepared_notification(ready.id)
    assert (after.status, after.sent_at, after.delivered_at) == (
        "delivered",
        to_ms(sent),
        to_ms(sent + 200 * ms),
    )


def test_an_event_never_applied_ends_in_the_dlq(pipe: TrackingPipe, prepared: Notifications) -> None:
    assert prepared.seeded.template is not None
    still_draft = prepared.api.create_prepared_notification(
        template_id=prepared.seeded.template, subject="s", body_text="b", contact_ids=[]
    )
    mail = ses.mail_object("ses-draft", RECIPIENTS[:1], sent=datetime.now(UTC), tags=tags(still_draft.id))
    pipe.publish(ses.send_event(mail))
    for _ in range(3):
        assert pipe.drain() == ["Send"]
        time.sleep(1.1)
    assert pipe.drain() == []
    dlq = pipe.aws.sqs.receive_message(QueueUrl=pipe.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert len(dlq) == 1
    assert prepared.api.get_prepared_notification(still_draft.id).status == NotificationStatus.DRAFT


# --- duplicates, crashes and faults ------------------------------------------------------------------------


def test_every_event_delivered_twice_gives_one_journal_entry_each(
    pipe: TrackingPipe, prepared: Notifications
) -> None:
    notification = prepared.sent()
    assert notification.sent_at is not None
    events = all_delivered(notification.id, RECIPIENTS, notification.sent_at, "ses-twice")
    wait_past(notification.sent_at + timedelta(seconds=1))
    pipe.publish(*events)
    pipe.publish(*events)
    assert pipe.drain() == []
    entries = journal(prepared.api, notification.id)
    assert len(entries) == len(set(entries)) == 3 + 4  # approved, sent, delivered + send, bounce, open, click
    assert sum(o.verdict == "duplicate" for o in pipe.outcomes) == 7  # one per recipient share


class CrashAfterNetBox(TrackingTable):
    """Dies once right after NetBox was written and before the event is marked done."""

    crashes = 0

    def finish(self, identity: str) -> None:
        if self.crashes == 0:
            self.crashes += 1
            raise RuntimeError("crash between the NetBox write and the dedupe record")
        super().finish(identity)


@pytest.mark.parametrize("case", ["open", "delivery", "bounce"])
def test_a_crash_after_the_netbox_write_does_not_write_twice(
    pipe: TrackingPipe, prepared: Notifications, aws: AwsClients, nb_client: NetBoxClient, case: str
) -> None:
    notification = prepared.sent(RECIPIENTS[:1])
    assert notification.sent_at is not None
    at = notification.sent_at + 100 * ms
    event = build(case, mail_for(notification, f"ses-crash-{case}"), list(RECIPIENTS[:1]), at)
    deps = make_deps(aws, nb_client, pipe.outcomes)
    deps.ledger = CrashAfterNetBox(TABLE, aws.dynamodb, lease_seconds=0.5)
    wait_past(at)
    pipe.publish(event)
    assert len(pipe.drain(deps)) == 1
    before = journal(prepared.api, notification.id)
    time.sleep(1.1)
    assert pipe.drain(deps) == []
    assert journal(prepared.api, notification.id) == before
    assert pipe.outcomes[-1].verdict == "replayed"
    pipe.publish(event)  # and a later duplicate is a plain duplicate
    assert pipe.drain(deps) == []
    assert pipe.outcomes[-1].verdict == "duplicate"


@pytest.fixture
def proxy(clean_netbox: RunningNetBox) -> Iterator[FaultProxy]:
    faulty = FaultProxy(urlsplit(clean_netbox.url).port or 80)
    yield faulty
    faulty.close()


@pytest.mark.parametrize("fault", [UNAVAILABLE, throttled("30")], ids=["503", "429"])
def test_a_netbox_fault_fails_only_that_message_then_it_succeeds(
    pipe: TrackingPipe,
    prepared: Notifications,
    aws: AwsClients,
    clean_netbox: RunningNetBox,
    proxy: FaultProxy,
    fault: Any,
) -> None:
    first, second = prepared.sent(RECIPIENTS[:1]), prepared.sent(RECIPIENTS[1:2])
    assert first.sent_at is not None and second.sent_at is not None
    # The first wait (4 s) is past the 2 s deadline: the fault reaches the batch instead of a retry.
    client = NetBoxClient(
        proxy.url,
        clean_netbox.tokens.admin,
        retry=RetryPolicy(deadline=2.0, base_delay=5.0, random=lambda: 1.0),
    )
    deps = make_deps(aws, client, pipe.outcomes)
    at = second.sent_at + 100 * ms
    wait_past(at)
    pipe.publish(
        ses.delivery_event(mail_for(first, "ses-f1"), RECIPIENTS[:1], at=first.sent_at + 100 * ms),
        ses.delivery_event(mail_for(second, "ses-f2"), RECIPIENTS[1:2], at=at),
    )
    proxy.faults.append(fault)
    failed = pipe.drain(deps)
    assert failed == ["Delivery"], (proxy.faulted, proxy.forwarded, pipe.outcomes)
    assert len(proxy.faulted) == 1
    statuses = {n.id: prepared.api.get_prepared_notification(n.id).status for n in (first, second)}
    assert sorted(statuses.values()) == ["delivered", "sent"]
    time.sleep(1.1)
    assert pipe.drain(deps) == []
    for notification in (first, second):
        assert prepared.api.get_prepared_notification(notification.id).status == "delivered"
        assert sum("[SES Delivery]" in e for e in journal(prepared.api, notification.id)) == 1


# --- the rest of the rule against NetBox --------------------------------------------------------------------


def test_transient_bounce_then_late_bounce_after_delivered(
    pipe: TrackingPipe, prepared: Notifications
) -> None:
    notification = prepared.sent(RECIPIENTS[:2])
    assert notification.sent_at is not None
    mail = mail_for(notification, "ses-late")
    t = notification.sent_at
    wait_past(t + 400 * ms)
    pipe.send_through(ses.bounce_event(mail, RECIPIENTS[:1], at=t + 50 * ms, bounce_type="Transient"))
    assert prepared.api.get_prepared_notification(notification.id).status == "sent"
    pipe.send_through(ses.delivery_event(mail, RECIPIENTS[:2], at=t + 100 * ms))
    pipe.send_through(ses.bounce_event(mail, RECIPIENTS[1:2], at=t + 400 * ms))
    after = prepared.api.get_prepared_notification(notification.id)
    assert after.status == "delivered" and after.delivered_at == to_ms(t + 100 * ms)
    entries = kinds(prepared.api, notification.id)
    late = [(kind, text) for kind, text in entries if "after the notification was delivered" in text]
    assert len(late) == 1 and late[0][0] == "warning" and RECIPIENTS[1] in late[0][1]
    assert sum(kind == "warning" and "Transient" in text for kind, text in entries) == 1


def test_other_senders_events_are_acknowledged_and_ignored(
    pipe: TrackingPipe, prepared: Notifications
) -> None:
    notification = prepared.sent(RECIPIENTS[:1])
    mail = mail_for(notification, "ses-other", tagged=False)
    assert pipe.send_through(ses.delivery_event(mail, RECIPIENTS[:1], at=datetime.now(UTC))) == []
    assert pipe.outcomes[-1].verdict == "ignored"
    assert prepared.api.get_prepared_notification(notification.id).status == "sent"


def test_a_direct_sns_event_raises_so_sns_retries(pipe: TrackingPipe, prepared: Notifications) -> None:
    ready = prepared.ready(RECIPIENTS[:1])
    assert ready.approved_at is not None
    at = ready.approved_at + 200 * ms
    mail = ses.mail_object("ses-sns", RECIPIENTS[:1], sent=ready.approved_at + 100 * ms, tags=tags(ready.id))
    wait_past(at)
    event = ses.sns_event([ses.delivery_event(mail, RECIPIENTS[:1], at=at)])
    with pytest.raises(RetryLater):
        process_sns(event, pipe.deps)
    prepared.mark_sent(ready.id, "ses-sns")
    assert process_sns(event, pipe.deps) == {"results": [["delivered"]]}
    results: list[Tracked] = pipe.outcomes
    assert [o.verdict for o in results] == ["wait_for_send", "delivered"]


class _Context:
    function_name = "tracking"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tracking"
    aws_request_id = "req-1"


def test_the_handler_wires_itself_from_the_environment(
    pipe: TrackingPipe, prepared: Notifications, clean_netbox: RunningNetBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sesflow.config import tracking_settings
    from sesflow.notices import tracking
    from sesflow.notices.tracking import wiring

    monkeypatch.setenv("NETBOX_URL", clean_netbox.url)
    monkeypatch.setenv("NETBOX_API_TOKEN", clean_netbox.tokens.admin)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", TABLE)
    tracking_settings.cache_clear()
    wiring.default_deps.cache_clear()
    try:
        first, second = prepared.sent(RECIPIENTS[:1]), prepared.ready(RECIPIENTS[1:2])
        assert first.sent_at is not None and second.approved_at is not None
        at = first.sent_at + 100 * ms
        wait_past(max(at, second.approved_at + 200 * ms))
        sqs = ses.sqs_event(
            [
                json.dumps(
                    ses.sns_envelope(ses.delivery_event(mail_for(first, "h-1"), RECIPIENTS[:1], at=at))
                ),
                json.dumps(
                    ses.sns_envelope(
                        ses.delivery_event(
                            ses.mail_object(
                                "h-2", RECIPIENTS[1:2], sent=second.approved_at, tags=tags(second.id)
                            ),
                            RECIPIENTS[1:2],
                            at=second.approved_at + 200 * ms,
                        )
                    )
                ),
            ]
        )
        answer = tracking.handler(sqs, _Context())  # type: ignore[arg-type]
        assert answer == {"batchItemFailures": [{"itemIdentifier": sqs["Records"][1]["messageId"]}]}
        assert prepared.api.get_prepared_notification(first.id).status == "delivered"
        sns = ses.sns_event([ses.open_event(mail_for(first, "h-1"), at=at)])
        assert tracking.handler(sns, _Context()) == {"results": [["journal"]]}  # type: ignore[arg-type]
    finally:
        tracking_settings.cache_clear()
        wiring.default_deps.cache_clear()


def test_events_of_the_previous_round_do_not_touch_a_notification_approved_again(
    pipe: TrackingPipe, prepared: Notifications
) -> None:
    from sesflow.notices.rounds import round_of

    notification = prepared.sent(RECIPIENTS[:1])
    assert notification.sent_at is not None
    first_round = round_of(notification)
    old = ses.mail_object(
        "ses-r1", RECIPIENTS[:1], sent=notification.sent_at, tags=tags(notification.id, first_round)
    )
    wait_past(notification.sent_at + 100 * ms)
    pipe.send_through(ses.bounce_event(old, RECIPIENTS[:1], at=notification.sent_at + 100 * ms))
    assert prepared.api.get_prepared_notification(notification.id).status == "failed"
    again = prepared.api.transition(notification.id, NotificationStatus.READY, message="approved again")
    assert round_of(again) != first_round
    # A late delivery of the first send, with the claim showing its message id: not a reason to mark `sent`.
    claims = ClaimTable(TABLE, pipe.aws.dynamodb)
    claims.record_send_evidence(notification.id, "ses-r1", tags(notification.id, first_round))
    assert (
        pipe.send_through(ses.delivery_event(old, RECIPIENTS[:1], at=notification.sent_at + 200 * ms)) == []
    )
    after = prepared.api.get_prepared_notification(notification.id)
    assert after.status == "ready"
    assert sum("of an earlier send" in entry for entry in journal(prepared.api, notification.id)) == 1
