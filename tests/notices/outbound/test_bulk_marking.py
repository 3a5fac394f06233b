"""The schedule marks what it sent `sent` in bulk PATCHes (NetBox takes ~50 ms a notification alone), and
falls back to the single PATCH with If-Match for any notification that changed since it was listed: on
NetBox 4.7, which names the objects a refused bulk write refused, only for those."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from urllib.parse import quote

import pytest

from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import VERSION_FIELDS, NoticesApi
from sesflow.netbox.records import NotificationStatus, NotificationVersion
from sesflow.notices.outbound.delivery import Delivery
from sesflow.notices.outbound.outcomes import Sent
from sesflow.notices.outbound.pipeline import SENDING, run_steps
from sesflow.notices.outbound.schedule import mark_in_bulk, send_ready
from sesflow.notices.rounds import round_of

from ...netbox.fault_proxy import FaultProxy
from .conftest import NOTIFICATIONS, Outbound, sent_mails

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


@pytest.fixture
def proxy(outbound: Outbound) -> Iterator[FaultProxy]:
    """No faults: it counts the requests that reach NetBox."""
    running = FaultProxy(int(outbound.server.url.rsplit(":", 1)[1]))
    yield running
    running.close()


def patches(proxy: FaultProxy) -> tuple[list[str], list[str]]:
    """The PATCH request lines that reached NetBox: (to the list endpoint, to one notification)."""
    lines = [line for line in proxy.forwarded if line.startswith("PATCH ")]
    bulk = [line for line in lines if line.split()[1].split("?")[0] == NOTIFICATIONS]
    return bulk, [line for line in lines if line not in bulk]


def sent_ids_by_notification(outcomes: Sequence[object]) -> dict[int, tuple[str, ...]]:
    return {o.notification_id: o.message_ids for o in outcomes if isinstance(o, Sent)}


def test_thirty_notifications_are_marked_in_a_few_bulk_patches_each_with_its_own_ses_ids(
    outbound: Outbound, proxy: FaultProxy
) -> None:
    ids = outbound.ready(30)
    client = NetBoxClient(proxy.url, outbound.server.tokens.admin)

    outcomes = send_ready(outbound.deps(client=client, workers=8))

    sent = sent_ids_by_notification(outcomes)
    assert sorted(sent) == sorted(ids)
    assert len(sent_mails()) == 30
    bulk, single = patches(proxy)
    assert single == [] and 1 <= len(bulk) < 30
    for notification_id in ids:
        assert outbound.status(notification_id) == "sent"
        [message_id] = sent[notification_id]
        journal = outbound.journal(notification_id)
        assert journal.count("Status: ready → sent") == 1 and message_id in journal


class ChangedBeforeTheBulkPatch(NoticesApi):
    """A concurrent writer changes one notification just before the bulk PATCH reaches NetBox."""

    def __init__(self, client: NetBoxClient, change: Callable[[], None], changing: int) -> None:
        super().__init__(client)
        self.change, self.changing = change, changing

    def mark_sent_many(self, messages: Mapping[int, str]) -> list[NotificationVersion]:
        if self.changing in messages:
            self.change()
            self.changing = -1
        return super().mark_sent_many(messages)


def test_a_bulk_patch_netbox_refuses_goes_again_without_what_it_refused_and_nothing_moves_back(
    outbound: Outbound, proxy: FaultProxy
) -> None:
    ids = outbound.ready(4)
    moving = ids[1]

    def tracking_completes_and_ses_delivers() -> None:
        outbound.notices.transition(moving, NotificationStatus.SENT, message="completed by tracking")
        outbound.notices.transition(moving, NotificationStatus.DELIVERED, message="delivered")

    client = NetBoxClient(proxy.url, outbound.server.tokens.admin)
    deps = outbound.deps(client=client, workers=4)
    deps.notices = ChangedBeforeTheBulkPatch(client, tracking_completes_and_ses_delivers, moving)

    outcomes = send_ready(deps)

    assert sorted(sent_ids_by_notification(outcomes)) == sorted(ids)
    assert len(sent_mails()) == 4
    bulk, single = patches(proxy)
    assert len(bulk) >= 2  # the refused one, and its batch again without `moving`
    assert single == [f"PATCH {NOTIFICATIONS}{moving}/ HTTP/1.1"]  # only what NetBox refused goes alone
    assert outbound.status(moving) == "delivered"
    assert "Sent via SES" not in outbound.journal(moving)
    for notification_id in ids:
        if notification_id != moving:
            assert outbound.status(notification_id) == "sent"
            journal = outbound.journal(notification_id)
            assert journal.count("Status: ready → sent") == 1 and "Sent via SES" in journal


def test_a_bulk_patch_that_lands_on_a_new_approval_puts_it_back_for_the_next_run(
    outbound: Outbound,
) -> None:
    [notification_id] = outbound.ready()

    def bounced_and_approved_again() -> None:
        """Tracking marks the mail sent, SES reports a bounce, and someone approves it again."""
        for status in (NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.READY):
            outbound.notices.transition(notification_id, status, message=f"test: {status}")

    deps = outbound.deps()
    deps.notices = ChangedBeforeTheBulkPatch(outbound.client, bounced_and_approved_again, notification_id)
    first_approval = outbound.notices.get_prepared_notification(notification_id).approved_at

    [first] = send_ready(deps)

    assert isinstance(first, Sent) and len(sent_mails()) == 1
    after = outbound.notices.get_prepared_notification(notification_id)
    assert after.status == "ready" and after.approved_at is not None and first_approval is not None
    assert after.approved_at > first_approval
    assert "Marked sent by mistake" in outbound.journal(notification_id)
    [second] = send_ready(outbound.deps())  # the next run sends the approval nobody sent
    assert isinstance(second, Sent) and len(sent_mails()) == 2
    assert outbound.status(notification_id) == "sent"


def test_a_refused_batch_costs_two_bulk_patches_and_one_read_and_patch_per_refused_notification(
    outbound: Outbound, proxy: FaultProxy
) -> None:
    """Ten notifications sent, one of them moved on by tracking before the bulk PATCH. NetBox 4.7 answers
    400 naming it ({"errors": [{"id": …, "errors": {"status": […]}}]}); the nine go again in bulk, the one
    alone. One by one it would be the refused PATCH, ten single PATCHes and a read."""
    ids = outbound.ready(10)
    moving = ids[3]
    client = NetBoxClient(proxy.url, outbound.server.tokens.admin)
    deps = outbound.deps(client=client)
    deliveries = []
    for notification in deps.notices.ready_notifications():
        delivery = Delivery(notification, round_of(notification))
        assert run_steps(delivery, deps, SENDING) is None  # sent, not yet marked
        deliveries.append(delivery)
    outbound.notices.transition(moving, NotificationStatus.SENT, message="marked by tracking")
    outbound.notices.transition(moving, NotificationStatus.DELIVERED, message="delivered")
    client.honours_etags()  # once per container; not part of the marking
    proxy.forwarded.clear()

    outcomes = mark_in_bulk(deliveries, deps)

    assert sorted(sent_ids_by_notification(outcomes)) == sorted(ids)
    assert proxy.forwarded == [
        f"PATCH {NOTIFICATIONS}?fields={quote(VERSION_FIELDS + ',message')} HTTP/1.1",  # refused: 400
        f"PATCH {NOTIFICATIONS}?fields={quote(VERSION_FIELDS + ',message')} HTTP/1.1",  # the nine
        f"PATCH {NOTIFICATIONS}{moving}/ HTTP/1.1",  # 412: it changed since it was listed
        f"GET {NOTIFICATIONS}{moving}/ HTTP/1.1",  # delivered: moved on, nothing more
    ]
    assert len(proxy.forwarded) < 1 + len(ids) + 1
    assert outbound.status(moving) == "delivered"
    assert {outbound.status(number) for number in ids if number != moving} == {"sent"}
