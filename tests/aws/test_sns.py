"""SNS publishing through moto's server, delivered to a subscribed SQS queue."""

from __future__ import annotations

import json

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.aws.sns import MAX_PUBLISH_BYTES, MessageTooLargeError, Publisher

pytestmark = pytest.mark.integration


@pytest.fixture
def topic_and_queue(aws: AwsClients) -> tuple[str, str]:
    topic = aws.sns.create_topic(Name="relay-fallback")["TopicArn"]
    queue_url = aws.sqs.create_queue(QueueName="fallback-watch")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue_url


def test_published_notice_arrives_with_attributes(aws: AwsClients, topic_and_queue: tuple[str, str]) -> None:
    topic, queue_url = topic_and_queue
    message_id = Publisher(aws.sns).publish(
        topic,
        {"reason": "malformed recipients", "bucket": "incoming", "key": "incoming/abc"},
        subject="Relay: mail\r\nBcc: injected@evil.example not relayed",
        attributes={"reason": "malformed-recipients", "attempt": 2},
    )
    received = aws.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(received[0]["Body"])
    assert envelope["MessageId"] == message_id
    assert json.loads(envelope["Message"])["key"] == "incoming/abc"
    assert envelope["Subject"] == "Relay: mail Bcc: injected@evil.example not relayed"
    assert envelope["MessageAttributes"]["reason"] == {"Type": "String", "Value": "malformed-recipients"}
    assert envelope["MessageAttributes"]["attempt"] == {"Type": "Number", "Value": "2"}


def test_oversized_notice_is_refused_before_publishing(
    aws: AwsClients, topic_and_queue: tuple[str, str]
) -> None:
    topic, queue_url = topic_and_queue
    calls: list[str] = []
    aws.sns.meta.events.register("before-call.sns", lambda model, **_: calls.append(model.name))
    with pytest.raises(MessageTooLargeError, match="262144"):
        Publisher(aws.sns).publish(topic, "x" * (MAX_PUBLISH_BYTES - 10), attributes={"reason": "too-big"})
    assert calls == []
    assert "Messages" not in aws.sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_message_at_the_limit_is_published(aws: AwsClients, topic_and_queue: tuple[str, str]) -> None:
    topic, _ = topic_and_queue
    assert Publisher(aws.sns).publish(topic, "x" * MAX_PUBLISH_BYTES)
