"""The AWS resources sesflow runs on, described once as plain data: names, timeouts, retry counts, retention,
alarm thresholds, the idempotency table's schema.

The local stack creates its moto resources from this description and the deployment templates read (or
assert) the same values, so the two cannot drift. Nothing here knows an AWS SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

#: AWS asks for an SQS visibility timeout of at least six times the consuming function's timeout.
VISIBILITY_FACTOR: Final = 6
#: Lambda retries a failed asynchronous invocation twice before its on-failure destination (the maximum).
ASYNC_RETRY_ATTEMPTS: Final = 2
DAY: Final = 86_400


@dataclass(frozen=True)
class LifecycleRule:
    prefix: str
    expiration_days: int


@dataclass(frozen=True)
class Bucket:
    name: str
    lifecycle: tuple[LifecycleRule, ...] = ()


@dataclass(frozen=True)
class Queue:
    """A queue a function consumes, with the DLQ that keeps what failed `max_receive_count` times."""

    name: str
    consumer_timeout_seconds: int
    max_receive_count: int = 5
    retention_days: int = 14
    batch_size: int = 5
    visibility_factor: int = VISIBILITY_FACTOR

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"

    @property
    def visibility_timeout_seconds(self) -> int:
        return self.consumer_timeout_seconds * self.visibility_factor

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * DAY


@dataclass(frozen=True)
class Topic:
    name: str


@dataclass(frozen=True)
class Table:
    """Powertools idempotency's defaults: a string partition key `id` and a TTL attribute `expiration`."""

    name: str
    partition_key: str = "id"
    ttl_attribute: str = "expiration"


@dataclass(frozen=True)
class Function:
    name: str
    handler: str  # dotted path, the contract in DESIGN.md
    timeout_seconds: int
    # The relay peaks at 160 MiB on a 40 MB mail (make bench), so 256 MB leaves room.
    memory_mb: int = 256


@dataclass(frozen=True)
class Alarms:
    dlq_messages_threshold: int = 0  # any message in a DLQ alarms
    oldest_message_seconds: int = 180
    received_per_period_threshold: int = 180


@dataclass(frozen=True)
class Relay:
    function: Function
    incoming: Bucket
    attachments: Bucket
    queue: Queue
    fallback_topic: Topic
    configuration_set: str
    incoming_prefix: str = "incoming/"
    quarantine_prefix: str = "quarantine/"
    alarms: Alarms = field(default_factory=Alarms)


@dataclass(frozen=True)
class Notices:
    inbound: Function
    outbound: Function
    tracking: Function
    inbound_bucket: Bucket
    inbound_failures: Queue  # the inbound function's on-failure destination
    tracking_topic: Topic  # the SES configuration set's event destination
    tracking_queue: Queue
    configuration_set: str
    inbound_prefix: str = "inbound/"
    outbound_poll_seconds: int = 300  # the schedule's rate(5 minutes)
    async_retry_attempts: int = ASYNC_RETRY_ATTEMPTS
    max_event_age_seconds: int = 6 * 3600
    alarms: Alarms = field(default_factory=Alarms)


@dataclass(frozen=True)
class Resources:
    relay: Relay
    notices: Notices
    idempotency: Table

    def with_consumer_timeout(self, seconds: int, *, visibility_factor: int = VISIBILITY_FACTOR) -> Resources:
        """The same resources with every queue's consumer timeout (and so visibility timeout) changed: the
        local stack's tests use seconds where AWS uses minutes."""

        def timed(queue: Queue) -> Queue:
            return replace(queue, consumer_timeout_seconds=seconds, visibility_factor=visibility_factor)

        relay = replace(self.relay, queue=timed(self.relay.queue))
        notices = replace(
            self.notices,
            tracking_queue=timed(self.notices.tracking_queue),
            inbound_failures=timed(self.notices.inbound_failures),
        )
        return replace(self, relay=relay, notices=notices)


RESOURCES: Final = Resources(
    relay=Relay(
        function=Function("sesflow-relay", "sesflow.relay.distribute.handler", timeout_seconds=120),
        incoming=Bucket(
            "sesflow-relay-incoming",
            lifecycle=(LifecycleRule("incoming/", 30), LifecycleRule("quarantine/", 90)),
        ),
        # Attachments outlive their links: PRESIGNED_EXPIRATION (36 h) rounded up to days, plus one day.
        attachments=Bucket("sesflow-relay-attachments", lifecycle=(LifecycleRule("", 3),)),
        queue=Queue("sesflow-relay", consumer_timeout_seconds=120, max_receive_count=5),
        fallback_topic=Topic("sesflow-relay-fallback"),
        configuration_set="sesflow-relay",
    ),
    notices=Notices(
        inbound=Function("sesflow-notices-inbound", "sesflow.notices.inbound.handler", timeout_seconds=120),
        outbound=Function(
            "sesflow-notices-outbound", "sesflow.notices.outbound.handler", timeout_seconds=120
        ),
        tracking=Function("sesflow-notices-tracking", "sesflow.notices.tracking.handler", timeout_seconds=60),
        inbound_bucket=Bucket("sesflow-notices-inbound", lifecycle=(LifecycleRule("inbound/", 30),)),
        inbound_failures=Queue("sesflow-notices-inbound-failures", consumer_timeout_seconds=120),
        tracking_topic=Topic("sesflow-notices-tracking"),
        tracking_queue=Queue("sesflow-notices-tracking", consumer_timeout_seconds=60, max_receive_count=5),
        configuration_set="sesflow-notices",
    ),
    idempotency=Table("sesflow-idempotency"),
)
