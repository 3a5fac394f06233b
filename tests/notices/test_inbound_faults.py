"""NetBox failing in the middle of a mail, through a real proxy in front of it: 503 and 429 are absorbed by
the client's retries; what outlasts them fails the invoke, and Lambda's second invoke finishes the mail.
Either way every object exists exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from sesflow.aws.clients import AwsClients
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import ProviderSeed, SeedData, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxError
from sesflow.netbox.notices import PLUGIN
from sesflow.netbox.retry import RetryPolicy
from sesflow.notices.inbound import lambda_handler as inbound

from ..netbox.fault_proxy import UNAVAILABLE, Fault, FaultProxy, throttled
from .conftest import BUCKET, PREFIX, build_inbox, receipt_event
from .mails import bcop_notice

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

CIDS = tuple(f"FAULT-{n}" for n in range(1, 4))
MAINTENANCES = f"{PLUGIN}/maintenance/"
IMPACTS = f"{PLUGIN}/impact/"
MAILS = f"{PLUGIN}/eventnotification/"


class _Context:
    function_name = "inbound"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inbound"
    aws_request_id = "req-1"


@pytest.fixture
def proxy(clean_netbox: RunningNetBox, nb_client: NetBoxClient) -> Iterator[FaultProxy]:
    seed_netbox(nb_client, SeedData(providers=(ProviderSeed("Faulty", "faulty", CIDS),)))
    faulty = FaultProxy(urlsplit(clean_netbox.url).port or 80)
    yield faulty
    faulty.close()


@pytest.fixture
def invoke(
    aws: AwsClients, clean_netbox: RunningNetBox, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Calls the Lambda handler on one stored mail, with NetBox reached through the proxy and a 3 s deadline
    for the client's retries (a Retry-After beyond it makes the client give up, failing the invoke)."""
    aws.s3.create_bucket(Bucket=BUCKET)
    aws.s3.put_object(Bucket=BUCKET, Key=PREFIX + "f-1", Body=bcop_notice("FAULT-1", CIDS, provider="faulty"))
    client = NetBoxClient(
        proxy.url, clean_netbox.tokens.admin, retry=RetryPolicy(deadline=3, base_delay=0.05)
    )
    deps = build_inbox(aws, clean_netbox, client).deps
    monkeypatch.setattr(inbound, "default_deps", lambda: deps)
    event = receipt_event(
        "f-1", source="noc@noc.example.org", received=datetime(2026, 11, 23, 14, tzinfo=UTC)
    )
    return lambda: inbound.handler(event, _Context())


def _objects(client: NetBoxClient) -> Counter[str]:
    return Counter(
        {
            name: client.get(f"{PLUGIN}/{name}/", {"limit": 1})["count"]
            for name in ("maintenance", "impact", "eventnotification")
        }
    )


EXACTLY_ONCE = Counter(maintenance=1, impact=len(CIDS), eventnotification=1)


def test_503_and_429_mid_apply_are_absorbed_by_the_client_retries(
    invoke: Any, proxy: FaultProxy, nb_client: NetBoxClient
) -> None:
    proxy.targeted += [
        (f"GET {MAINTENANCES}", UNAVAILABLE),
        (f"POST {MAINTENANCES}", throttled("0")),
        (f"POST {IMPACTS}", UNAVAILABLE),
        (f"POST {IMPACTS}", throttled("1")),
        (f"POST {MAILS}", UNAVAILABLE),
    ]
    assert invoke() == {"results": [{"message_id": "f-1", "result": "applied"}]}
    assert len(proxy.faulted) == 5 and not proxy.targeted
    assert _objects(nb_client) == EXACTLY_ONCE


@pytest.mark.parametrize(
    "target",
    [f"POST {MAINTENANCES}", f"POST {IMPACTS}", f"POST {MAILS}"],
    ids=["maintenance", "impacts", "mail"],
)
def test_a_fault_that_outlasts_the_retries_is_finished_by_the_second_invoke(
    target: str, invoke: Any, proxy: FaultProxy, nb_client: NetBoxClient
) -> None:
    proxy.targeted.append((target, throttled("30")))  # longer than the client's deadline: it gives up
    with pytest.raises(NetBoxError):
        invoke()
    assert invoke() == {"results": [{"message_id": "f-1", "result": "applied"}]}
    assert _objects(nb_client) == EXACTLY_ONCE
    assert invoke() == {"results": [{"message_id": "f-1", "result": "applied"}]}  # a third changes nothing
    assert _objects(nb_client) == EXACTLY_ONCE


@pytest.mark.parametrize(
    "target",
    [f"POST {MAINTENANCES}", f"POST {IMPACTS}", f"POST {MAILS}"],
    ids=["maintenance", "impacts", "mail"],
)
def test_a_write_whose_answer_is_lost_is_not_written_twice(
    target: str, invoke: Any, proxy: FaultProxy, nb_client: NetBoxClient
) -> None:
    # NetBox acts, the client sees 502 (a gateway that lost the answer): a POST may have been acted on, so
    # the client does not repeat it and the invoke fails. The retry's plan must find what was written.
    proxy.targeted.append((target, Fault(502, after_forward=True)))
    with pytest.raises(NetBoxError):
        invoke()
    assert invoke() == {"results": [{"message_id": "f-1", "result": "applied"}]}
    assert _objects(nb_client) == EXACTLY_ONCE
