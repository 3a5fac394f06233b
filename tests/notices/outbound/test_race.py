"""Webhook against schedule, and two overlapping schedules, all at the same moment on 100 notifications:
100 mails, one per notification, never more."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sesflow.notices.outbound import Attempt, send_one, send_ready

from .conftest import Outbound, sent_notification_ids

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

NOTIFICATIONS = 100


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
