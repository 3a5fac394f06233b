"""The tracking rule on its own: every case of docs/tracking.md, and 200 seeded shuffles of realistic event
sets (with every event delivered twice) giving the same final state and no duplicate journal entry.

The shuffles drive `decide` with the ledger merged in process and a small model of the plugin's state
machine; test_netbox_flow.py runs fewer shuffles through SNS → SQS → the real NetBox."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sesflow.local import ses_events as ses
from sesflow.netbox.records import NotificationStatus
from sesflow.notices.tracking.events import EventType, Observation, SesEvent, read_ses_event
from sesflow.notices.tracking.ledger import Failure, Ledger
from sesflow.notices.tracking.outcomes import Decision, JournalNote, Transition
from sesflow.notices.tracking.rule import NotificationView, clamp, decide

from .scenarios import all_delivered, latest_delivery, one_bounce

pytestmark = pytest.mark.unit

APPROVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SENT = APPROVED + timedelta(seconds=2)
NOW = SENT + timedelta(hours=1)
RECIPIENTS = ("noc@example.net", "oncall@example.net", "field@example.org")
ALLOWED = {
    "ready": {"sent"},
    "sent": {"delivered", "failed"},
    "failed": {"ready"},
}


@dataclass
class PluginModel:
    """The plugin's rules for a prepared notification, enough to catch a write NetBox would refuse."""

    status: str = "sent"
    approved_at: datetime = APPROVED
    sent_at: datetime | None = SENT
    delivered_at: datetime | None = None
    final_at: datetime | None = None
    journal: list[str] = field(default_factory=list)

    def view(self) -> NotificationView:
        return NotificationView(1, self.status, RECIPIENTS, self.approved_at, self.sent_at, NOW)

    def apply(self, decision: Decision) -> None:
        for action in decision.actions:
            if isinstance(action, JournalNote):
                self.journal.append(action.comments)
                continue
            assert action.status in ALLOWED.get(self.status, set()), (self.status, action.status)
            assert action.timestamp <= NOW
            if action.status == NotificationStatus.SENT:
                assert action.timestamp >= self.approved_at
                self.sent_at = self.sent_at or action.timestamp
            else:
                assert self.sent_at is not None and action.timestamp >= self.sent_at
                self.final_at = action.timestamp
                if action.status == NotificationStatus.DELIVERED:  # the plugin keeps no time for `failed`
                    self.delivered_at = self.delivered_at or action.timestamp
            self.journal.append(f"Status: {self.status} → {action.status}\n{action.message}")
            self.status = action.status


def recorded(event: SesEvent, observation: Observation, ledger: Ledger) -> Ledger:
    """The ledger as the flow's `record` step leaves it (the first outcome of each kind kept)."""
    if event.type is EventType.DELIVERY:
        return ledger.with_delivery(observation.recipient, observation.timestamp)
    if event.is_failure:
        failure = Failure(str(event.type), observation.detail, observation.timestamp)
        return ledger.with_failure(observation.recipient, failure)
    return ledger


def run(events: list[dict[str, Any]], model: PluginModel, *, send_shown: bool = True) -> PluginModel:
    """The flow's dedupe → record → decide → apply, in process."""
    ledger = Ledger()
    done: set[str] = set()
    for raw in events:
        event = read_ses_event(raw)
        for observation in event.observations:
            identity = event.identity(observation)
            if identity in done:
                continue
            ledger = recorded(event, observation, ledger)
            decision = decide(
                event,
                observation,
                ledger,
                model.view(),
                send_shown=send_shown,
                marker=f"(event {identity[:12]})",
            )
            if decision.retry_later:
                continue
            model.apply(decision)
            done.add(identity)
    return model


def _event(raw: dict[str, Any]) -> SesEvent:
    return read_ses_event(raw)


MAIL = ses.mail_object("m-1", RECIPIENTS, sent=SENT, tags={"notification_id": ["1"]})


@pytest.mark.parametrize("seed", range(200))
def test_shuffled_bounce_set_always_ends_failed_with_one_entry_per_fact(seed: int) -> None:
    events = one_bounce(1, RECIPIENTS, SENT, "m-1")
    shuffled = events * 2
    random.Random(seed).shuffle(shuffled)
    model = run(shuffled, PluginModel())
    assert model.status == "failed"
    assert model.final_at == SENT + timedelta(milliseconds=200)  # the bounce's own time
    assert len(model.journal) == len(set(model.journal))
    failed = [entry for entry in model.journal if entry.startswith("Status: sent → failed")]
    assert len(failed) == 1
    assert "field@example.org" in failed[0] and "mailbox unknown" in failed[0]
    for prefix in ("[SES Send]", "[SES DeliveryDelay]", "[SES Open]", "[SES Click]"):
        assert sum(entry.startswith(prefix) for entry in model.journal) == 1, prefix
    # Each delivery is either in the failure's message or journaled after it: never lost, never twice.
    for address in RECIPIENTS[:2]:
        mentions = [entry for entry in model.journal if address in entry]
        assert len(mentions) == 1, (address, mentions)


@pytest.mark.parametrize("seed", range(200))
def test_shuffled_delivery_set_always_ends_delivered_at_the_last_delivery(seed: int) -> None:
    events = all_delivered(1, RECIPIENTS, SENT, "m-1")
    shuffled = events * 2
    random.Random(seed).shuffle(shuffled)
    model = run(shuffled, PluginModel())
    assert model.status == "delivered"
    assert model.delivered_at == latest_delivery(events)
    assert len(model.journal) == len(set(model.journal))
    assert sum(entry.startswith("Status: sent → delivered") for entry in model.journal) == 1
    assert sum("MailboxFull" in entry or "mailbox full" in entry for entry in model.journal) == 1


def test_early_delivery_completes_the_send_when_the_claim_shows_it() -> None:
    model = PluginModel(status="ready", sent_at=None)
    run([ses.delivery_event(MAIL, RECIPIENTS, at=SENT + timedelta(seconds=1))], model, send_shown=True)
    assert model.status == "delivered"
    assert model.sent_at == SENT  # SES's send time, not processing time
    assert any("Sent via SES (MessageId: m-1)" in entry for entry in model.journal)


def test_early_delivery_without_evidence_waits() -> None:
    event = _event(ses.delivery_event(MAIL, RECIPIENTS, at=SENT))
    decision = decide(
        event,
        event.observations[0],
        Ledger(),
        PluginModel(status="ready", sent_at=None).view(),
        send_shown=False,
        marker="(event x)",
    )
    assert decision.retry_later and decision.actions == ()


def test_send_event_completes_ready_even_without_a_claim() -> None:
    model = run([ses.send_event(MAIL)], PluginModel(status="ready", sent_at=None), send_shown=False)
    assert model.status == "sent" and model.sent_at == SENT


@pytest.mark.parametrize("status", ["draft"])
def test_a_draft_is_never_touched(status: str) -> None:
    event = _event(ses.send_event(MAIL))
    view = replace(PluginModel().view(), status=status)
    assert decide(event, event.observations[0], Ledger(), view, send_shown=True, marker="m").retry_later


def test_transient_bounce_and_delay_only_warn() -> None:
    model = run(
        [
            ses.bounce_event(MAIL, [RECIPIENTS[0]], at=SENT, bounce_type="Transient"),
            ses.bounce_event(MAIL, [RECIPIENTS[1]], at=SENT, bounce_type="Undetermined"),
            ses.delivery_delay_event(MAIL, [RECIPIENTS[2]], at=SENT),
        ],
        PluginModel(),
    )
    assert model.status == "sent"
    assert len(model.journal) == 3


@pytest.mark.parametrize(
    "raw",
    [
        ses.bounce_event(MAIL, [RECIPIENTS[0]], at=SENT + timedelta(minutes=5)),
        ses.complaint_event(MAIL, [RECIPIENTS[0]], at=SENT + timedelta(minutes=5)),
    ],
)
def test_a_failure_after_delivered_is_journaled_and_the_status_stays(raw: dict[str, Any]) -> None:
    model = run([ses.delivery_event(MAIL, RECIPIENTS, at=SENT + timedelta(seconds=1)), raw], PluginModel())
    assert model.status == "delivered"
    late = [entry for entry in model.journal if "after the notification was delivered" in entry]
    assert len(late) == 1 and RECIPIENTS[0] in late[0]


@pytest.mark.parametrize("raw", [ses.reject_event(MAIL, "Bad content"), ses.rendering_failure_event(MAIL)])
def test_reject_and_rendering_failure_fail_the_notification(raw: dict[str, Any]) -> None:
    model = run([raw], PluginModel())
    assert model.status == "failed"
    assert model.final_at == SENT


def test_timestamps_are_clamped_to_netbox_time_and_the_send() -> None:
    assert clamp(NOW + timedelta(days=1), SENT, NOW) == NOW
    assert clamp(SENT - timedelta(days=1), SENT, NOW) == SENT
    assert clamp(SENT + timedelta(seconds=1), SENT, NOW) == SENT + timedelta(seconds=1)


def test_a_delivery_dated_in_netbox_future_is_clamped() -> None:
    future = NOW + timedelta(minutes=3)  # SES's clock ahead of NetBox's
    model = run([ses.delivery_event(MAIL, RECIPIENTS, at=future)], PluginModel())
    assert model.status == "delivered" and model.delivered_at == NOW


def test_transition_messages_carry_the_marker() -> None:
    event = _event(ses.delivery_event(MAIL, RECIPIENTS, at=SENT))
    ledger = Ledger({address: SENT for address in RECIPIENTS})
    decision = decide(
        event, event.observations[0], ledger, PluginModel().view(), send_shown=True, marker="(event abc)"
    )
    assert isinstance(decision.actions[0], Transition)
    assert decision.actions[0].message.endswith("(event abc)")


@pytest.mark.parametrize("status", ["ready", "sent", "delivered"])
def test_an_event_of_an_earlier_round_is_journaled_and_changes_nothing(status: str) -> None:
    old = ses.mail_object(
        "m-0", RECIPIENTS, sent=SENT, tags={"notification_id": ["1"], "outbound_round": ["r0"]}
    )
    event = _event(ses.delivery_event(old, RECIPIENTS, at=SENT))
    view = replace(PluginModel(status=status).view(), round="r1")
    ledger = Ledger({address: SENT for address in RECIPIENTS})
    decision = decide(event, event.observations[0], ledger, view, send_shown=True, marker="(event e)")
    assert decision.verdict == "earlier_round"
    assert [type(action) for action in decision.actions] == [JournalNote]
    assert "round r0" in decision.actions[0].comments  # type: ignore[union-attr]
    same = replace(view, round="r0")
    assert (
        decide(event, event.observations[0], ledger, same, send_shown=True, marker="m").verdict
        != "earlier_round"
    )
