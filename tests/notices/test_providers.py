"""Sender → parser provider: exact and parent domains, overrides, forwarded mail, the iCalendar fallback."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from sesflow.mail import parse_mail
from sesflow.notices.inbound.headers import header_addresses
from sesflow.notices.inbound.parser import GENERIC
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
        ("x@verizonbusiness.com", None),  # the parser's address is on a subdomain: the parent is not listed
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
    domains = default_domains()
    assert domains["arelion.com"] == "arelion"  # telia subclasses arelion with the same sender
    assert domains["superonline.net"] == "seaborn"  # turkcell shares it; PROVIDER_MAP can choose


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
