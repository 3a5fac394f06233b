"""SnapStart's hooks (`sesflow.snapstart`): the order Lambda runs them in, and that two containers resumed
from one snapshot share nothing that must be unique.

A snapshot is played by `os.fork`: the children start from the same memory, as two containers restored from
one snapshot do. Python reseeds `random` in a forked child by itself, which a restore does not, so each child
first puts back the state the parent had (what the snapshot holds). Without the renewal hooks they then draw
the same "random" values; with them they differ, and each has its own settings, wiring and NetBox pool."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator
from email.utils import make_msgid
from typing import Any

import pytest

from sesflow import snapstart
from sesflow.aws.clients import default_clients
from sesflow.aws.ses import _backoff
from sesflow.config import outbound_settings
from sesflow.notices import outbound

pytestmark = pytest.mark.unit

OUTBOUND = "sesflow.notices.outbound"
ENVIRONMENT = {
    "NETBOX_URL": "https://netbox.example.com",
    "NETBOX_API_TOKEN": "nbt_snapstart.test-token",
    "IDEMPOTENCY_TABLE": "sesflow-idempotency",
    "SES_FROM_ADDRESS": "noc@example.com",
    "SES_CONFIGURATION_SET": "netbox-notices-tracking",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "snapstart-test",
    "AWS_SECRET_ACCESS_KEY": "snapstart-test-secret",
}


@pytest.fixture
def primed(monkeypatch: pytest.MonkeyPatch) -> Iterator[outbound.OutboundDeps]:
    """The outbound handler as Lambda leaves it just before the snapshot (no request sent)."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    forget = (outbound_settings.cache_clear, outbound.default_deps.cache_clear, default_clients.cache_clear)
    for clear in forget:
        clear()
    snapstart.before_snapshot(OUTBOUND)
    yield outbound.default_deps()
    for clear in forget:
        clear()


def in_restored_containers(work: Callable[[], dict[str, Any]], containers: int = 2) -> list[dict[str, Any]]:
    """`work`'s answer in each of `containers` forked children of this process (one snapshot, resumed)."""
    answers = []
    snapshot = random.getstate()
    for _ in range(containers):
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # the child: answer and leave at once, whatever happens
            code = 0
            try:
                os.close(read)
                random.setstate(snapshot)  # undo the fork's own reseed: a restore has none
                os.write(write, json.dumps(work()).encode())
            except BaseException:  # noqa: BLE001 - the child must reach os._exit, whatever it raised
                code = 1
            finally:
                os._exit(code)
        os.close(write)
        with os.fdopen(read, "rb") as answer:
            data = answer.read()
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        answers.append(json.loads(data))
    return answers


def draws() -> dict[str, Any]:
    """What a container makes that must be its own: random draws, send jitter, a Message-ID."""
    return {
        "bits": random.getrandbits(64),
        "jitter": _backoff(4),
        "message_id": make_msgid(domain="example.com"),
    }


def test_without_renewal_two_restored_containers_draw_the_same(primed: outbound.OutboundDeps) -> None:
    """The hazard the renewal hooks exist for, shown on this very set-up."""
    first, second = in_restored_containers(draws)
    assert first["bits"] == second["bits"]
    assert first["jitter"] == second["jitter"]


def test_renewed_containers_draw_their_own_values_and_wire_afresh(primed: outbound.OutboundDeps) -> None:
    def restored() -> dict[str, Any]:
        snapstart.after_restore(OUTBOUND)
        deps = outbound.default_deps()
        return {
            **draws(),
            "new_deps": deps is not primed,
            "new_settings": deps.settings is not primed.settings,
            "new_pool": deps.notices.client._pool is not primed.notices.client._pool,
            "new_sender": deps.sender is not primed.sender,
            "same_dynamodb_client": deps.claims is not primed.claims
            and default_clients().dynamodb is primed.claims.dynamodb,
            "pool_id": id(deps.notices.client._pool),
        }

    first, second = in_restored_containers(restored)
    for container in (first, second):
        assert container["new_deps"] and container["new_settings"]
        assert container["new_pool"] and container["new_sender"]  # the limiter starts with the sender
        assert container["same_dynamodb_client"]  # clients and their service models are kept
    assert first["bits"] != second["bits"]
    assert first["jitter"] != second["jitter"]
    assert first["message_id"] != second["message_id"]


def test_priming_wires_the_handler_and_loads_what_its_events_load(primed: outbound.OutboundDeps) -> None:
    import sys

    assert outbound.default_deps() is primed
    assert {"css_inline", "email_validator", "sesflow.notices.webhook"} <= sys.modules.keys()


def test_hooks_run_in_lambdas_order_once_per_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the snapshot in the reverse order of registration, after a restore in that order (the
    process's own renewal first); a module registering again (imported twice) adds nothing."""
    registry = snapstart.Registry()
    monkeypatch.setattr(snapstart, "LOCAL", registry)
    ran: list[str] = []
    snapstart.register(snapstart.PROCESS, renew=lambda: ran.append("process renew"))
    for name in ("a", "b"):
        snapstart.register(name, prime=lambda name=name: ran.append(f"{name} prime"))  # type: ignore[misc]
        snapstart.register(name, prime=lambda: ran.append("again"))
        registry.renew[name].append(lambda name=name: ran.append(f"{name} renew"))  # type: ignore[misc]

    snapstart.before_snapshot()
    snapstart.after_restore()
    assert ran == ["b prime", "a prime", "process renew", "a renew", "b renew"]
    ran.clear()
    snapstart.before_snapshot("a")
    snapstart.after_restore("a")
    assert ran == ["a prime", "process renew", "a renew"]


def test_every_handler_module_registers_its_hooks() -> None:
    import importlib

    for module in (
        "sesflow.relay.distribute",
        "sesflow.notices.inbound",
        "sesflow.notices.outbound",
        "sesflow.notices.tracking",
    ):
        importlib.import_module(module)
        assert snapstart.LOCAL.prime[module] and snapstart.LOCAL.renew[module], module


def test_the_local_stack_runs_priming_then_renewal_for_the_handlers_it_wires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sesflow.local.workers import start_containers

    registry = snapstart.Registry()
    monkeypatch.setattr(snapstart, "LOCAL", registry)
    ran: list[str] = []
    snapstart.register(snapstart.PROCESS, renew=lambda: ran.append("process renew"))
    snapstart.register("flows.wired", prime=lambda: ran.append("prime"), renew=lambda: ran.append("renew"))
    snapstart.register("flows.other", prime=lambda: ran.append("other prime"))

    start_containers(["flows.wired.handler"])
    assert ran == ["prime", "process renew", "renew"]
    ran.clear()
    start_containers([])
    assert ran == []
