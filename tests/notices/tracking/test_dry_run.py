"""A dry run is the flow's own steps with adapters that read and write nothing: before each event of the
tracking scenarios, the dry run reaches the decision the real run then reaches, and leaves no trace."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sesflow.local import ses_events as ses
from sesflow.notices.tracking.dry_run import DryRunNotifications, dry_run_deps
from sesflow.notices.tracking.events import read_ses_event
from sesflow.notices.tracking.outcomes import Tracked
from sesflow.notices.tracking.pipeline import track

from .fake_world import RECIPIENTS, FakeWorld
from .scenarios import all_delivered, one_bounce

pytestmark = pytest.mark.unit

APPROVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SENT = APPROVED + timedelta(seconds=2)
NOW = SENT + timedelta(hours=1)


def decisions(outcomes: list[Tracked]) -> list[tuple[str, str, tuple[Any, ...], bool]]:
    return [(str(o.verdict), o.recipient, o.actions, o.retry) for o in outcomes]


def replay_both_ways(events: list[dict[str, Any]], world: FakeWorld) -> list[str]:
    """Each event dry, then for real (an event told to wait comes again at the end, as SQS redelivers it);
    returns the real run's verdicts."""
    queue, verdicts = list(events), []
    deps = world.deps
    for _ in range(4 * len(events)):
        if not queue:
            break
        raw = queue.pop(0)
        event = read_ses_event(raw)
        before = world.state()
        planned = track(event, dry_run_deps(deps))
        assert world.state() == before  # the dry run wrote nothing
        done = track(event, deps)
        assert decisions(planned) == decisions(done), event.type
        verdicts += [str(o.verdict) for o in done]
        if any(o.retry for o in done):
            queue.append(raw)
    assert not queue, "events still waiting"
    return verdicts


def world_with(*, sent: bool, recipients: tuple[str, ...] = RECIPIENTS) -> tuple[FakeWorld, int]:
    """A prepared notification approved at APPROVED, marked sent at SENT or still ready; NetBox's clock at
    NOW."""
    world = FakeWorld.at(APPROVED)
    ready = world.ready(recipients)
    if sent:
        world.clock.now = SENT
        world.mark_sent(ready.id)
    world.clock.now = NOW
    return world, ready.id


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("scenario", [one_bounce, all_delivered], ids=["one_bounce", "all_delivered"])
def test_the_dry_run_reaches_the_real_runs_decision_for_each_event(scenario: Any, seed: int) -> None:
    world, notification_id = world_with(sent=True)
    shuffled = scenario(notification_id, RECIPIENTS, SENT, "m-1") * 2
    random.Random(seed).shuffle(shuffled)
    verdicts = replay_both_ways(shuffled, world)
    assert "duplicate" in verdicts
    assert world.status(notification_id) == ("failed" if scenario is one_bounce else "delivered")


@pytest.mark.parametrize("seed", range(10))
def test_the_dry_run_agrees_on_events_that_beat_the_send(seed: int) -> None:
    world, notification_id = world_with(sent=False)
    shuffled = all_delivered(notification_id, RECIPIENTS, SENT, "m-1")
    random.Random(seed).shuffle(shuffled)
    replay_both_ways(shuffled, world)
    assert world.status(notification_id) == "delivered"


def test_the_dry_run_sees_its_own_writes_within_one_run() -> None:
    """A replay of several events reads what the earlier ones would have written."""
    world, notification_id = world_with(sent=False, recipients=RECIPIENTS[:1])
    journal = world.journal(notification_id)
    mail = ses.mail_object("m-1", RECIPIENTS[:1], sent=SENT, tags={"notification_id": [str(notification_id)]})
    dry = dry_run_deps(world.deps)
    send, delivery = ses.send_event(mail), ses.delivery_event(mail, RECIPIENTS[:1], at=SENT)
    planned = [*track(read_ses_event(send), dry), *track(read_ses_event(delivery), dry)]
    assert [str(o.verdict) for o in planned] == ["sent+journal", "delivered"]
    assert [str(o.verdict) for o in track(read_ses_event(delivery), dry)] == ["duplicate"]
    assert world.status(notification_id) == "ready" and world.journal(notification_id) == journal
    assert isinstance(dry.notifications, DryRunNotifications) and len(dry.notifications.written) == 3
