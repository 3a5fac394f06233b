"""Outbound's hardest cases over the fakes, in seconds: the same cases and assertions as test_crashes.py,
test_race.py, test_bulk_marking.py and test_faults.py (which run them against NetBox and moto), over
FakeNotices, FakeClaimStore, FakeSesSender and a clock that only moves when a test says so."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from sesflow.aws.ses import SentMessage
from sesflow.netbox.errors import NetBoxServerError
from sesflow.netbox.records import NotificationStatus, NotificationVersion, PreparedNotification
from sesflow.notices.claims import FIRST_BACKOFF_SECONDS, LEASE_SECONDS, ClaimState
from sesflow.notices.outbound.delivery import Delivery, OutboundDeps
from sesflow.notices.outbound.outcomes import Attempt, Failed, Rejected, Sent, Skipped
from sesflow.notices.outbound.pipeline import SENDING, run_steps, send_one
from sesflow.notices.outbound.schedule import mark_in_bulk, send_ready
from sesflow.notices.rounds import round_of
from sesflow.pipeline import StopAfter, StopRun

from ...fakes.notices import FakeNotices
from ...fakes.ses import FakeSesSender
from .cases import (
    CRASH_STEPS,
    FROM,
    NETBOX_MODES,
    NO_ETAG,
    RACING_NOTIFICATIONS,
    AfterStep,
    FakeOutbound,
    once,
    sent_ids_by_notification,
)

pytestmark = pytest.mark.unit


@pytest.fixture(params=NETBOX_MODES)
def netbox_mode(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.fixture
def world(netbox_mode: str) -> FakeOutbound:
    """With ETags and If-Match (4.6+) and without (4.5), as the real tests run."""
    return FakeOutbound.in_mode(netbox_mode)


# --- a run killed after each step, then the next run (test_crashes.py) -------------------------------------


def crash_then_recover(world: FakeOutbound, step: str) -> tuple[int, OutboundDeps]:
    [notification_id] = world.ready()
    crashing = world.deps()
    crashing.hooks = (StopAfter(step),)
    with pytest.raises(StopRun):
        send_ready(crashing)
    return notification_id, world.deps()


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_crash_after_a_step_ends_with_exactly_one_mail(world: FakeOutbound, step: str) -> None:
    notification_id, deps = crash_then_recover(world, step)
    if step != "mark_sent":
        # The dead run's lease still holds: an overlapping run leaves the notification alone.
        assert [(a.result) for a in send_ready(deps)] == ["held"]
    world.clock.advance(LEASE_SECONDS + 1)

    outcomes = send_ready(deps)

    assert world.sent_notification_ids() == [notification_id]
    assert world.status(notification_id) == "sent"
    assert outcomes == (
        [] if step == "mark_sent" else [Sent(notification_id, (world.ses.sent[0].message_id,), 2)]
    )
    assert send_ready(deps) == []
    assert len(world.ses.sent) == 1
    assert world.ses.sent[0].message_id in world.journal(notification_id)


def test_crash_after_the_claim_is_released_leaves_nothing_to_do(world: FakeOutbound) -> None:
    notification_id, deps = crash_then_recover(world, "release")
    world.clock.advance(LEASE_SECONDS + 1)
    assert send_ready(deps) == []
    assert world.sent_notification_ids() == [notification_id]
    assert world.status(notification_id) == "sent"


def test_crash_after_ses_took_the_mail_uses_the_send_event_as_evidence(world: FakeOutbound) -> None:
    notification_id, deps = crash_then_recover(world, "ses_accepted")
    [mail] = world.ses.sent
    world.clock.advance(LEASE_SECONDS + 1)
    # No id recorded and no event yet: the part may have gone, so it is not sent again for now.
    [waiting] = send_ready(deps)
    assert isinstance(waiting, Skipped) and waiting.result == "awaiting_ses_evidence"
    assert waiting.until is not None and waiting.until > world.clock()

    # SES's Send event reaches the tracking flow, which records it as evidence.
    deps.claims.record_send_evidence(notification_id, mail.message_id, world.event_tags())
    assert deps.claims.shows_send(notification_id, mail.message_id)
    [outcome] = send_ready(deps)

    assert outcome == Sent(notification_id, (mail.message_id,), 2)
    assert len(world.ses.sent) == 1
    assert world.status(notification_id) == "sent"
    assert mail.message_id in world.journal(notification_id)


def test_evidence_of_another_round_or_part_does_not_count(world: FakeOutbound) -> None:
    notification_id, deps = crash_then_recover(world, "ses_accepted")
    assert len(world.ses.sent) == 1
    world.clock.advance(LEASE_SECONDS + 1)
    tags = world.event_tags()
    deps.claims.record_send_evidence(notification_id, "other-round", tags | {"outbound_round": ["1999"]})
    deps.claims.record_send_evidence(notification_id, "other-part", tags | {"outbound_part": ["2"]})
    assert [a.result for a in send_ready(deps)] == ["awaiting_ses_evidence"]
    assert len(world.ses.sent) == 1


class DiesInsideTheSend:
    """The process dies while handing the mail to SES, before SES got it."""

    def send_raw(self, raw: bytes, **_: Any) -> SentMessage:
        raise StopRun("inside SendEmail")


def test_crash_inside_the_send_call_waits_the_bound_then_sends(world: FakeOutbound) -> None:
    """The run died while handing the mail to SES, and SES never got it: no id, and no event ever comes.
    After the bounded wait the next run concludes SES did not take it, and sends."""
    [notification_id] = world.ready()
    crashing = world.deps(sender=DiesInsideTheSend())
    with pytest.raises(StopRun):
        send_ready(crashing)
    assert world.ses.sent == []
    claim = crashing.claims.get(notification_id)
    assert claim is not None and claim.inflight == 1 and claim.state is ClaimState.SENDING

    deps = world.deps()
    world.clock.advance(LEASE_SECONDS + 1)
    assert [a.result for a in send_ready(deps)] == ["awaiting_ses_evidence"]
    world.clock.advance(deps.claims.evidence_wait_seconds)
    [outcome] = send_ready(deps)

    assert isinstance(outcome, Sent)
    assert world.sent_notification_ids() == [notification_id]
    assert world.status(notification_id) == "sent"


# --- races (test_race.py) ---------------------------------------------------------------------------------


def test_webhook_racing_two_schedules_sends_each_notification_once(world: FakeOutbound) -> None:
    ids = world.ready(RACING_NOTIFICATIONS)
    start = threading.Barrier(3, timeout=30)
    results: dict[str, list[Any]] = {}

    def schedule(name: str) -> None:
        deps = world.deps(workers=3)
        start.wait()
        results[name] = send_ready(deps)

    def webhooks() -> None:
        deps = world.deps(workers=3)
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
        thread.join(timeout=60)

    assert sorted(results) == ["schedule-1", "schedule-2", "webhook"]  # no thread died
    assert Counter(world.sent_notification_ids()) == Counter(ids)  # each exactly once
    outcomes: list[Attempt] = [outcome for found in results.values() for outcome in found]
    sent = Counter(outcome.notification_id for outcome in outcomes if outcome.result == "sent")
    assert sent == Counter(ids)
    assert {outcome.result for outcome in outcomes} <= {"sent", "held", "done", "not_ready"}
    assert {item.status for item in world.notices.prepared_notifications()} == {"sent"}


def test_a_mark_that_finds_the_notification_moved_on_leaves_it_there(world: FakeOutbound) -> None:
    [notification_id] = world.ready()
    deps = world.deps()
    deps.hooks = (AfterStep("send", once(lambda: world.moved_on_by_tracking(notification_id))),)

    outcome = send_one(notification_id, deps)

    assert isinstance(outcome, Sent) and world.sent_notification_ids() == [notification_id]
    assert world.status(notification_id) == "delivered"
    assert "Sent via SES" not in world.journal(notification_id)
    assert send_one(notification_id, world.deps()).result == "not_ready"
    assert len(world.ses.sent) == 1


def test_a_mark_that_meets_a_new_approval_leaves_that_approval_to_the_next_run(
    world: FakeOutbound, netbox_mode: str
) -> None:
    """With If-Match NetBox refuses the PATCH; without, the PATCH marks it, its answer shows the new
    approval, and it is put back."""
    [notification_id] = world.ready()
    first_approval = world.notices.get_prepared_notification(notification_id).approved_at
    deps = world.deps()
    deps.hooks = (AfterStep("send", once(lambda: world.approve_again(notification_id))),)

    assert isinstance(send_one(notification_id, deps), Sent) and len(world.ses.sent) == 1
    after = world.notices.get_prepared_notification(notification_id)
    assert after.status == "ready"
    assert after.approved_at is not None and first_approval is not None and after.approved_at > first_approval
    assert ("Marked sent by mistake" in world.journal(notification_id)) == (netbox_mode == NO_ETAG)

    assert isinstance(send_one(notification_id, world.deps()), Sent)
    assert world.sent_notification_ids() == [notification_id, notification_id]  # one mail per approval
    assert world.status(notification_id) == "sent"


# --- bulk marking (test_bulk_marking.py), on NetBox 4.7 with ETags ------------------------------------------


class Recorded:
    """FakeNotices as the flow sees it, with its writes and reads of one notification recorded the way the
    real tests count requests at a proxy: ("bulk", ids), ("patch", id), ("get", id). `before_bulk` runs
    once, just before the first bulk PATCH naming `changing` (a concurrent writer)."""

    def __init__(
        self, notices: FakeNotices, before_bulk: Callable[[], None] | None = None, changing: int = -1
    ) -> None:
        self.inner = notices
        self.before_bulk, self.changing = before_bulk, changing
        self.calls: list[tuple[str, Any]] = []

    def mark_sent_many(self, messages: Mapping[int, str]) -> list[NotificationVersion]:
        if self.before_bulk is not None and self.changing in messages:
            self.before_bulk()
            self.changing = -1
        self.calls.append(("bulk", tuple(messages)))
        return self.inner.mark_sent_many(messages)

    def transition(
        self, notification_id: int, status: NotificationStatus, **kwargs: Any
    ) -> PreparedNotification:
        self.calls.append(("patch", notification_id))
        return self.inner.transition(notification_id, status, **kwargs)

    def get_prepared_notification(self, notification_id: int) -> PreparedNotification:
        self.calls.append(("get", notification_id))
        return self.inner.get_prepared_notification(notification_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def requests(self, kind: str) -> list[Any]:
        return [target for seen, target in self.calls if seen == kind]


def recorded_deps(world: FakeOutbound, notices: Recorded, **kwargs: Any) -> OutboundDeps:
    deps = world.deps(**kwargs)
    deps.notices = notices  # type: ignore[assignment]  # NoticesApi's methods, recorded
    return deps


def test_thirty_notifications_are_marked_in_a_few_bulk_patches_each_with_its_own_ses_ids() -> None:
    world = FakeOutbound()
    ids = world.ready(30)
    notices = Recorded(world.notices)

    outcomes = send_ready(recorded_deps(world, notices, workers=8))

    sent = sent_ids_by_notification(outcomes)
    assert sorted(sent) == sorted(ids)
    assert len(world.ses.sent) == 30
    bulk, single = notices.requests("bulk"), notices.requests("patch")
    assert single == [] and 1 <= len(bulk) < 30
    for notification_id in ids:
        assert world.status(notification_id) == "sent"
        [message_id] = sent[notification_id]
        journal = world.journal(notification_id)
        assert journal.count("Status: ready → sent") == 1 and message_id in journal


def test_a_bulk_patch_netbox_refuses_goes_again_without_what_it_refused_and_nothing_moves_back() -> None:
    world = FakeOutbound()
    ids = world.ready(4)
    moving = ids[1]
    notices = Recorded(world.notices, lambda: world.moved_on_by_tracking(moving), moving)

    outcomes = send_ready(recorded_deps(world, notices, workers=4))

    assert sorted(sent_ids_by_notification(outcomes)) == sorted(ids)
    assert len(world.ses.sent) == 4
    assert len(notices.requests("bulk")) >= 2  # the refused one, and its batch again without `moving`
    assert notices.requests("patch") == [moving]  # only what NetBox refused goes alone
    assert world.status(moving) == "delivered"
    assert "Sent via SES" not in world.journal(moving)
    for notification_id in ids:
        if notification_id != moving:
            assert world.status(notification_id) == "sent"
            journal = world.journal(notification_id)
            assert journal.count("Status: ready → sent") == 1 and "Sent via SES" in journal


def test_a_bulk_patch_that_lands_on_a_new_approval_puts_it_back_for_the_next_run() -> None:
    world = FakeOutbound()
    [notification_id] = world.ready()
    notices = Recorded(world.notices, lambda: world.approve_again(notification_id), notification_id)
    deps = recorded_deps(world, notices)
    first_approval = world.notices.get_prepared_notification(notification_id).approved_at

    [first] = send_ready(deps)

    assert isinstance(first, Sent) and len(world.ses.sent) == 1
    after = world.notices.get_prepared_notification(notification_id)
    assert after.status == "ready" and after.approved_at is not None and first_approval is not None
    assert after.approved_at > first_approval
    assert "Marked sent by mistake" in world.journal(notification_id)
    [second] = send_ready(world.deps())  # the next run sends the approval nobody sent
    assert isinstance(second, Sent) and len(world.ses.sent) == 2
    assert world.status(notification_id) == "sent"


def sent_not_marked(world: FakeOutbound, deps: OutboundDeps) -> list[Delivery]:
    """Every ready notification through the sending steps: sent, not yet marked."""
    deliveries = []
    for notification in deps.notices.ready_notifications():
        delivery = Delivery(notification, round_of(notification))
        assert run_steps(delivery, deps, SENDING) is None
        deliveries.append(delivery)
    return deliveries


def marked_with_one_moved_on(names_refused: bool) -> tuple[FakeOutbound, Recorded, list[int], list[Attempt]]:
    """Ten notifications sent, one of them moved on by tracking before the bulk PATCH, then marked."""
    world = FakeOutbound()
    world.notices.names_refused = names_refused
    ids = world.ready(10)
    notices = Recorded(world.notices)
    deps = recorded_deps(world, notices)
    deliveries = sent_not_marked(world, deps)
    world.moved_on_by_tracking(ids[3])
    notices.calls.clear()
    return world, notices, ids, mark_in_bulk(deliveries, deps)


def test_a_refused_batch_costs_two_bulk_patches_and_one_read_and_patch_per_refused_notification() -> None:
    """NetBox 4.7 names the refused notification; the nine go again in bulk, the one alone. One by one it
    would be the refused PATCH, ten single PATCHes and a read."""
    world, notices, ids, outcomes = marked_with_one_moved_on(names_refused=True)
    moving = ids[3]

    assert sorted(sent_ids_by_notification(outcomes)) == sorted(ids)
    assert notices.calls == [
        ("bulk", tuple(ids)),  # refused: 400 naming `moving`
        ("bulk", tuple(number for number in ids if number != moving)),  # the nine
        ("patch", moving),  # 412: it changed since it was listed
        ("get", moving),  # delivered: moved on, nothing more
    ]
    assert world.status(moving) == "delivered"
    assert {world.status(number) for number in ids if number != moving} == {"sent"}


def test_a_refused_batch_on_a_netbox_naming_none_marks_each_notification_alone() -> None:
    """NetBox before 4.7 refuses the batch without saying which: each goes alone with its If-Match."""
    world, notices, ids, outcomes = marked_with_one_moved_on(names_refused=False)
    moving = ids[3]

    assert sorted(sent_ids_by_notification(outcomes)) == sorted(ids)
    assert notices.requests("bulk") == [tuple(ids)]
    assert sorted(notices.requests("patch")) == sorted(ids)
    assert notices.requests("get") == [moving]
    assert len(notices.calls) == 1 + len(ids) + 1
    assert world.status(moving) == "delivered"
    assert "Sent via SES" not in world.journal(moving)
    for number in ids:
        if number != moving:
            assert world.status(number) == "sent"
            assert world.journal(number).count("Status: ready → sent") == 1


# --- faults (test_faults.py) ------------------------------------------------------------------------------


def test_throttled_send_is_retried_and_sent_once() -> None:
    world = FakeOutbound()
    [notification_id] = world.ready()
    world.ses.fail_transiently("Throttling", times=1)

    [outcome] = send_ready(world.deps())

    assert isinstance(outcome, Sent)
    assert world.ses.calls == 2  # the throttled attempt, then the one SES took
    assert len(world.ses.sent) == 1
    assert world.status(notification_id) == "sent"


def test_throttling_that_outlasts_the_retries_is_sent_by_the_next_run() -> None:
    world = FakeOutbound(ses=FakeSesSender(verified={FROM}, attempts=2))
    [notification_id] = world.ready()
    world.ses.fail_transiently("TooManyRequestsException", times=2)
    deps = world.deps()

    [failed] = send_ready(deps)

    assert isinstance(failed, Failed) and "TooManyRequests" in failed.error
    assert world.ses.calls == 2 and world.ses.sent == []
    claim = deps.claims.get(notification_id)
    assert claim is not None and claim.inflight is None and claim.lease_until == 0  # SES said no
    [outcome] = send_ready(deps)  # the next poll, at once: nothing to wait for
    assert isinstance(outcome, Sent)
    assert len(world.ses.sent) == 1


def test_rejected_mail_is_journaled_backed_off_and_not_resent_every_poll() -> None:
    world = FakeOutbound()
    [notification_id] = world.ready()
    deps = world.deps(SES_FROM_ADDRESS="unverified@elsewhere.example")  # SES answers MessageRejected

    [outcome] = send_ready(deps)

    assert isinstance(outcome, Rejected) and "MessageRejected" in outcome.reason
    assert outcome.retry_at == pytest.approx(world.clock() + FIRST_BACKOFF_SECONDS)
    assert "Not sent: SES MessageRejected" in world.journal(notification_id)
    assert world.status(notification_id) == "ready"  # the plugin has no ready → failed
    calls = world.ses.calls
    assert [a.result for a in send_ready(deps)] == ["backing_off"]
    assert world.ses.calls == calls  # SES was not asked again
    claim = deps.claims.get(notification_id)
    assert claim is not None and claim.state is ClaimState.REJECTED and "MessageRejected" in claim.reason

    world.clock.advance(FIRST_BACKOFF_SECONDS + 1)
    [again] = send_ready(deps)
    assert isinstance(again, Rejected)
    assert again.retry_at == pytest.approx(world.clock() + 2 * FIRST_BACKOFF_SECONDS)  # doubled

    world.clock.advance(2 * FIRST_BACKOFF_SECONDS + 1)
    [sent] = send_ready(world.deps(SES_FROM_ADDRESS=FROM))  # the operator fixed the sender
    assert isinstance(sent, Sent)
    assert len(world.ses.sent) == 1


class NetBoxDown:
    """FakeNotices behind a NetBox that answers 503 to everything once `down` is set (retries exhausted)."""

    def __init__(self, notices: FakeNotices) -> None:
        self.inner = notices
        self.down = False

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if not self.down or not callable(found):
            return found

        def unavailable(*_: Any, **__: Any) -> Any:
            raise NetBoxServerError(503, "PATCH", name, {"detail": "Service Unavailable"})

        return unavailable


def test_patch_failing_for_good_is_finished_by_the_next_run_without_a_second_mail() -> None:
    world = FakeOutbound()
    [notification_id] = world.ready()
    netbox = NetBoxDown(world.notices)
    deps = world.deps()
    deps.notices = netbox  # type: ignore[assignment]  # NoticesApi's methods, failing on demand
    deps.hooks = (AfterStep("send", lambda _: setattr(netbox, "down", True)),)

    [failed] = send_ready(deps)

    assert isinstance(failed, Failed)
    assert world.status(notification_id) == "ready"
    claim = deps.claims.get(notification_id)
    assert claim is not None and claim.state is ClaimState.SENT and claim.lease_until == 0
    netbox.down = False
    deps.hooks = ()
    [outcome] = send_ready(deps)  # the next poll: the ids are recorded, only the PATCH is left
    assert isinstance(outcome, Sent)
    assert len(world.ses.sent) == 1
    assert world.status(notification_id) == "sent"
