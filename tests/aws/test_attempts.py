"""Send marks in DynamoDB (moto's server): one per send, kept while SES may have taken it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from sesflow.aws.attempts import SendAttempts
from sesflow.aws.clients import AwsClients
from sesflow.local.aws_setup import create_idempotency_table
from sesflow.local.moto_server import MotoServer
from sesflow.resources import RESOURCES

from ..harness.fault_proxy import RESET_AFTER_FORWARD, FaultPlan, FaultProxy

pytestmark = pytest.mark.integration

KEEP = 15 * 24 * 3600


@pytest.fixture
def attempts(aws: AwsClients) -> SendAttempts:
    create_idempotency_table(aws)
    return SendAttempts(RESOURCES.idempotency.name, aws.dynamodb, prefix="test-asked", keep_seconds=KEEP)


def test_a_second_attempt_finds_the_first_ones_mark(attempts: SendAttempts) -> None:
    assert attempts.begin("chunk-1")
    assert not attempts.begin("chunk-1")
    assert attempts.begin("chunk-2")


def test_a_forgotten_mark_lets_the_next_attempt_send(attempts: SendAttempts) -> None:
    assert attempts.begin("chunk-1")
    attempts.forget("chunk-1")
    assert attempts.begin("chunk-1")
    assert not attempts.begin("chunk-1")


def test_marks_expire_with_the_table_ttl(attempts: SendAttempts, aws: AwsClients) -> None:
    attempts.begin("chunk-1")
    item = aws.dynamodb.get_item(TableName=attempts.table_name, Key={"id": {"S": "test-asked#chunk-1"}})[
        "Item"
    ]
    assert int(item["expiration"]["N"]) - int(item["asked_at"]["N"]) == KEEP


def test_a_mark_whose_answer_was_lost_is_still_ours(aws: AwsClients, moto_server: MotoServer) -> None:
    """DynamoDB writes the mark, the connection breaks before its answer, botocore repeats the put: the
    mark it meets is its own, so the send goes ahead (and a real second attempt still sees it)."""
    create_idempotency_table(aws)
    table = RESOURCES.idempotency.name
    upstream = urlsplit(moto_server.endpoint_url)
    plan = FaultPlan({RESET_AFTER_FORWARD: 1.0})
    proxy = FaultProxy((upstream.hostname or "127.0.0.1", upstream.port or 80), plan)
    proxy.applies_to = lambda head: b"DynamoDB_20120810.PutItem" in head
    proxy.max_faults = 1
    proxy.start()
    try:
        through_proxy = SendAttempts(
            table, AwsClients(endpoint_url=proxy.url).dynamodb, prefix="test-asked", keep_seconds=KEEP
        )
        assert through_proxy.begin("chunk-1")
        assert proxy.fired[RESET_AFTER_FORWARD] == 1
        assert not through_proxy.begin("chunk-1")
    finally:
        proxy.stop()
