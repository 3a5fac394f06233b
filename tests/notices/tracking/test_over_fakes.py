"""The tracking flow's hardest cases over the fakes, in seconds: the cases of test_netbox_flow.py (every event
type, the 200 seeded shuffles of test_rule.py, duplicates, events that beat the send, faults and crashes),
through the handler's own batch function, with FakeNotices, FakeTrackingLedger and FakeClaimStore on a clock
the test moves. Each ends in the NetBox status and journal the real-server test asserts."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sesflow.local import ses_events as ses
from sesflow.netbox.errors import NetBoxServerError, NetBoxThrottled
from sesflow.netbox.records import NotificationStatus, PreparedNotification
from sesflow.notices.claims import Claim
from sesflow.notices.rounds import round_of
from sesflow.notices.tracking.pipeline import RetryLater
from sesflow.notices.tracking.wiring import process_sns

from ...fakes.notices import FakeNotices
from ...fakes.tracking_ledger import FakeTrackingLedger
from .cases import CASES, build
from .fake_world import RECIPIENTS, FakeWorld
from .scenarios import all_delivered, latest_delivery, one_bounce, tags

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ms = timedelta(milliseconds=1)


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld.at(START)


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
    world: FakeWorld, case: str, count: int, legacy: bool, status: str, text: str
) -> None:
    notification = world.sent(RECIPIENTS[:count])
    assert notification.sent_at is not None
    mail = mail_for(notification, f"ses-{case}")
    at = notification.sent_at + 150 * ms
    event = build(case, mail, list(RECIPIENTS[:count]), at)
    if legacy:
        # Feedback notifications carry no tags: the message is placed by the tagged Send seen before.
        world.publish(ses.send_event(mail))
        event = ses.legacy(event)
    world.clock.move_past(at)
    world.publish(event)
    assert world.drain() == []
    after = world.notices.get_prepared_notification(notification.id)
    assert after.status == status
    entries = world.journal(notification.id)
    assert sum(text in entry for entry in entries) == 1, entries
    if status == "delivered":
        assert after.delivered_at == at  # SES's delivery time, not when it was processed
    if status == "failed" and case in {"bounce", "complaint"}:
        failed = next(entry for entry in entries if "sent → failed" in entry.lower() or "failed" in entry)
        assert RECIPIENTS[count - 1 if case == "bounce" else 0] in failed


# --- the 200 seeded shuffles of test_rule.py, through the flow ---------------------------------------------


def shuffled_run(scenario: str, seed: int) -> tuple[FakeWorld, PreparedNotification, list[dict[str, Any]]]:
    """The scenario's events, each published twice, in the seed's order, drained until none is left."""
    world = FakeWorld.at(START)
    notification = world.sent()
    assert notification.sent_at is not None
    build_set = one_bounce if scenario == "one_bounce" else all_delivered
    events = build_set(notification.id, RECIPIENTS, notification.sent_at, f"ses-{scenario}-{seed}")
    shuffled = events * 2
    random.Random(seed).shuffle(shuffled)
    world.clock.move_past(notification.sent_at + timedelta(seconds=1))
    world.publish(*shuffled)
    assert world.drain() == []
    return world, notification, events


def assert_one_entry_per_fact(entries: list[str]) -> None:
    assert len(entries) == len(set(entries)), entries
    for text in ("[SES Send]", "[SES Open]", "[SES Click]"):
        assert sum(text in entry for entry in entries) == 1, text


@pytest.mark.parametrize("seed", range(200))
def test_shuffled_bounce_set_always_ends_failed_with_one_entry_per_fact(seed: int) -> None:
    world, notification, _ = shuffled_run("one_bounce", seed)
    after = world.notices.get_prepared_notification(notification.id)
    entries = world.journal(notification.id)
    assert after.status == "failed"
    assert after.delivered_at is None  # the plugin keeps no time for `failed`
    assert_one_entry_per_fact(entries)
    assert sum("[SES DeliveryDelay]" in entry for entry in entries) == 1
    failed = [entry for entry in entries if entry.startswith("Status: sent → failed")]
    assert len(failed) == 1
    assert "field@example.org" in failed[0] and "mailbox unknown" in failed[0]
    # Each delivery is either in the failure's message or journaled after it: never lost, never twice.
    for address in RECIPIENTS[:2]:
        mentions = [entry for entry in entries if address in entry]
        assert len(mentions) == 1, (address, mentions)


@pytest.mark.parametrize("seed", range(200))
def test_shuffled_delivery_set_always_ends_delivered_at_the_last_delivery(seed: int) -> None:
    world, notification, events = shuffled_run("all_delivered", seed)
    after = world.notices.get_prepared_notification(notification.id)
    entries = world.journal(notification.id)
    assert after.status == "delivered"
    assert after.delivered_at == latest_delivery(events)
    assert_one_entry_per_fact(entries)
    assert sum(entry.startswith("Status: sent → delivered") for entry in entries) == 1
    assert sum("Bounce (Transient)" in entry for entry in entries) == 1


# --- duplicates ---------------------------------------------------------------------------------------------


def test_every_event_delivered_twice_gives_one_journal_entry_each(world: FakeWorld) -> None:
    notification = world.sent()
    assert notification.sent_at is not None
    events = all_delivered(notification.id, RECIPIENTS, notification.sent_at, "ses-twice")
    world.clock.move_past(notification.sent_at + timedelta(seconds=1))
    world.publish(*events)
    world.publish(*events)
    assert world.drain() == []
    entries = world.journal(notification.id)
    assert len(entries) == len(set(entries)) == 3 + 4  # approved, sent, delivered + send, bounce, open, click
    assert sum(o.verdict == "duplicate" for o in world.outcomes) == 7  # one per recipient share


@pytest.mark.parametrize("scenario", [one_bounce, all_delivered], ids=["one_bounce", "all_delivered"])
def test_a_duplicate_event_writes_nothing(world: FakeWorld, scenario: Any) -> None:
    notification = world.sent()
    assert notification.sent_at is not None
    events = scenario(notification.id, RECIPIENTS, notification.sent_at, "ses-dup")
    world.clock.move_past(notification.sent_at + timedelta(seconds=1))
    assert world.send_through(*events) == []
    for event in events:
        before = world.state()
        assert world.send_through(event) == []
        assert world.state() == before, event["eventType"]
        assert {str(o.verdict) for o in world.outcomes[-len(event_shares(event)) :]} == {"duplicate"}


def event_shares(event: dict[str, Any]) -> list[str]:
    """The recipients an event speaks for (one share each; opens, clicks and sends speak for the mail)."""
    body = event.get("delivery") or event.get("bounce") or event.get("complaint") or {}
    recipients = body.get("recipients") or body.get("bouncedRecipients") or body.get("complainedRecipients")
    return list(recipients or [None])


# --- events that beat the send ------------------------------------------------------------------------------


def test_delivery_before_outbound_marks_sent_completes_the_send_from_the_claim(world: FakeWorld) -> None:
    ready = world.ready(RECIPIENTS[:2])
    claim = world.claims.acquire(ready.id, "r1")
    assert isinstance(claim, Claim)
    world.claims.record_part(claim, 0, "ses-early", last=True)  # outbound sent it and has not marked it yet
    assert ready.approved_at is not None
    sent = ready.approved_at + 100 * ms
    mail = ses.mail_object("ses-early", RECIPIENTS[:2], sent=sent, tags=tags(ready.id))
    world.clock.move_past(sent + 300 * ms)
    assert world.send_through(ses.delivery_event(mail, RECIPIENTS[:2], at=sent + 300 * ms)) == []
    after = world.notices.get_prepared_notification(ready.id)
    assert after.status == "delivered"
    assert after.sent_at == sent and after.delivered_at == sent + 300 * ms
    entries = world.journal(ready.id)
    assert sum("Sent via SES (MessageId: ses-early)" in entry for entry in entries) == 1


def test_delivery_with_no_sign_of_the_send_is_redelivered_until_sent_exists(world: FakeWorld) -> None:
    ready = world.ready(RECIPIENTS[:1])
    assert ready.approved_at is not None
    at = ready.approved_at + 500 * ms
    mail = ses.mail_object(
        "ses-unclaimed", RECIPIENTS[:1], sent=ready.approved_at + 100 * ms, tags=tags(ready.id)
    )
    world.clock.move_past(at)
    assert world.send_through(ses.delivery_event(mail, RECIPIENTS[:1], at=at)) == ["Delivery"]
    assert world.status(ready.id) == "ready"
    assert world.outcomes[-1].verdict == "wait_for_send"
    world.mark_sent(ready.id, "ses-unclaimed")  # outbound gets there
    assert world.drain() == []
    assert world.status(ready.id) == "delivered"
    assert sum("[SES Delivery]" in entry for entry in world.journal(ready.id)) == 1


def test_without_outbound_the_redelivery_completes_the_send_from_the_first_arrival(
    world: FakeWorld,
) -> None:
    ready = world.ready(RECIPIENTS[:1])
    assert ready.approved_at is not None
    sent = ready.approved_at + 100 * ms
    mail = ses.mail_object("ses-alone", RECIPIENTS[:1], sent=sent, tags=tags(ready.id))
    world.clock.move_past(sent + 200 * ms)
    assert world.send_through(ses.delivery_event(mail, RECIPIENTS[:1], at=sent + 200 * ms)) == ["Delivery"]
    assert world.drain() == []
    after = world.notices.get_prepared_notification(ready.id)
    assert (after.status, after.sent_at, after.delivered_at) == ("delivered", sent, sent + 200 * ms)


def test_an_event_never_applied_ends_in_the_dlq(world: FakeWorld) -> None:
    assert world.seeded.template is not None
    still_draft = world.notices.create_prepared_notification(
        template_id=world.seeded.template, subject="s", body_text="b", contact_ids=[]
    )
    mail = ses.mail_object("ses-draft", RECIPIENTS[:1], sent=world.clock(), tags=tags(still_draft.id))
    world.publish(ses.send_event(mail))
    for _ in range(3):
        assert world.drain() == ["Send"]
    assert world.drain() == []
    assert len(world.queue.dlq) == 1
    assert world.status(still_draft.id) == NotificationStatus.DRAFT


def test_a_direct_sns_event_raises_so_sns_retries(world: FakeWorld) -> None:
    ready = world.ready(RECIPIENTS[:1])
    assert ready.approved_at is not None
    at = ready.approved_at + 200 * ms
    mail = ses.mail_object("ses-sns", RECIPIENTS[:1], sent=ready.approved_at + 100 * ms, tags=tags(ready.id))
    world.clock.move_past(at)
    event = ses.sns_event([ses.delivery_event(mail, RECIPIENTS[:1], at=at)])
    with pytest.raises(RetryLater):
        process_sns(event, world.deps)
    world.mark_sent(ready.id, "ses-sns")
    assert process_sns(event, world.deps) == {"results": [["delivered"]]}
    assert [o.verdict for o in world.outcomes] == ["wait_for_send", "delivered"]


# --- faults and crashes -------------------------------------------------------------------------------------


class FaultyNotices(FakeNotices):
    """NetBox answers the next read (`GET`), status change (`PATCH`) or change to one status (`delivered`)
    with the given error, as a 503 or a 429 that outlasted the client's retry deadline reaches the flow."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults: defaultdict[str, list[Exception]] = defaultdict(list)

    def prepared_notification_answer(self, notification_id: int) -> Any:
        if self.faults["GET"]:
            raise self.faults["GET"].pop(0)
        return super().prepared_notification_answer(notification_id)

    def transition(self, notification_id: int, status: NotificationStatus, **kwargs: Any) -> Any:
        for key in (str(status), "PATCH"):
            if self.faults[key]:
                raise self.faults[key].pop(0)
        return super().transition(notification_id, status, **kwargs)


FAULTS = {
    "503": lambda method: NetBoxServerError(503, method, "/api/plugins/notices/", {"detail": "unavailable"}),
    "429": lambda method: NetBoxThrottled(429, method, "/api/plugins/notices/", {"detail": "throttled"}),
}


def faulty_world() -> tuple[FakeWorld, FaultyNotices]:
    world = FakeWorld.at(START, notices=FaultyNotices)
    assert isinstance(world.notices, FaultyNotices)
    return world, world.notices


@pytest.mark.parametrize("method", ["GET", "PATCH"], ids=["on_read", "on_apply"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_netbox_fault_fails_only_that_message_then_it_succeeds(fault: str, method: str) -> None:
    world, faulty = faulty_world()
    first, second = world.sent(RECIPIENTS[:1]), world.sent(RECIPIENTS[1:2])
    assert first.sent_at is not None and second.sent_at is not None
    at = second.sent_at + 100 * ms
    world.clock.move_past(at)
    world.publish(
        ses.delivery_event(mail_for(first, "ses-f1"), RECIPIENTS[:1], at=first.sent_at + 100 * ms),
        ses.delivery_event(mail_for(second, "ses-f2"), RECIPIENTS[1:2], at=at),
    )
    faulty.faults[method].append(FAULTS[fault](method))
    assert world.drain() == ["Delivery"]
    assert faulty.faults[method] == []
    assert sorted(world.status(n.id) for n in (first, second)) == ["delivered", "sent"]
    assert world.drain() == []
    for notification in (first, second):
        assert world.status(notification.id) == "delivered"
        assert sum("[SES Delivery]" in e for e in world.journal(notification.id)) == 1


def test_a_fault_between_two_writes_of_one_event_is_finished_by_the_retry() -> None:
    """An early delivery writes `sent` then `delivered`; NetBox fails the second: the redelivery writes only
    what is missing."""
    world, faulty = faulty_world()
    ready = world.ready(RECIPIENTS[:1])
    assert ready.approved_at is not None
    sent = ready.approved_at + 100 * ms
    claim = world.claims.acquire(ready.id, "r1")
    assert isinstance(claim, Claim)
    world.claims.record_part(claim, 0, "ses-split", last=True)
    mail = ses.mail_object("ses-split", RECIPIENTS[:1], sent=sent, tags=tags(ready.id))
    world.clock.move_past(sent + 300 * ms)
    faulty.faults["delivered"].append(FAULTS["503"]("PATCH"))
    assert world.send_through(ses.delivery_event(mail, RECIPIENTS[:1], at=sent + 300 * ms)) == ["Delivery"]
    assert world.status(ready.id) == "sent"
    assert world.drain() == []
    after = world.notices.get_prepared_notification(ready.id)
    assert (after.status, after.sent_at, after.delivered_at) == ("delivered", sent, sent + 300 * ms)
    entries = world.journal(ready.id)
    assert sum("Sent via SES (MessageId: ses-split)" in entry for entry in entries) == 1
    assert sum("[SES Delivery]" in entry for entry in entries) == 1


class CrashAfterNetBox(FakeTrackingLedger):
    """Dies once right after NetBox was written and before the event is marked done."""

    crashes = 0

    def finish(self, identity: str) -> None:
        if self.crashes == 0:
            self.crashes += 1
            raise RuntimeError("crash between the NetBox write and the dedupe record")
        super().finish(identity)


@pytest.mark.parametrize("case", ["open", "delivery", "bounce"])
def test_a_crash_after_the_netbox_write_does_not_write_twice(world: FakeWorld, case: str) -> None:
    notification = world.sent(RECIPIENTS[:1])
    assert notification.sent_at is not None
    at = notification.sent_at + 100 * ms
    event = build(case, mail_for(notification, f"ses-crash-{case}"), list(RECIPIENTS[:1]), at)
    world.ledger = CrashAfterNetBox(clock=world.clock.seconds, lease_seconds=0.5)
    world.clock.move_past(at)
    world.publish(event)
    assert len(world.drain()) == 1
    before = world.journal(notification.id)
    world.clock.advance(timedelta(seconds=1.1))
    assert world.drain() == []
    assert world.journal(notification.id) == before
    assert world.outcomes[-1].verdict == "replayed"
    world.publish(event)  # and a later duplicate is a plain duplicate
    assert world.drain() == []
    assert world.outcomes[-1].verdict == "duplicate"


# --- the rest of the rule -----------------------------------------------------------------------------------


def test_transient_bounce_then_late_bounce_after_delivered(world: FakeWorld) -> None:
    notification = world.sent(RECIPIENTS[:2])
    assert notification.sent_at is not None
    mail = mail_for(notification, "ses-late")
    t = notification.sent_at
    world.clock.move_past(t + 400 * ms)
    world.send_through(ses.bounce_event(mail, RECIPIENTS[:1], at=t + 50 * ms, bounce_type="Transient"))
    assert world.status(notification.id) == "sent"
    world.send_through(ses.delivery_event(mail, RECIPIENTS[:2], at=t + 100 * ms))
    world.send_through(ses.bounce_event(mail, RECIPIENTS[1:2], at=t + 400 * ms))
    after = world.notices.get_prepared_notification(notification.id)
    assert after.status == "delivered" and after.delivered_at == t + 100 * ms
    entries = world.kinds(notification.id)
    late = [(kind, text) for kind, text in entries if "after the notification was delivered" in text]
    assert len(late) == 1 and late[0][0] == "warning" and RECIPIENTS[1] in late[0][1]
    assert sum(kind == "warning" and "Transient" in text for kind, text in entries) == 1


def test_other_senders_events_are_acknowledged_and_ignored(world: FakeWorld) -> None:
    notification = world.sent(RECIPIENTS[:1])
    mail = mail_for(notification, "ses-other", tagged=False)
    assert world.send_through(ses.delivery_event(mail, RECIPIENTS[:1], at=world.clock())) == []
    assert world.outcomes[-1].verdict == "ignored"
    assert world.status(notification.id) == "sent"


def test_events_of_the_previous_round_do_not_touch_a_notification_approved_again(world: FakeWorld) -> None:
    notification = world.sent(RECIPIENTS[:1])
    assert notification.sent_at is not None
    first_round = round_of(notification)
    old = ses.mail_object(
        "ses-r1", RECIPIENTS[:1], sent=notification.sent_at, tags=tags(notification.id, first_round)
    )
    world.clock.move_past(notification.sent_at + 100 * ms)
    world.send_through(ses.bounce_event(old, RECIPIENTS[:1], at=notification.sent_at + 100 * ms))
    assert world.status(notification.id) == "failed"
    world.clock.advance(timedelta(seconds=1))
    again = world.notices.transition(notification.id, NotificationStatus.READY, message="approved again")
    assert round_of(again) != first_round
    # A late delivery of the first send, with the claim showing its message id: not a reason to mark `sent`.
    world.claims.record_send_evidence(notification.id, "ses-r1", tags(notification.id, first_round))
    delivery = ses.delivery_event(old, RECIPIENTS[:1], at=notification.sent_at + 200 * ms)
    assert world.send_through(delivery) == []
    assert world.status(notification.id) == "ready"
    assert sum("of an earlier send" in entry for entry in world.journal(notification.id)) == 1
