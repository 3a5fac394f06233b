"""Sender → parser provider: exact, parent and registrable domains, overrides, forwarded mail, the source
header, the iCalendar fallback."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from sesflow.mail import parse_mail
from sesflow.notices.inbound.headers import header_addresses, sender_addresses
from sesflow.notices.inbound.parser import GENERIC, provider_organizers
from sesflow.notices.inbound.providers import (
    ProviderChoice,
    ProviderMap,
    UnknownProvider,
    default_domains,
    forwarded_message,
)

pytestmark = pytest.mark.unit


def _mail(sender: str = "someone@example.org", *, calendar: bool = False) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["Subject"] = "Maintenance"
    message.set_content("planned work")
    if calendar:
        message.add_attachment("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", subtype="calendar")
    return message


@pytest.mark.parametrize(
    ("address", "provider"),
    [
        ("mr@zayo.com", "zayo"),
        ("MR@ZAYO.COM", "zayo"),
        ("no-reply@equinix.com", "equinix"),  # another address at the provider's domain
        ("NO-REPLY-sched-maint@EMEA.verizonbusiness.com", "verizon"),
        (
            "x@verizonbusiness.com",
            "verizon",
        ),  # the parser's address is on a subdomain: its registrable domain
        ("x@us.verizonbusiness.com", "verizon"),  # a sibling subdomain, by the registrable domain too
        ("x@verizonbusiness.com.evil.example", None),
        ("x@verizonbusiness.co", None),
        ("noc@ntt.net", "ntt"),
        ("noc@hgc.com.hk", "hgc"),
        ("noc@com.hk", None),  # a public suffix is nobody's registrable domain
        ("cdnetops@saasmail.netflix.com", "netflix"),  # parent domain
        ("gsoc-planned-event@pccwglobal.com", "pccw"),  # stored as mailto: by the parser
        ("someone@notzayo.com", None),  # a suffix is not a parent domain
        ("someone@zayo.com.evil.example", None),
    ],
)
def test_sender_domain_is_matched_exactly_or_by_parent_domain(address: str, provider: str | None) -> None:
    found = ProviderMap().for_address(address)
    assert (found[0] if found else None) == provider


def test_domains_shared_by_two_providers_go_to_the_first_the_parser_lists() -> None:
    domains = default_domains(provider_organizers())
    assert domains["arelion.com"] == "arelion"  # telia subclasses arelion with the same sender
    assert domains["superonline.net"] == "seaborn"  # turkcell shares it; PROVIDER_MAP can choose


ORGANIZERS = {
    "first": "noc@eu.example.com",  # two providers on subdomains of one registrable domain
    "second": "noc@us.example.com",
    "third": "noc@mail.example.org",
}


@pytest.mark.parametrize(
    ("address", "provider", "matched"),
    [
        ("a@eu.example.com", "first", "eu.example.com"),
        ("a@us.example.com", "second", "us.example.com"),
        ("a@example.com", None, None),  # shared registrable domain: neither
        ("a@ap.example.com", None, None),
        ("a@example.org", "third", "example.org"),
        ("a@other.example.org", "third", "example.org"),
    ],
)
def test_a_registrable_domain_two_providers_share_chooses_neither(
    address: str, provider: str | None, matched: str | None
) -> None:
    found = ProviderMap(organizers=ORGANIZERS).for_address(address)
    assert found == ((provider, matched) if provider else None)


def test_provider_map_decides_a_shared_registrable_domain() -> None:
    providers = ProviderMap({"example.com": "second"}, organizers=ORGANIZERS)
    assert providers.for_address("a@example.com") == ("second", "example.com")
    assert providers.for_address("a@eu.example.com") == ("first", "eu.example.com")  # the nearest wins


def test_provider_map_comes_before_a_registrable_domain() -> None:
    providers = ProviderMap({"@verizonbusiness.com": "zayo"})
    assert providers.for_address("x@verizonbusiness.com") == ("zayo", "verizonbusiness.com")
    assert providers.for_address("x@emea.verizonbusiness.com") == ("verizon", "emea.verizonbusiness.com")


def test_the_source_header_is_read_before_from() -> None:
    message = _mail("Provider Notices <notices@lists.example.net>")
    message["X-Original-Sender"] = "mr@zayo.com"
    assert sender_addresses(message, "X-Original-Sender") == ["mr@zayo.com", "notices@lists.example.net"]
    assert sender_addresses(message, "x-original-sender")[0] == "mr@zayo.com"  # header names ignore case
    assert sender_addresses(message) == ["notices@lists.example.net"]
    assert sender_addresses(message, "Resent-From") == ["notices@lists.example.net"]  # absent: From alone
    choice = ProviderMap().choose(sender_addresses(message, "X-Original-Sender"), message)
    assert choice == ProviderChoice("zayo", "mr@zayo.com", "zayo.com")


def test_provider_map_overrides_and_extends_the_defaults() -> None:
    providers = ProviderMap({"superonline.net": "turkcell", "@noc.example.net": "Zayo"})
    assert providers.for_address("inoc@superonline.net") == ("turkcell", "superonline.net")
    assert providers.for_address("a@eu.noc.example.net") == ("zayo", "noc.example.net")


def test_first_known_sender_decides() -> None:
    choice = ProviderMap().choose(["change@example.com", "plannedworks@colt.net"], _mail())
    assert choice == ProviderChoice("colt", "plannedworks@colt.net", "colt.net")


def test_unknown_sender_with_a_calendar_part_goes_to_the_generic_provider() -> None:
    choice = ProviderMap().choose(["noc@example.org"], _mail(calendar=True))
    assert choice == ProviderChoice(GENERIC, "", "text/calendar")


def test_unknown_sender_without_a_calendar_part_is_unknown() -> None:
    assert ProviderMap().choose(["noc@example.org", ""], _mail()) == UnknownProvider(("noc@example.org",))


def test_forwarded_message_is_the_attached_original() -> None:
    outer = _mail("noc-team@example.net")
    outer.add_attachment(_mail("mr@zayo.com"))
    parsed = parse_mail(outer.as_bytes())
    inner = forwarded_message(parsed.message)
    assert inner is not None
    assert header_addresses(inner, "From") == ["mr@zayo.com"]
    assert forwarded_message(_mail()) is None
