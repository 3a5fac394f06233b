"""AWS adapters: boto3 clients, the object store, the SES sender and the SNS publisher.

Nothing here knows about a flow; flows get these objects passed in.
"""

from sesflow.aws.clients import AwsClients, default_clients
from sesflow.aws.ses import (
    PermanentSendError,
    SendError,
    SendRateLimiter,
    SesSender,
    TransientSendError,
)
from sesflow.aws.sns import Publisher
from sesflow.aws.store import ObjectStore, PresignExpiryError

__all__ = [
    "AwsClients",
    "ObjectStore",
    "PermanentSendError",
    "PresignExpiryError",
    "Publisher",
    "SendError",
    "SendRateLimiter",
    "SesSender",
    "TransientSendError",
    "default_clients",
]
