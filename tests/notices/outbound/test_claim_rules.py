"""The claim rules as plain functions over a claim as read: who may take it, how long a rejection waits,
and how long a part that may have reached SES waits for its evidence."""

from __future__ import annotations

import dataclasses

import pytest

from sesflow.notices.claims import (
    FIRST_BACKOFF_SECONDS,
    MAX_BACKOFF_SECONDS,
    Claim,
    ClaimState,
    NotClaimed,
    backoff_seconds,
    evidence_deadline,
    refusal,
)

pytestmark = pytest.mark.unit

NOW = 1_000_000.0
CLAIM = Claim(7, "20261124T070000000000Z", "owner", ClaimState.SENDING, lease_until=NOW - 1, version=3)


def test_a_claim_nobody_holds_may_be_taken() -> None:
    assert refusal(None, NOW) is None
    assert refusal(CLAIM, NOW) is None  # its lease ran out: the run that held it is gone


@pytest.mark.parametrize(
    ("changes", "why", "until"),
    [
        ({"state": ClaimState.DONE}, "done", None),
        ({"lease_until": NOW + 60}, "held", NOW + 60),
        ({"state": ClaimState.REJECTED, "retry_at": NOW + 3600}, "backing_off", NOW + 3600),
    ],
)
def test_a_claim_is_refused_while_done_held_or_backing_off(
    changes: dict[str, object], why: str, until: float | None
) -> None:
    current = dataclasses.replace(CLAIM, **changes)  # type: ignore[arg-type]
    assert refusal(current, NOW) == NotClaimed(7, why, until, current)  # type: ignore[arg-type]


def test_a_rejection_whose_wait_is_over_may_be_retried() -> None:
    assert refusal(dataclasses.replace(CLAIM, state=ClaimState.REJECTED, retry_at=NOW - 1), NOW) is None


def test_the_backoff_doubles_from_an_hour_up_to_a_day() -> None:
    waits = [backoff_seconds(rejections) for rejections in range(1, 8)]
    assert waits[:3] == [FIRST_BACKOFF_SECONDS, 2 * FIRST_BACKOFF_SECONDS, 4 * FIRST_BACKOFF_SECONDS]
    assert max(waits) == MAX_BACKOFF_SECONDS == waits[-1]


def test_only_the_part_a_dead_run_was_sending_waits_for_evidence() -> None:
    inflight = dataclasses.replace(CLAIM, inflight=2, inflight_at=NOW, taken_over=True)
    assert evidence_deadline(inflight, 2, 900.0) == NOW + 900.0
    assert evidence_deadline(inflight, 1, 900.0) is None
    assert evidence_deadline(dataclasses.replace(inflight, taken_over=False), 2, 900.0) is None
