"""The notice-publishing port: what `Publisher` does on moto's SNS (read from a subscribed SQS queue), and
what `FakePublisher` must do the same way. Pinned: the body, the subject made one printable line, typed
attributes, and SNS's 256 KiB refused before publishing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sesflow.aws.sns import MAX_PUBLISH_BYTES, MessageTooLargeError, Publisher

from ..fakes.sns import FakePublisher, PublishedNotice

TOPIC = "relay-fallback"

#: What a subscriber got: (message id, body, subject or None, {attribute: (type, value)}).
Received = tuple[str, str, str | None, dict[str, tuple[str, str]]]


@dataclass(frozen=True)
class Sns:
    publisher: Publisher | FakePublisher
    topic_arn: str
    received: Callable[[], list[Received]]


def _from_queue(aws: Any, queue_url: str) -> list[Received]:
    messages = aws.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=10)
    envelopes = [json.loads(message["Body"]) for message in messages.get("Messages", [])]
    return [
        (
            envelope["MessageId"],
            envelope["Message"],
            envelope.get("Subject"),
            {
                name: (value["Type"], value["Value"])
                for name, value in envelope.get("MessageAttributes", {}).items()
            },
        )
        for envelope in envelopes
    ]


def _from_fake(notices: list[PublishedNotice]) -> list[Received]:
    return [(n.message_id, n.message, n.subject, dict(n.attributes)) for n in notices]


@pytest.fixture(
    params=[pytest.param("real", marks=pytest.mark.integration), pytest.param("fake", marks=pytest.mark.unit)]
)
def sns(request: pytest.FixtureRequest) -> Sns:
    if request.param == "real":
        aws = request.getfixturevalue("aws")
        topic = aws.sns.create_topic(Name=TOPIC)["TopicArn"]
        queue_url = aws.sqs.create_queue(QueueName="contract-watch")["QueueUrl"]
        attributes = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attributes["Attributes"]["QueueArn"])
        return Sns(Publisher(aws.sns), topic, lambda: _from_queue(aws, queue_url))
    fake = FakePublisher()
    topic = f"arn:aws:sns:us-east-1:123456789012:{TOPIC}"
    return Sns(fake, topic, lambda: _from_fake(fake.on(topic)))


def test_a_notice_arrives_with_its_body_subject_and_typed_attributes(sns: Sns) -> None:
    message_id = sns.publisher.publish(
        sns.topic_arn,
        {"reason": "malformed recipients", "key": "incoming/abc"},
        subject="Relay: mail\r\nBcc: injected@evil.example not relayed\tü",
        attributes={"reason": "malformed-recipients", "attempt": 2, "retry": True, "to": ["a", "b"]},
    )
    [(received_id, body, subject, attributes)] = sns.received()
    assert received_id == message_id
    assert json.loads(body) == {"reason": "malformed recipients", "key": "incoming/abc"}
    assert subject == "Relay: mail Bcc: injected@evil.example not relayed"
    assert attributes == {
        "reason": ("String", "malformed-recipients"),
        "attempt": ("Number", "2"),
        "retry": ("String", "true"),
        "to": ("String.Array", '["a", "b"]'),
    }


def test_a_notice_without_subject_arrives_without_one(sns: Sns) -> None:
    sns.publisher.publish(sns.topic_arn, "plain text")
    [(_, body, subject, attributes)] = sns.received()
    assert (body, subject, attributes) == ("plain text", None, {})


def test_a_notice_over_256_kib_is_refused_before_publishing(sns: Sns) -> None:
    with pytest.raises(MessageTooLargeError, match="262144"):
        sns.publisher.publish(sns.topic_arn, "x" * (MAX_PUBLISH_BYTES - 10), attributes={"reason": "too-big"})
    assert sns.publisher.publish(sns.topic_arn, "x" * MAX_PUBLISH_BYTES)
    assert len(sns.received()) == 1
