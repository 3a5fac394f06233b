"""SnapStart's hooks (`sesflow.snapstart`): the order Lambda runs them in, and that two containers resumed
from one snapshot share nothing that must be unique.

The snapshot is played by `tests/harness/snapshot.py`: a fresh process primes the outbound handler and
forks twice, so the children start from the same memory, as two containers restored from one snapshot do.
Without the renewal hooks they draw the same "random" values; with them they differ, and each has its own
settings, wiring and NetBox pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sesflow import snapstart
from sesflow.aws.clients import default_clients
from sesflow.config import outbound_settings
from sesflow.notices.outbound import lambda_handler as outbound
from sesflow.notices.outbound.delivery import OutboundDeps

pytestmark = pytest.mark.unit

OUTBOUND = "sesflow.notices.outbound"
SNAPSHOT = Path(__file__).parent / "harness" / "snapshot.py"
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


def restored_containers(mode: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(SNAPSHOT), mode],
        capture_output=True,
        text=True,
        env={**os.environ, **ENVIRONMENT},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answers: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return answers


@pytest.fixture
def primed(monkeypatch: pytest.MonkeyPatch) -> Iterator[OutboundDeps]:
    """The outbound handler in this process, as Lambda leaves it just before the snapshot."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    forget = (outbound_settings.cache_clear, outbound.default_deps.cache_clear, default_clients.cache_clear)
    for clear in forget:
        clear()
    snapstart.before_snapshot(OUTBOUND)
    yield outbound.default_deps()
    for clear in forget:
        clear()


def test_without_renewal_two_restored_containers_draw_the_same() -> None:
    """The hazard the renewal hooks exist for, shown on this very set-up."""
    first, second = restored_containers("plain")
    assert first["bits"] == second["bits"]
    assert first["jitter"] == second["jitter"]


def test_renewed_containers_draw_their_own_values_and_wire_afresh() -> None:
    first, second = restored_containers("renew")
    for container in (first, second):
        assert container["new_deps"] and container["new_settings"]
        assert container["new_pool"] and container["new_sender"]  # the limiter starts with the sender
        assert container["same_dynamodb_client"]  # clients and their service models are kept
    assert first["bits"] != second["bits"]
    assert first["jitter"] != second["jitter"]
    assert first["message_id"] != second["message_id"]


def test_priming_wires_the_handler_and_loads_what_its_events_load(primed: OutboundDeps) -> None:
    import sys

    assert outbound.default_deps() is primed
    assert {"css_inline", "email_validator", "sesflow.notices.outbound.webhook"} <= sys.modules.keys()


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


def test_the_relay_reads_its_signing_key_after_the_restore_never_into_the_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sesflow.aws.clients import AwsClients
    from sesflow.config import relay_settings
    from sesflow.relay import distribute, wiring

    relay_environment = {
        "IDEMPOTENCY_TABLE": "sesflow-idempotency",
        "INCOMING_BUCKET": "relay-incoming",
        "ATTACHMENTS_BUCKET": "relay-attachments",
        "SENDER_EMAIL": "relay@example.com",
        "SNS_TOPIC": "arn:aws:sns:eu-west-1:123456789012:relay-fallback",
        "PRESIGN_CREDENTIALS_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "snapstart-test",
        "AWS_SECRET_ACCESS_KEY": "snapstart-test-secret",
    }
    for name, value in relay_environment.items():
        monkeypatch.setenv(name, value)
    read: list[str | None] = []

    def signing_clients(secret_arn: str | None) -> AwsClients | None:
        read.append(secret_arn)
        return None  # sign with the function's own credentials here: no Secrets Manager in a unit test

    monkeypatch.setattr(wiring, "signing_clients", signing_clients)
    forget = (relay_settings.cache_clear, distribute.default_deps.cache_clear, default_clients.cache_clear)
    for clear in forget:
        clear()
    try:
        snapstart.before_snapshot("sesflow.relay.distribute")
        assert read == []
        snapstart.after_restore("sesflow.relay.distribute")
        assert read == [relay_environment["PRESIGN_CREDENTIALS_SECRET_ARN"]]
    finally:
        for clear in forget:
            clear()


def test_inbound_priming_loads_the_parser_and_the_registrable_domains_of_its_senders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from sesflow.notices.inbound import lambda_handler
    from sesflow.notices.inbound.providers import ProviderMap

    providers = ProviderMap()
    primed: list[str] = []
    monkeypatch.setattr(lambda_handler, "default_deps", lambda: SimpleNamespace(providers=providers))
    monkeypatch.setattr(lambda_handler, "warm_parser", lambda: primed.append("parser"))
    assert providers._registrable is None  # built on first need: a sender no listed domain claims

    lambda_handler.warm()
    assert primed == ["parser"]
    assert providers._registrable is not None and "verizonbusiness.com" in providers._registrable
