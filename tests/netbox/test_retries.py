"""Retries through a real faulty proxy in front of the real NetBox: each operation succeeds once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from tests.netbox.fault_proxy import BAD_GATEWAY, RESET, UNAVAILABLE, FaultProxy, throttled

from sesflow.local.netbox import RunningNetBox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxServerError, NetBoxUnavailable
from sesflow.netbox.retry import RetryPolicy

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

PROVIDERS = "/api/circuits/providers/"


@pytest.fixture
def proxy(clean_netbox: RunningNetBox) -> Iterator[FaultProxy]:
    faulty = FaultProxy(urlsplit(clean_netbox.url).port or 80)
    yield faulty
    faulty.close()


def _client(netbox: RunningNetBox, proxy: FaultProxy, deadline: float = 10.0) -> NetBoxClient:
    return NetBoxClient(proxy.url, netbox.tokens.admin, retry=RetryPolicy(deadline=deadline, base_delay=0.05))


def test_503_then_success_creates_the_object_once(clean_netbox: RunningNetBox, proxy: FaultProxy) -> None:
    proxy.faults.extend([UNAVAILABLE, UNAVAILABLE])
    client = _client(clean_netbox, proxy)
    client.post(PROVIDERS, {"name": "Zayo", "slug": "zayo"})
    assert proxy.forwarded == [f"POST {PROVIDERS} HTTP/1.1"]
    assert len(proxy.faulted) == 2
    assert client.get(PROVIDERS)["count"] == 1


def test_429_waits_as_long_as_retry_after_says(clean_netbox: RunningNetBox, proxy: FaultProxy) -> None:
    proxy.faults.append(throttled("1"))
    started = time.monotonic()
    _client(clean_netbox, proxy).post(PROVIDERS, {"name": "Zayo", "slug": "zayo"})
    assert time.monotonic() - started >= 1.0
    assert len(proxy.forwarded) == 1


def test_reset_connection_is_retried_for_an_idempotent_request(
    clean_netbox: RunningNetBox, proxy: FaultProxy
) -> None:
    proxy.faults.extend([RESET, BAD_GATEWAY])
    status = _client(clean_netbox, proxy).status()
    assert status["plugins"] == {"notices": "1.3.0"}
    assert proxy.forwarded == ["GET /api/status/ HTTP/1.1"]


def test_reset_connection_is_not_retried_for_a_post_netbox_may_have_done(
    clean_netbox: RunningNetBox, proxy: FaultProxy
) -> None:
    proxy.faults.append(RESET)
    with pytest.raises(NetBoxUnavailable):
        _client(clean_netbox, proxy).post(PROVIDERS, {"name": "Zayo", "slug": "zayo"})
    assert proxy.forwarded == []


def test_retries_stop_at_the_deadline(clean_netbox: RunningNetBox, proxy: FaultProxy) -> None:
    proxy.faults.extend([UNAVAILABLE] * 100)
    started = time.monotonic()
    with pytest.raises(NetBoxServerError) as failed:
        _client(clean_netbox, proxy, deadline=1.0).get(PROVIDERS)
    assert failed.value.status == 503
    assert time.monotonic() - started < 1.5
    assert proxy.forwarded == []


def test_retry_after_beyond_the_deadline_fails_at_once(
    clean_netbox: RunningNetBox, proxy: FaultProxy
) -> None:
    proxy.faults.append(throttled("30"))
    started = time.monotonic()
    with pytest.raises(Exception, match="429"):
        _client(clean_netbox, proxy, deadline=5.0).get(PROVIDERS)
    assert time.monotonic() - started < 1.0
