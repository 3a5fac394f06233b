"""AWS adapters: boto3 clients, the object store, the SES sender and the SNS publisher.

Nothing here knows about a flow; flows get these objects passed in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesflow.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

#: Each name's module, loaded on first use: a flow that needs only the clients (tracking, inbound) never
#: loads the SES sender or the SNS publisher.
_HOMES = {
    "AwsClients": "clients",
    "default_clients": "clients",
    "PermanentSendError": "ses",
    "SendError": "ses",
    "SendRateLimiter": "ses",
    "SesSender": "ses",
    "TransientSendError": "ses",
    "Publisher": "sns",
    "ObjectStore": "store",
    "PresignExpiryError": "store",
}

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

__getattr__ = lazy_exports(__name__, _HOMES)
