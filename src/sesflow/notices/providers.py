"""Which parser provider reads a mail: the sender's domain (exact, then each parent domain) looked up in the
default map merged with `PROVIDER_MAP`, then the parser's iCalendar provider, then "unknown provider"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

from sesflow.mail import header_text, iter_parts
from sesflow.notices.parser import GENERIC, provider_organizers


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


def header_addresses(message: EmailMessage, name: str) -> list[str]:
    text = header_text(message, name) or ""
    return [address.lower() for _, address in getaddresses([text]) if "@" in address]


def forwarded_message(message: EmailMessage) -> EmailMessage | None:
    """The first attached message/rfc822: the provider's original mail when someone forwarded it whole."""
    for part in iter_parts(message):
        if part.parent is not None and part.message.get_content_type() == "message/rfc822":
            inner = part.message.get_payload(0)
            if isinstance(inner, EmailMessage):
                return inner
    return None
