"""The SQS batch shell without NetBox: unreadable and foreign messages (moto's server for DynamoDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.data_classes import SNSEvent, SQSEvent

from sesflow.aws.clients import AwsClients
from sesflow.local import ses_events as ses
from sesflow.netbox.client import NetBoxClient
from sesflow.notices.tracking.outcomes import Tracked
from sesflow.notices.tracking.wiring import process_batch, trigger_of

from .conftest import create_table, make_deps

pytestmark = pytest.mark.integration


def test_an_unreadable_message_fails_alone_and_a_foreign_one_is_acknowledged(aws: AwsClients) -> None:
    create_table(aws)
    outcomes: list[Tracked] = []
    # NetBox is never asked: neither message names one of our notifications.
    deps = make_deps(aws, NetBoxClient("http://127.0.0.1:9", "unused"), outcomes)
    mail = ses.mail_object(
        "other-1", ["x@example.com"], sent=datetime.now(UTC), tags={"campaign": ["spring"]}
    )
    event = ses.sqs_event(
        [
            "{not json",
            json.dumps(ses.sns_envelope(ses.delivery_event(mail, ["x@example.com"], at=datetime.now(UTC)))),
        ]
    )
    answer = process_batch(event, None, deps)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert [outcome.verdict for outcome in outcomes] == ["ignored"]


def test_sns_and_sqs_events_are_told_apart() -> None:
    raw = ses.send_event(ses.mail_object("m", ["a@example.net"], sent=datetime.now(UTC)))
    assert isinstance(trigger_of(ses.sns_event([raw])), SNSEvent)
    assert isinstance(trigger_of(ses.sqs_event([json.dumps(raw)])), SQSEvent)
    assert isinstance(trigger_of({"Records": []}), SQSEvent)
