"""The tracking ledger port: what `TrackingTable` does on moto's DynamoDB, and what `FakeTrackingLedger`
must do the same way. Pinned: an event is taken once while its lease lives, a finished one is a duplicate,
a released or expired one is a replay; each recipient's first outcome per round is kept; an SES message is
placed by what was remembered of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from sesflow.aws.tracking_ledger import TrackingTable
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.notices.tracking.ledger import Failure, TrackingLedger
from sesflow.resources import RESOURCES

from ..fakes.tracking_ledger import FakeTrackingLedger

LEASE = 120.0
AT = datetime(2026, 11, 23, 12, 0, 5, 123000, tzinfo=UTC)


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Ledger:
    store: TrackingLedger
    clock: Clock


@pytest.fixture(
    params=[pytest.param("real", marks=pytest.mark.integration), pytest.param("fake", marks=pytest.mark.unit)]
)
def ledger(request: pytest.FixtureRequest) -> Ledger:
    clock = Clock()
    if request.param == "real":
        aws = request.getfixturevalue("aws")
        create_idempotency_table(aws)
        return Ledger(
            TrackingTable(RESOURCES.idempotency.name, aws.dynamodb, clock=clock, lease_seconds=LEASE), clock
        )
    return Ledger(FakeTrackingLedger(clock=clock, lease_seconds=LEASE), clock)


def test_an_event_is_taken_once_while_its_lease_lives(ledger: Ledger) -> None:
    assert ledger.store.claim_state("e1") == "fresh"
    assert ledger.store.claim("e1") == "fresh"
    assert ledger.store.claim("e1") == "busy"
    assert ledger.store.claim_state("e1") == "busy"
    assert ledger.store.claim("e2") == "fresh"


def test_an_event_whose_lease_ran_out_is_a_replay(ledger: Ledger) -> None:
    ledger.store.claim("e1")
    ledger.clock.now += LEASE + 1
    assert ledger.store.claim_state("e1") == "replay"
    assert ledger.store.claim("e1") == "replay"
    assert ledger.store.claim("e1") == "busy"  # taken again, with a new lease


def test_a_released_event_is_a_replay_at_once(ledger: Ledger) -> None:
    ledger.store.claim("e1")
    ledger.store.release("e1")
    assert ledger.store.claim("e1") == "replay"


def test_a_finished_event_is_a_duplicate_for_good(ledger: Ledger) -> None:
    ledger.store.claim("e1")
    ledger.store.finish("e1")
    ledger.clock.now += 10 * LEASE
    assert ledger.store.claim_state("e1") == "done"
    assert ledger.store.claim("e1") == "done"


def test_each_recipients_first_outcome_is_kept_per_round(ledger: Ledger) -> None:
    bounce = Failure("Bounce", "550 5.1.1 user unknown", AT + timedelta(seconds=1))
    assert ledger.store.record_delivery(7, "r1", "noc@example.net", AT) == ({"noc@example.net": AT}, {})
    ledger.store.record_delivery(7, "r1", "noc@example.net", AT + timedelta(hours=1))  # a later copy
    outcomes = ledger.store.record_failure(7, "r1", "field@example.org", bounce)
    assert outcomes == ({"noc@example.net": AT}, {"field@example.org": tuple(bounce)})
    ledger.store.record_failure(7, "r1", "field@example.org", Failure("Complaint", "abuse", AT))
    assert ledger.store.outcomes(7, "r1") == outcomes
    assert ledger.store.outcomes(7, "r2") == ({}, {})
    assert ledger.store.outcomes(8, "r1") == ({}, {})


def test_an_ses_message_is_placed_by_what_was_remembered(ledger: Ledger) -> None:
    assert ledger.store.message_owner("0100-abc") is None
    ledger.store.remember_message("0100-abc", 7, "r1")
    assert ledger.store.message_owner("0100-abc") == (7, "r1")
