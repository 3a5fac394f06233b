"""A provider's mail forwarded inline by a trusted forwarder is applied as the provider's; from anyone else
the block is only text, and the mail is judged by its own sender."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN

from .conftest import Inbox, corpus_path
from .mails import inline_forward

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

FORWARDER = "ops@corp.example"


def _maintenances(client: NetBoxClient) -> list[dict[str, Any]]:
    return list(client.iterate(f"{PLUGIN}/maintenance/"))


@pytest.mark.parametrize(
    ("provider", "name", "style", "maintenance"),
    [
        ("zayo", "zayo4.eml", "gmail", "TTN-0002345678"),
        ("equinix", "equinix3.eml", "outlook", None),
        ("crowncastle", "crowncastle1.eml", "apple", None),
    ],
)
def test_an_inline_forward_from_a_trusted_forwarder_is_applied_as_the_providers(
    provider: str,
    name: str,
    style: str,
    maintenance: str | None,
    make_inbox: Callable[..., Inbox],
    nb_client: NetBoxClient,
) -> None:
    inbox = make_inbox(INBOUND_TRUSTED_FORWARDERS="@corp.example")
    raw = inline_forward(corpus_path(provider, name).read_bytes(), style, forwarder=FORWARDER)
    outcome = inbox.deliver(raw, source=FORWARDER)
    assert (outcome.result, outcome.provider) == ("applied", provider), outcome.detail
    found = _maintenances(nb_client)
    assert found
    if maintenance is not None:
        assert [item["name"] for item in found] == [maintenance]
    [stored] = nb_client.get(f"{PLUGIN}/eventnotification/")["results"][:1]
    assert stored["email_from"].endswith(corpus_path(provider, name).parent.name + ".com")


def test_an_inline_forward_from_anyone_else_is_judged_by_its_own_sender(
    make_inbox: Callable[..., Inbox], nb_client: NetBoxClient
) -> None:
    inbox = make_inbox()  # no trusted forwarders
    raw = inline_forward(corpus_path("zayo", "zayo4.eml").read_bytes(), "gmail", forwarder=FORWARDER)
    outcome = inbox.deliver(raw, source=FORWARDER)
    assert outcome.result == "unknown_provider"
    assert _maintenances(nb_client) == []
