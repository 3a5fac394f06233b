"""The tracking ledger's contract, held by the DynamoDB adapter (moto's server) and by the in-memory one the
unit tests drive the flow with (`FakeTrackingLedger`): dedupe by event identity, the first outcome of each
recipient kept, messages placed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sesflow.aws.tracking_ledger import TrackingTable
from sesflow.notices.tracking.ledger import Failure, Ledger, TrackingLedger

from ...fakes.tracking_ledger import FakeTrackingLedger
from .conftest import TABLE, create_table

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(
    params=[
        pytest.param("dynamodb", marks=pytest.mark.integration),
        pytest.param("memory", marks=pytest.mark.unit),
    ]
)
def ledger(request: pytest.FixtureRequest) -> TrackingLedger:
    if request.param == "memory":
        return FakeTrackingLedger()
    aws = request.getfixturevalue("aws")
    create_table(aws)
    return TrackingTable(TABLE, aws.dynamodb)


def test_an_event_is_taken_once_then_held_then_done(ledger: TrackingLedger) -> None:
    assert ledger.claim_state("e1") == "fresh"
    assert ledger.claim("e1") == "fresh"
    assert ledger.claim_state("e1") == "busy"
    assert ledger.claim("e1") == "busy"
    ledger.finish("e1")
    assert ledger.claim("e1") == ledger.claim_state("e1") == "done"


def test_an_event_given_back_is_taken_again_as_a_replay(ledger: TrackingLedger) -> None:
    assert ledger.claim("e2") == "fresh"
    ledger.release("e2")
    assert ledger.claim_state("e2") == "replay"
    assert ledger.claim("e2") == "replay"
    assert ledger.claim("e2") == "busy"


def test_each_recipient_keeps_its_first_outcome_of_each_kind(ledger: TrackingLedger) -> None:
    ledger.record_delivery(1, "r1", "a@example.net", AT)
    ledger.record_delivery(1, "r1", "a@example.net", AT + timedelta(seconds=5))
    bounce = Failure("Bounce", "550 unknown", AT + timedelta(seconds=1))
    stored = ledger.record_failure(1, "r1", "b@example.net", bounce)
    ledger.record_failure(1, "r1", "b@example.net", Failure("Complaint", "abuse", AT + timedelta(seconds=9)))
    expected = Ledger({"a@example.net": AT}, {"b@example.net": bounce})
    assert Ledger.of(stored) == expected
    assert Ledger.of(ledger.outcomes(1, "r1")) == expected
    assert Ledger.of(ledger.outcomes(1, "r2")) == Ledger()  # another round starts empty


def test_a_message_is_placed_by_what_a_tagged_event_taught(ledger: TrackingLedger) -> None:
    assert ledger.message_owner("ses-1") is None
    ledger.remember_message("ses-1", 7, "r1")
    assert ledger.message_owner("ses-1") == (7, "r1")
