"""The real NetBox 4.7 with netbox-notices as a local service: its own virtualenv, PostgreSQL and Redis on
loopback, a database migrated once per machine and copied for every run and every test."""

from sesflow.local.netbox.cache import NETBOX_VERSION, NOTICES_VERSION, NetBoxCache
from sesflow.local.netbox.errors import NetBoxServiceError
from sesflow.local.netbox.service import NetBoxTokens, RunningNetBox, running_netbox, start_netbox

__all__ = [
    "NETBOX_VERSION",
    "NOTICES_VERSION",
    "NetBoxCache",
    "NetBoxServiceError",
    "NetBoxTokens",
    "RunningNetBox",
    "running_netbox",
    "start_netbox",
]
