"""Provider detection as mail arrives in the field: every provider the installed parser offers is found by
its own sender, a sibling address at its domain and an address at its registrable domain; lists that rewrite
From are read through INBOUND_SOURCE_HEADER."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from sesflow.config import ConfigError, Flow, load_settings
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.notices.inbound.parser import provider_organizers
from sesflow.notices.inbound.providers import ProviderMap, domain_of, registrable_domain

from .conftest import Inbox, corpus_path, inbound_settings_for

NETBOX = "http://netbox.example"
ORGANIZERS = provider_organizers()
#: The provider the parser lists first for each exact sender domain (arelion before telia, seaborn before
#: turkcell): the one a mail from that domain goes to unless PROVIDER_MAP says otherwise.
FIRST_AT = {domain_of(a): p for p, a in reversed(list(ORGANIZERS.items()))}
REGISTRABLE = {provider: registrable_domain(domain_of(address)) for provider, address in ORGANIZERS.items()}
SHARED_REGISTRABLE = {domain for domain, n in Counter(REGISTRABLE.values()).items() if n > 1}


def _expected_at_registrable(provider: str) -> str | None:
    registrable = REGISTRABLE[provider]
    if registrable in FIRST_AT:
        return FIRST_AT[registrable]  # some provider's own exact domain
    return None if registrable in SHARED_REGISTRABLE else provider


@pytest.mark.unit
def test_the_parser_offers_the_providers_the_walk_relies_on() -> None:
    assert len(ORGANIZERS) >= 30
    assert {"verizon", "telstra", "ntt", "apple", "hgc"} <= set(ORGANIZERS)
    assert FIRST_AT["arelion.com"] == "arelion" and FIRST_AT["superonline.net"] == "seaborn"


@pytest.mark.unit
@pytest.mark.parametrize("provider", sorted(ORGANIZERS))
def test_every_parser_provider_is_chosen_by_its_sender_a_sibling_and_its_registrable_domain(
    provider: str,
) -> None:
    providers = ProviderMap()
    address = ORGANIZERS[provider]
    domain = domain_of(address)
    owner = FIRST_AT[domain]  # the provider itself, unless it shares its exact domain with an earlier one
    for sender in (address, f"other@{domain}", f"Other.Person@{domain.upper()}"):
        assert providers.for_address(sender) == (owner, domain), sender
    registrable = REGISTRABLE[provider]
    assert registrable is not None
    found = providers.for_address(f"noc@{registrable}")
    expected = _expected_at_registrable(provider)
    assert (found[0] if found else None) == expected
    if registrable != domain:
        # A sibling subdomain of the registrable domain, never listed anywhere, still finds the provider.
        sibling = providers.for_address(f"noc@zz-sibling.{registrable}")
        assert (sibling[0] if sibling else None) == expected


@pytest.mark.unit
def test_the_subdomain_senders_of_the_issue_are_found_at_their_parent_domains() -> None:
    providers = ProviderMap()
    for sender, provider in {
        "noc@verizonbusiness.com": "verizon",
        "noc@telstra.com": "telstra",
        "noc@ntt.net": "ntt",
        "noc@apple.com": "apple",
        "noc@hgc.com.hk": "hgc",
    }.items():
        found = providers.for_address(sender)
        assert found is not None and found[0] == provider, sender


@pytest.mark.unit
def test_the_source_header_setting_is_read_and_checked() -> None:
    settings = inbound_settings_for(
        "http://netbox.example", "token", INBOUND_SOURCE_HEADER="X-Original-Sender"
    )
    assert settings.source_header == "X-Original-Sender"
    assert inbound_settings_for(NETBOX, "token").source_header is None
    with pytest.raises(ConfigError, match="INBOUND_SOURCE_HEADER: must be a mail header name"):
        inbound_settings_for(NETBOX, "token", INBOUND_SOURCE_HEADER="X-Original: Sender")
    with pytest.raises(ConfigError, match="INBOUND_SOURCE_HEADER"):
        load_settings(
            Flow.INBOUND,
            {
                "NETBOX_URL": NETBOX,
                "NETBOX_API_TOKEN": "token",
                "S3_BUCKET_NAME": "inbound-mail",
                "IDEMPOTENCY_TABLE": "idempotency",
                "INBOUND_SOURCE_HEADER": "Sénder",
            },
        )


def _maintenance_names(client: NetBoxClient) -> list[str]:
    return [item["name"] for item in client.iterate(f"{PLUGIN}/maintenance/")]


@pytest.mark.netbox
@pytest.mark.integration
def test_a_notice_from_the_providers_parent_domain_is_applied(inbox: Inbox, nb_client: NetBoxClient) -> None:
    """Apple's parser address is peering-noc@group.apple.com; the same notice from apple.com is Apple's."""
    raw = corpus_path("apple", "apple1.eml").read_bytes()  # no From of its own: SES's is the sender
    outcome = inbox.deliver(raw, source="peering-noc@apple.com")
    assert (outcome.result, outcome.provider) == ("applied", "apple"), outcome.detail
    assert len(_maintenance_names(nb_client)) == 1


def _through_a_list() -> bytes:
    """Zayo's notice as a mailing list resends it: From rewritten to the list, the sender kept aside."""
    raw = corpus_path("zayo", "zayo4.eml").read_bytes()
    original = b"From: MR Zayo <mr@zayo.com>\n"
    assert raw.count(original) == 1
    listed = b"From: Provider notices <notices@lists.corp.example>\nX-Original-Sender: mr@zayo.com\n"
    return raw.replace(original, listed)


@pytest.mark.netbox
@pytest.mark.integration
@pytest.mark.parametrize(("header", "expected"), [("X-Original-Sender", "applied"), ("", "unknown_provider")])
def test_a_list_that_rewrites_from_is_read_through_the_source_header(
    header: str, expected: str, make_inbox: Callable[..., Inbox], nb_client: NetBoxClient
) -> None:
    inbox = make_inbox(INBOUND_SOURCE_HEADER=header)
    raw = _through_a_list()
    outcome = inbox.deliver(
        raw, source="bounces@lists.corp.example", from_header="notices@lists.corp.example"
    )
    assert outcome.result == expected, outcome.detail
    assert _maintenance_names(nb_client) == (["TTN-0002345678"] if expected == "applied" else [])
