"""The relay's resources as `sesflow.resources` describes them (the local stack builds from the same), in CDK
terms."""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration

from sesflow.resources import RESOURCES, Bucket

RELAY: Final = RESOURCES.relay
HANDLER: Final = RELAY.function.handler
#: The alias every trigger invokes: it points at the version published (and snapshotted) by each deploy.
ALIAS: Final = "live"
INCOMING_PREFIX: Final = RELAY.incoming_prefix
QUARANTINE_PREFIX: Final = RELAY.quarantine_prefix
FUNCTION_TIMEOUT: Final = Duration.seconds(RELAY.function.timeout_seconds)
#: AWS asks for a visibility timeout of at least six times the consumer's timeout.
VISIBILITY_FACTOR: Final = RELAY.queue.visibility_factor
MAX_RECEIVE_COUNT: Final = RELAY.queue.max_receive_count
BATCH_SIZE: Final = RELAY.queue.batch_size
QUEUE_RETENTION: Final = Duration.days(RELAY.queue.retention_days)


def expiration_days(bucket: Bucket, prefix: str) -> int:
    """The lifecycle sesflow.resources gives the prefix's objects."""
    (days,) = [rule.expiration_days for rule in bucket.lifecycle if rule.prefix == prefix]
    return days
