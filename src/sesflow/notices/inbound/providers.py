"""Which parser provider reads a mail (the `pick_provider` step): the sender's domain (exact, then each parent
domain) looked up in the default map merged with `PROVIDER_MAP`, then the parser's iCalendar provider, then
"unknown provider"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

from sesflow.mail import ParsedMail, iter_parts
from sesflow.notices.inbound.forwards import inline_forward
from sesflow.notices.inbound.headers import header_addresses
from sesflow.notices.inbound.outcome import Result
from sesflow.notices.inbound.parser import GENERIC, provider_organizers

if TYPE_CHECKING:
    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome


@dataclass(frozen=True)
class ProviderChoice:
    provider: str
    sender: str  # the address the choice was made on ("" for the iCalendar fallback)
    matched: str  # the domain that matched, or "text/calendar"


@dataclass(frozen=True)
class UnknownProvider:
    senders: tuple[str, ...]


def default_domains() -> dict[str, str]:
    """{domain: parser provider} from the parser's own default senders. Where two providers share a
    domain (arelion/telia, seaborn/turkcell) the parser's first listed one wins; PROVIDER_MAP can override."""
    domains: dict[str, str] = {}
    for provider, address in provider_organizers().items():
        domains.setdefault(address.rpartition("@")[2].lower(), provider)
    return domains


class ProviderMap:
    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.domains = default_domains() | {
            domain.lower().removeprefix("@"): name.lower() for domain, name in (overrides or {}).items()
        }

    def for_address(self, address: str) -> tuple[str, str] | None:
        """(provider, matched domain) for the address's domain or its nearest listed parent domain."""
        domain = address.rpartition("@")[2].strip().strip(".").lower()
        while domain:
            if domain in self.domains:
                return self.domains[domain], domain
            _, dot, domain = domain.partition(".")
            if not dot:
                return None
        return None

    def choose(self, senders: Iterable[str], message: EmailMessage) -> ProviderChoice | UnknownProvider:
        """The first sender (most trusted first) whose domain is known; else iCalendar; else unknown."""
        tried = tuple(sender for sender in senders if sender)
        for sender in tried:
            if (found := self.for_address(sender)) is not None:
                return ProviderChoice(found[0], sender, found[1])
        if has_calendar(message):
            return ProviderChoice(GENERIC, "", "text/calendar")
        return UnknownProvider(tried)


def has_calendar(message: EmailMessage) -> bool:
    return any(part.message.get_content_type() == "text/calendar" for part in iter_parts(message))


def forwarded_message(message: EmailMessage) -> EmailMessage | None:
    """The first attached message/rfc822: the provider's original mail when someone forwarded it whole."""
    for part in iter_parts(message):
        if part.parent is not None and part.message.get_content_type() == "message/rfc822":
            inner = part.message.get_payload(0)
            if isinstance(inner, EmailMessage):
                return inner
    return None


def pick_provider(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The provider and the mail to parse. A trusted forwarder's mail is judged by the message it carries
    (an attached message/rfc822, else an inline forwarded block); anyone else's by its own senders, header
    From first, then MAIL FROM. A mail no provider claims ends here."""
    choice, mail.notice = choose_provider(mail, deps.providers)
    if isinstance(choice, UnknownProvider):
        return mail.ended(Result.UNKNOWN_PROVIDER, "senders: " + ", ".join(choice.senders))
    mail.choice = choice
    return None


def choose_provider(
    mail: InboundMail, providers: ProviderMap
) -> tuple[ProviderChoice | UnknownProvider, ParsedMail]:
    receipt, loaded = mail.receipt, mail.required_loaded()
    if mail.required_gate().forwarded_by is not None:
        inner = forwarded_message(loaded.message) or inline_forward(loaded)
        if inner is not None:
            return providers.choose(header_addresses(inner, "From"), inner), ParsedMail(inner)
    senders = [*header_addresses(loaded.message, "From"), *receipt.header_senders, receipt.envelope_sender]
    return providers.choose(dict.fromkeys(senders), loaded.message), loaded
