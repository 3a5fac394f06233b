"""The send-marks port: what `SendAttempts` does on moto's DynamoDB, and what `FakeSendAttempts` must do the
same way. Pinned: the first attempt at a key may send, a later one may not until the mark is forgotten."""

from __future__ import annotations

import pytest

from sesflow.aws.attempts import SendAttempts
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.relay.ports import SendMarks
from sesflow.resources import RESOURCES

from ..fakes.send_marks import FakeSendAttempts


@pytest.fixture(
    params=[pytest.param("real", marks=pytest.mark.integration), pytest.param("fake", marks=pytest.mark.unit)]
)
def marks(request: pytest.FixtureRequest) -> SendMarks:
    if request.param == "real":
        aws = request.getfixturevalue("aws")
        create_idempotency_table(aws)
        return SendAttempts(
            RESOURCES.idempotency.name, aws.dynamodb, prefix="contract-asked", keep_seconds=3600
        )
    return FakeSendAttempts()


def test_only_the_first_attempt_at_a_key_may_send(marks: SendMarks) -> None:
    assert marks.begin("mail-1/chunk-0") is True
    assert marks.begin("mail-1/chunk-0") is False
    assert marks.begin("mail-1/chunk-1") is True


def test_a_forgotten_mark_lets_the_next_attempt_send(marks: SendMarks) -> None:
    marks.begin("mail-1/chunk-0")
    marks.forget("mail-1/chunk-0")
    assert marks.begin("mail-1/chunk-0") is True
    marks.forget("never-marked")  # forgetting what is not there is fine
