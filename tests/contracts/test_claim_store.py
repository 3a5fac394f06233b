"""The claim store port: what `DynamoClaimStore` does on moto's DynamoDB, and what `FakeClaimStore` must do
the same way. Pinned: a claim is created only where nothing is kept, a change of owner only on the version
read, every owner's write refused (LeaseLost) once another run holds the claim, part ids recorded whoever
holds it, and tracking's evidence kept by round and part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from sesflow.aws.claim_store import Claim, ClaimState, DynamoClaimStore, LeaseLost, Takeover
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.notices.claims import Claims, ClaimStore, NotClaimed
from sesflow.resources import RESOURCES

from ..fakes.claim_store import FakeClaimStore

NOW = 1_800_000_000.0
LEASE = 300.0


@dataclass
class Clock:
    now: float = NOW

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Store:
    claims: ClaimStore
    clock: Clock

    def takeover(self, owner: str, version: int, *, fresh: bool = False, reopen: bool = False) -> Takeover:
        now = self.clock()
        return Takeover(owner, now + LEASE, now, version, fresh=fresh, reopen=reopen)


@pytest.fixture(
    params=[pytest.param("real", marks=pytest.mark.integration), pytest.param("fake", marks=pytest.mark.unit)]
)
def store(request: pytest.FixtureRequest) -> Store:
    clock = Clock()
    if request.param == "real":
        aws = request.getfixturevalue("aws")
        create_idempotency_table(aws)
        return Store(DynamoClaimStore(RESOURCES.idempotency.name, aws.dynamodb, clock=clock), clock)
    return Store(FakeClaimStore(clock=clock), clock)


def created(store: Store, owner: str = "run-a", round_id: str = "r1") -> Claim:
    claim = store.claims.create(7, round_id, owner, NOW + LEASE)
    assert claim is not None
    return claim


def test_a_claim_is_created_only_where_nothing_is_kept(store: Store) -> None:
    assert store.claims.read(7).claim is None and store.claims.read(7).version == 0
    claim = created(store)
    assert (claim.owner, claim.state, claim.version, claim.lease_until) == (
        "run-a",
        "sending",
        1,
        NOW + LEASE,
    )
    assert store.claims.create(7, "r1", "run-b", NOW + LEASE) is None
    store.claims.add_evidence(8, "r1", "0", "ses-1")
    assert store.claims.create(8, "r1", "run-b", NOW + LEASE) is None  # evidence alone is an item


def test_a_claim_reads_back_in_its_own_round_only(store: Store) -> None:
    claim = created(store)
    assert store.claims.read(7).claim == claim
    assert store.claims.read(7, "r1").claim == claim
    other_round = store.claims.read(7, "r2")
    assert (other_round.claim, other_round.version) == (None, 1)


def test_the_owner_changes_only_on_the_version_read(store: Store) -> None:
    created(store)
    taken = store.claims.take_over(7, "r1", store.takeover("run-b", 1))
    assert taken is not None
    assert (taken.owner, taken.version, taken.taken_over, taken.state) == ("run-b", 2, True, "sending")
    assert store.claims.take_over(7, "r1", store.takeover("run-c", 1)) is None  # read before run-b took it
    assert store.claims.read(7).claim == replace(taken, taken_over=False)


def test_a_claim_where_only_evidence_is_kept_is_taken_as_fresh(store: Store) -> None:
    store.claims.add_evidence(7, "r1", "0", "ses-1")
    assert store.claims.take_over(7, "r1", store.takeover("run-b", 1, fresh=True)) is None
    taken = store.claims.take_over(7, "r1", store.takeover("run-a", 0, fresh=True))
    assert taken is not None
    assert (taken.owner, taken.version, taken.state, taken.taken_over) == ("run-a", 1, "sending", False)
    assert taken.evidence == {0: "ses-1"}


def test_a_new_round_starts_afresh_and_keeps_the_old_rounds_ids_apart(store: Store) -> None:
    claim = created(store)
    store.claims.begin_part(claim, 0)
    store.claims.record_part(claim, 0, "ses-old", last=True)
    store.claims.reject(claim, "bounced", rejections=1, retry_at=NOW + 60)
    taken = store.claims.take_over(7, "r2", store.takeover("run-b", 1, fresh=True))
    assert taken is not None
    assert (taken.round, taken.state, taken.rejections, taken.retry_at, taken.reason) == (
        "r2",
        "sending",
        0,
        None,
        "",
    )
    assert (taken.sent, taken.inflight) == ({}, None)
    assert store.claims.shows_send(7, "ses-old") is True


def test_a_rejected_claim_is_reopened_with_its_rejections(store: Store) -> None:
    claim = created(store)
    store.claims.reject(claim, "", rejections=2, retry_at=NOW + 60)
    rejected = store.claims.read(7).claim
    assert rejected is not None
    assert (
        rejected.state,
        rejected.reason,
        rejected.rejections,
        rejected.retry_at,
        rejected.lease_until,
    ) == (
        "rejected",
        "rejected",
        2,
        NOW + 60,
        0.0,
    )
    reopened = store.claims.take_over(7, "r1", store.takeover("run-b", 1, reopen=True))
    assert reopened is not None and (reopened.state, reopened.rejections) == ("sending", 2)


def test_parts_in_flight_and_recorded(store: Store) -> None:
    claim = created(store)
    store.clock.now += 5
    store.claims.begin_part(claim, 0)
    in_flight = store.claims.read(7).claim
    assert in_flight is not None and (in_flight.inflight, in_flight.inflight_at) == (0, NOW + 5)
    store.claims.record_part(claim, 0, "ses-0", last=False)
    store.claims.begin_part(claim, 1)
    with pytest.raises(LeaseLost):
        store.claims.abandon_part(claim, 0)  # not the part in flight
    store.claims.abandon_part(claim, 1)
    store.claims.begin_part(claim, 1)
    store.claims.record_part(claim, 1, "ses-1", last=True)
    sent = store.claims.read(7).claim
    assert sent is not None
    assert (sent.state, sent.sent, sent.inflight, sent.inflight_at) == (
        "sent",
        {0: "ses-0", 1: "ses-1"},
        None,
        None,
    )
    assert sent.message_ids == ["ses-0", "ses-1"]


def test_every_owners_write_is_refused_once_another_run_holds_the_claim(store: Store) -> None:
    claim = created(store)
    store.claims.take_over(7, "r1", store.takeover("run-b", 1))
    writes: list[Callable[[], None]] = [
        lambda: store.claims.begin_part(claim, 0),
        lambda: store.claims.abandon_part(claim, 0),
        lambda: store.claims.reject(claim, "x", rejections=1, retry_at=NOW),
        lambda: store.claims.unlock(claim),
        lambda: store.claims.done(claim),
    ]
    for write in writes:
        with pytest.raises(LeaseLost):
            write()
    store.claims.record_part(claim, 0, "ses-0", last=False)  # the mail went: kept whoever holds the lease
    assert store.claims.shows_send(7, "ses-0") is True


def test_unlock_and_done_end_the_lease(store: Store) -> None:
    claim = created(store)
    store.claims.unlock(claim)
    unlocked = store.claims.read(7).claim
    assert unlocked is not None and (unlocked.lease_until, unlocked.state) == (0.0, "sending")
    store.claims.done(claim)
    finished = store.claims.read(7).claim
    assert finished is not None and (finished.lease_until, finished.state) == (0.0, ClaimState.DONE)


def test_evidence_is_kept_by_round_and_part_and_shows_the_send(store: Store) -> None:
    store.claims.add_evidence(7, "r1", "1", "ses-1")
    store.claims.add_evidence(7, "r1", "1", "ses-1")
    store.claims.add_evidence(7, "r2", "0", "ses-2")
    store.claims.add_evidence(7, "-", "-", "ses-untagged")
    assert store.claims.evidence_for(7, "r1") == {1: "ses-1"}
    assert store.claims.evidence_for(7, "r2") == {0: "ses-2"}
    assert store.claims.evidence_for(8, "r1") == {}
    assert [store.claims.shows_send(7, m) for m in ("ses-1", "ses-untagged", "ses-9")] == [True, True, False]
    assert store.claims.shows_send(8, "ses-1") is False


def test_of_two_runs_under_the_rules_one_wins_until_its_lease_runs_out(store: Store) -> None:
    rules = Claims(store.claims, clock=store.clock, lease_seconds=LEASE)
    first = rules.acquire(7, "r1")
    assert isinstance(first, Claim)
    second = rules.acquire(7, "r1")
    assert isinstance(second, NotClaimed) and second.why == "held"
    store.clock.now += LEASE + 1
    third = rules.acquire(7, "r1")
    assert isinstance(third, Claim) and third.taken_over and third.owner != first.owner
    with pytest.raises(LeaseLost):
        rules.begin_part(first, 0)
