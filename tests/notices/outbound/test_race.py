"""Webhook against schedule, and two overlapping schedules, all at the same moment on 100 notifications:
100 mails, one per notification, never more. And the races the final PATCH can lose: to tracking, which
moved the notification on, and to a new approval. Each on a NetBox with ETags (4.6+) and without (4.5)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sesflow.netbox.records import NotificationStatus
from sesflow.notices.outbound.outcomes import Attempt, Sent
from sesflow.notices.outbound.pipeline import send_one
from sesflow.notices.outbound.schedule import send_ready

from .cases import RACING_NOTIFICATIONS as NOTIFICATIONS
from .conftest import NETBOX_MODES, NO_ETAG, AfterStep, Outbound, sent_mails, sent_notification_ids

pytestmark = [
    pytest.mark.netbox,
    pytest.mark.integration,
    pytest.mark.parametrize("netbox_mode", NETBOX_MODES, indirect=True),
]


def test_webhook_racing_two_schedules_sends_each_notification_once(outbound: Outbound) -> None:
    ids = outbound.ready(NOTIFICATIONS)
    start = threading.Barrier(3)
    results: dict[str, list[Any]] = {}

    def schedule(name: str) -> None:
        deps = outbound.deps(client=outbound.patient(), workers=3)
        start.wait()
        results[name] = send_ready(deps)

    def webhooks() -> None:
        deps = outbound.deps(client=outbound.patient(), workers=3)
        start.wait()
        with ThreadPoolExecutor(max_workers=3) as pool:
            results["webhook"] = list(pool.map(lambda number: send_one(number, deps), ids))

    threads = [
        threading.Thread(target=schedule, args=("schedule-1",)),
        threading.Thread(target=schedule, args=("schedule-2",)),
        threading.Thread(target=webhooks),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(sent_notification_ids()) == Counter(ids)  # each exactly once
    outcomes: list[Attempt] = [outcome for found in results.values() for outcome in found]
    sent = Counter(outcome.notification_id for outcome in outcomes if outcome.result == "sent")
    assert sent == Counter(ids)
    assert {outcome.result for outcome in outcomes} <= {"sent", "held", "done", "not_ready"}
    assert {item.status for item in outbound.notices.prepared_notifications()} == {"sent"}


def after_the_send(change: Callable[[], None]) -> AfterStep:
    """A step hook that lets another writer change the notification once, between SES and the PATCH."""
    pending = [change]

    def observe(_: object) -> None:
        if pending:
            pending.pop()()

    return AfterStep("send", observe)


def test_a_mark_that_finds_the_notification_moved_on_leaves_it_there(outbound: Outbound) -> None:
    [notification_id] = outbound.ready()

    def tracking_marks_it_and_ses_delivers() -> None:
        outbound.notices.transition(notification_id, NotificationStatus.SENT, message="marked by tracking")
        outbound.notices.transition(notification_id, NotificationStatus.DELIVERED, message="delivered")

    deps = outbound.deps()
    deps.hooks = (after_the_send(tracking_marks_it_and_ses_delivers),)

    outcome = send_one(notification_id, deps)

    assert isinstance(outcome, Sent) and sent_notification_ids() == [notification_id]
    assert outbound.status(notification_id) == "delivered"
    assert "Sent via SES" not in outbound.journal(notification_id)
    assert send_one(notification_id, outbound.deps()).result == "not_ready"
    assert len(sent_mails()) == 1


def test_a_mark_that_meets_a_new_approval_leaves_that_approval_to_the_next_run(
    outbound: Outbound, netbox_mode: str
) -> None:
    """This round's mail went; tracking marked it, a bounce failed it and someone approved it again, all
    before the PATCH. The new approval must not end `sent`: its mail has not gone. With If-Match NetBox
    refuses the PATCH; without, the PATCH marks it, its answer shows the new approval, and it is put back."""
    [notification_id] = outbound.ready()
    first_approval = outbound.notices.get_prepared_notification(notification_id).approved_at

    def bounced_and_approved_again() -> None:
        for status in (NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.READY):
            outbound.notices.transition(notification_id, status, message=f"test: {status}")

    deps = outbound.deps()
    deps.hooks = (after_the_send(bounced_and_approved_again),)

    assert isinstance(send_one(notification_id, deps), Sent) and len(sent_mails()) == 1
    after = outbound.notices.get_prepared_notification(notification_id)
    assert after.status == "ready"
    assert after.approved_at is not None and first_approval is not None and after.approved_at > first_approval
    assert ("Marked sent by mistake" in outbound.journal(notification_id)) == (netbox_mode == NO_ETAG)

    assert isinstance(send_one(notification_id, outbound.deps()), Sent)
    assert sent_notification_ids() == [notification_id, notification_id]  # one mail per approval
    assert outbound.status(notification_id) == "sent"
