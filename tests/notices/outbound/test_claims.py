"""The claim table on moto's DynamoDB: one winner per round, leases that run out, rounds, evidence."""

from __future__ import annotations

import threading

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.notices.claims import (
    FIRST_BACKOFF_SECONDS,
    LEASE_SECONDS,
    PART_TAG,
    ROUND_TAG,
    Claim,
    ClaimState,
    ClaimTable,
    LeaseLost,
    NotClaimed,
)

from .conftest import TABLE, AtomicDynamoDB, ManualClock

pytestmark = pytest.mark.integration

ROUND = "20261123T120000000000Z"


@pytest.fixture
def claims(ses_ready: AwsClients, clock: ManualClock) -> ClaimTable:
    return ClaimTable(TABLE, AtomicDynamoDB(ses_ready.dynamodb), clock=clock)  # type: ignore[arg-type]


def won(result: Claim | NotClaimed) -> Claim:
    assert isinstance(result, Claim), result
    return result


def test_of_many_racing_runs_exactly_one_wins(claims: ClaimTable) -> None:
    results: list[Claim | NotClaimed] = []
    start = threading.Barrier(8)

    def race() -> None:
        start.wait()
        results.append(claims.acquire(7, ROUND))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(result, Claim) for result in results) == 1
    assert {result.why for result in results if isinstance(result, NotClaimed)} == {"held"}


def test_a_lease_that_ran_out_is_taken_over_and_the_old_owner_is_stopped(
    claims: ClaimTable, clock: ManualClock
) -> None:
    first = won(claims.acquire(7, ROUND))
    assert claims.acquire(7, ROUND) == NotClaimed(7, "held", first.lease_until, first)
    clock.advance(LEASE_SECONDS + 1)
    second = won(claims.acquire(7, ROUND))
    assert second.taken_over
    with pytest.raises(LeaseLost):
        claims.begin_part(first, 1)
    claims.begin_part(second, 1)


def test_recorded_parts_and_done(claims: ClaimTable, clock: ManualClock) -> None:
    claim = won(claims.acquire(7, ROUND))
    claims.begin_part(claim, 1)
    claims.record_part(claim, 1, "ses-1", last=False)
    claims.record_part(claim, 2, "ses-2", last=True)
    claims.record_part(claim, 2, "ses-2", last=True)  # idempotent
    stored = claims.get(7)
    assert stored is not None and stored.state is ClaimState.SENT
    assert stored.sent == {1: "ses-1", 2: "ses-2"} and stored.inflight is None
    assert claims.shows_send(7, "ses-2") and not claims.shows_send(7, "ses-3")
    claims.done(claim)
    clock.advance(10 * LEASE_SECONDS)
    assert isinstance(claims.acquire(7, ROUND), NotClaimed)


def test_a_new_round_starts_afresh_and_keeps_older_evidence_apart(claims: ClaimTable) -> None:
    claim = won(claims.acquire(7, ROUND))
    claims.record_part(claim, 1, "ses-1", last=True)
    claims.done(claim)
    later = won(claims.acquire(7, "20261124T080000000000Z"))
    assert later.state is ClaimState.SENDING and later.sent == {} and not later.taken_over
    assert claims.shows_send(7, "ses-1")  # the older round's send is still known


def test_evidence_is_idempotent_and_kept_by_round_and_part(claims: ClaimTable) -> None:
    tags = {"notification_id": ["7"], ROUND_TAG: [ROUND], PART_TAG: ["2"], "ses:configuration-set": ["x"]}
    for _ in range(3):
        claims.record_send_evidence(7, "ses-9", tags)
    assert claims.shows_send(7, "ses-9")
    assert claims.evidence_for(7, ROUND) == {2: "ses-9"}
    assert claims.evidence_for(7, "other") == {}
    assert claims.get(7) is None  # evidence alone is no claim
    claim = won(claims.acquire(7, ROUND))
    assert claim.message_id(2) == "ses-9"


def test_evidence_without_our_round_tags_still_shows_the_send(claims: ClaimTable) -> None:
    claims.record_send_evidence(8, "ses-10", {"notification_id": ["8"]})
    assert claims.shows_send(8, "ses-10")
    assert claims.evidence_for(8, ROUND) == {}


def test_rejection_backs_off_doubling(claims: ClaimTable, clock: ManualClock) -> None:
    claim = won(claims.acquire(7, ROUND))
    first = claims.reject(claim, "SES MessageRejected: nope")
    held = claims.acquire(7, ROUND)
    assert isinstance(held, NotClaimed) and held.why == "backing_off" and held.until == first
    clock.advance(first - clock() + 1)
    again = won(claims.acquire(7, ROUND))
    assert again.state is ClaimState.SENDING and again.rejections == 1
    second = claims.reject(again, "SES MessageRejected: still no")
    assert second - clock() == pytest.approx(2 * FIRST_BACKOFF_SECONDS)
    stored = claims.get(7)
    assert stored is not None and stored.rejections == 2 and "still no" in stored.reason
