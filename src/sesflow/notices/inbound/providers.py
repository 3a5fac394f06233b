"""Which parser provider reads a mail (the `pick_provider` step): the sender's domain (exact, then each parent
domain) looked up in the default map merged with `PROVIDER_MAP`, then the sender's registrable domain against
those of the providers' own senders, then the parser's iCalendar provider, then "unknown provider"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from typing import TYPE_CHECKING

from sesflow.mail import ParsedMail, iter_parts
from sesflow.notices.inbound.forwards import inline_forward
from sesflow.notices.inbound.headers import sender_addresses
from sesflow.notices.inbound.outcome import Result
from sesflow.notices.inbound.parser import GENERIC, provider_organizers

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

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


def default_domains(organizers: Mapping[str, str]) -> dict[str, str]:
    """{domain: parser provider} from the parser's own default senders. Where two providers share a
    domain (arelion/telia, seaborn/turkcell) the parser's first listed one wins; PROVIDER_MAP can override."""
    domains: dict[str, str] = {}
    for provider, address in organizers.items():
        domains.setdefault(domain_of(address), provider)
    return domains


def registrable_domains(organizers: Mapping[str, str]) -> dict[str, str]:
    """{registrable domain: parser provider} for the providers' default senders (`verizonbusiness.com` for
    `emea.verizonbusiness.com`). A registrable domain two providers share names neither of them."""
    owners = {provider: registrable_domain(domain_of(address)) for provider, address in organizers.items()}
    shared = Counter(owners.values())
    return {domain: provider for provider, domain in owners.items() if domain and shared[domain] == 1}


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower()


@cache
def _suffix_list() -> PublicSuffixList:
    """publicsuffix.org's list as the package bundles it (it is never fetched), loaded on the first sender
    that no listed domain claims: most mails never need it."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(domain: str) -> str | None:
    """The domain one registers (`hgc.com.hk` for `noc.hgc.com.hk`); None for a public suffix itself."""
    found = _suffix_list().privatesuffix(domain) if domain else None
    return str(found) if found else None


class ProviderMap:
    def __init__(
        self, overrides: Mapping[str, str] | None = None, organizers: Mapping[str, str] | None = None
    ) -> None:
        # The parser's own senders unless given: tests hand in a made-up set to exercise the sharing rules.
        self.organizers = dict(provider_organizers() if organizers is None else organizers)
        self.domains = default_domains(self.organizers) | {
            domain.lower().removeprefix("@"): name.lower() for domain, name in (overrides or {}).items()
        }
        self._registrable: dict[str, str] | None = None

    @property
    def registrable(self) -> dict[str, str]:
        if self._registrable is None:
            self._registrable = registrable_domains(self.organizers)
        return self._registrable

    def for_address(self, address: str) -> tuple[str, str] | None:
        """(provider, matched domain) for the address's domain or its nearest listed parent domain, else for
        its registrable domain when that is a provider's own (and no other provider's)."""
        domain = domain_of(address)
        candidate = domain
        while candidate:
            if candidate in self.domains:
                return self.domains[candidate], candidate
            candidate = candidate.partition(".")[2]
        registrable = registrable_domain(domain)
        if registrable is not None and registrable in self.registrable:
            return self.registrable[registrable], registrable
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


def forwarded_original(mail: ParsedMail) -> ParsedMail | None:
    """The provider's original a mail carries: an attached message/rfc822, else an inline forwarded block."""
    inner = forwarded_message(mail.message) or inline_forward(mail)
    return ParsedMail(inner) if inner is not None else None


def pick_provider(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The provider and the mail to parse. A trusted forwarder's mail is judged by the message it carries
    (an attached message/rfc822, else an inline forwarded block); anyone else's by its own senders (the
    INBOUND_SOURCE_HEADER's first when set, then header From, then MAIL FROM). The other reading of the mail
    (as received, or the original it carries) is kept for the parse step to try. A mail no provider claims
    ends here."""
    choice, mail.notice, mail.alternatives = choose_provider(
        mail, deps.providers, deps.settings.source_header
    )
    if isinstance(choice, UnknownProvider):
        return mail.ended(Result.UNKNOWN_PROVIDER, "senders: " + ", ".join(choice.senders))
    mail.choice = choice
    return None


def choose_provider(
    mail: InboundMail, providers: ProviderMap, source_header: str | None = None
) -> tuple[ProviderChoice | UnknownProvider, ParsedMail, tuple[ParsedMail, ...]]:
    """(the choice, the mail to parse first, the other mails to parse with the same provider)."""
    receipt, loaded = mail.receipt, mail.required_loaded()
    original = forwarded_original(loaded)
    if original is not None and mail.required_gate().forwarded_by is not None:
        senders = sender_addresses(original.message, source_header)
        return providers.choose(senders, original.message), original, (loaded,)
    own = [*sender_addresses(loaded.message, source_header), *receipt.header_senders, receipt.envelope_sender]
    choice = providers.choose(dict.fromkeys(own), loaded.message)
    return choice, loaded, (original,) if original is not None else ()
