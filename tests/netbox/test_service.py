"""The managed NetBox: the pinned versions, every seeded token accepted, a reset back to the seed."""

from __future__ import annotations

import time

import pytest

from sesflow.local.netbox import NETBOX_VERSION, NOTICES_VERSION, RunningNetBox
from sesflow.local.netbox.service import TASKS_REDIS_DATABASE
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxPermissionError

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def test_status_reports_pinned_versions_and_a_running_worker(clean_netbox: RunningNetBox) -> None:
    status = NetBoxClient(clean_netbox.url, clean_netbox.tokens.admin).status()
    assert status["netbox-version"] == NETBOX_VERSION
    assert status["plugins"] == {"notices": NOTICES_VERSION}
    assert status["rq-workers-running"] >= 1


@pytest.mark.parametrize("token_name", ["admin", "admin_v1", "reader"])
def test_every_seeded_token_is_accepted(clean_netbox: RunningNetBox, token_name: str) -> None:
    client = NetBoxClient(clean_netbox.url, getattr(clean_netbox.tokens, token_name))
    assert client.get("/api/authentication-check/")["username"] in {"admin", "reader"}


def test_a_wrong_token_is_refused_with_netbox_message(clean_netbox: RunningNetBox) -> None:
    client = NetBoxClient(clean_netbox.url, "nbt_sesflowadmin." + "x" * 40)
    with pytest.raises(NetBoxPermissionError) as refused:
        client.status()
    assert refused.value.status == 403
    assert refused.value.messages == {"detail": ("Invalid v2 token",)}


def test_reset_discards_what_a_test_created_in_under_a_second(clean_netbox: RunningNetBox) -> None:
    client = NetBoxClient(clean_netbox.url, clean_netbox.tokens.admin)
    client.post("/api/circuits/providers/", {"name": "Leftover", "slug": "leftover"})
    started = time.monotonic()
    clean_netbox.reset()
    elapsed = time.monotonic() - started
    assert client.get("/api/circuits/providers/")["count"] == 0
    assert elapsed < 1.0


def test_reset_drops_queued_jobs_and_keeps_the_worker_registered(clean_netbox: RunningNetBox) -> None:
    """A queue the worker does not serve stands in for a backlog, so nothing takes the jobs before we look."""
    redis = clean_netbox.redis
    redis.call(TASKS_REDIS_DATABASE, [b"RPUSH", b"rq:queue:probe", b"stale-1", b"stale-2"])
    redis.call(TASKS_REDIS_DATABASE, [b"HSET", b"rq:job:stale-1", b"status", b"queued"])
    assert redis.clear_queues(TASKS_REDIS_DATABASE, ["probe", "empty"]) == 2
    assert redis.call(TASKS_REDIS_DATABASE, [b"EXISTS", b"rq:queue:probe", b"rq:job:stale-1"]) == b"0"
    assert int(redis.call(TASKS_REDIS_DATABASE, [b"SCARD", b"rq:workers"])) >= 1
    clean_netbox.reset()
    status = NetBoxClient(clean_netbox.url, clean_netbox.tokens.admin).status()
    assert status["rq-workers-running"] >= 1


def test_netbox_starts_on_the_port_asked_for() -> None:
    """`sesflow local up` asks for a fixed port, so the URL a person bookmarks stays the same."""
    from sesflow.local.netbox.service import running_netbox
    from sesflow.local.ports import free_port

    port = free_port()
    with running_netbox(http_port=port, workers=1) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        assert NetBoxClient(server.url, server.tokens.admin).get("/api/status/")["netbox-version"]
