"""The typed edge over circuit-maintenance-parser: its provider classes, one call that turns a mail into the
maintenances it announces, and the `parse` step that makes it. Nothing else in sesflow imports the parser."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import cache
from typing import TYPE_CHECKING, Any

from sesflow.notices.inbound.outcome import Result

if TYPE_CHECKING:
    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome

# On a mail it cannot read the parser logs the whole mail at ERROR; a mail body must never reach our logs,
# and the reason is reported by us (ParseFailed), so its own log lines are kept to CRITICAL.
logging.getLogger("circuit_maintenance_parser").setLevel(logging.CRITICAL)

#: The parser's name for its iCalendar (BCOP) provider, the fallback for senders nobody mapped.
GENERIC = "genericprovider"


@dataclass(frozen=True)
class CircuitImpact:
    circuit_id: str
    impact: str  # NO-IMPACT, REDUCED-REDUNDANCY, DEGRADED or OUTAGE: the same strings as the plugin's


@dataclass(frozen=True)
class ParsedMaintenance:
    """One maintenance window as the parser read it (times in UTC)."""

    provider: str  # the parser's provider name, e.g. "zayo"
    maintenance_id: str
    status: str  # the parser's status, including its dummy NO-CHANGE
    start: datetime
    end: datetime
    stamp: datetime  # when the provider issued this notice
    sequence: int
    summary: str
    account: str
    circuits: tuple[CircuitImpact, ...]


@dataclass(frozen=True)
class ParseFailed:
    """Every processor of the provider failed; `reason` is the parser's own explanation."""

    reason: str


@cache
def parser_package() -> Any:  # noqa: ANN401 - the untyped circuit_maintenance_parser module
    """circuit-maintenance-parser, imported on first use: its package imports every provider's parser, bs4,
    numpy and timezonefinder (about half a second), which a mail the gate refuses never needs."""
    import circuit_maintenance_parser  # type: ignore[import-untyped]
    from circuit_maintenance_parser.utils import Geolocator  # type: ignore[import-untyped]

    # A city missing from the parser's database is looked up on OpenStreetMap's web geocoder, retried for
    # seconds; a Lambda without a route out would wait for its timeout. The city's notice fails instead.
    Geolocator.get_location_from_api = staticmethod(no_web_geocoding)
    return circuit_maintenance_parser


def no_web_geocoding(city: str) -> tuple[float, float]:
    """Stands in for the parser's web lookup of a city's coordinates: no parse waits on the network."""
    raise LookupError(f"{city!r} is not in the parser's cities database (no web lookup is made)")


def warm_parser() -> None:
    """Load what the parser otherwise loads on the first notice that names a city or a time zone: its cities
    database and its time-zone finder, both kept on the class for the life of the process (priming before a
    SnapStart snapshot)."""
    parser_package()
    # Imported with the package above; the class holds both caches.
    from circuit_maintenance_parser.utils import Geolocator

    loaded = (Geolocator.db_location, Geolocator.timezone)
    logging.getLogger(__name__).debug("parser caches loaded: %d cities", len(loaded[0]))


def provider_organizers() -> dict[str, str]:
    """{parser provider name: its default sender address}, for every provider the parser ships."""
    organizers: dict[str, str] = {}
    for provider in parser_package().SUPPORTED_PROVIDERS:
        # PCCW's address is stored as "mailto:…"; the generic provider's is the placeholder "unknown".
        address = str(provider.get_default_organizer()).removeprefix("mailto:")
        if "@" in address:
            organizers[str(provider.get_provider_type())] = address
    return organizers


def is_known_provider(name: str) -> bool:
    return name in {str(provider.get_provider_type()) for provider in parser_package().SUPPORTED_PROVIDERS}


def parse_maintenances(provider: str, message: EmailMessage) -> list[ParsedMaintenance] | ParseFailed:
    """All maintenances in the mail, in the parser's order; `[]` when the provider's filters say the mail
    is not a maintenance notice."""
    # Imported here with the rest of the parser (see `parser_package`).
    from circuit_maintenance_parser.errors import ProviderError  # type: ignore[import-untyped]

    cmp = parser_package()
    parser = cmp.init_provider(provider)
    if parser is None:
        return ParseFailed(f"the parser has no provider {provider!r}")
    # From an EmailMessage, not bytes: init_from_email_bytes gives up on a single non-UTF-8 byte.
    data = cmp.NotificationData.init_from_emailmessage(message)
    if data is None:
        return ParseFailed("the parser could not read the mail (a Date header is required)")
    try:
        found = parser.get_maintenances(data)
    except ProviderError as error:
        return ParseFailed(str(error).strip())
    return [_typed(item) for item in found]


def parse(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """Every maintenance the chosen provider's parser finds in the mail to parse or, when it finds none, in
    the other reading of a forward (the mail as received, or the original it carries), with the same
    provider. A mail no reading of which gives a maintenance ends here, as the first reading did."""
    provider = mail.required_choice().provider
    readings = (mail.required_notice(), *mail.alternatives)
    first: list[ParsedMaintenance] | ParseFailed | None = None
    for reading in readings:
        parsed = parse_maintenances(provider, reading.message)
        if isinstance(parsed, list) and parsed:
            mail.notice, mail.maintenances = reading, tuple(parsed)
            return None
        first = parsed if first is None else first
    tried = " (read as forwarded and as received)" if len(readings) > 1 else ""
    if isinstance(first, ParseFailed):
        return mail.ended(Result.PARSE_ERROR, first.reason + tried)
    return mail.ended(Result.NOT_A_NOTICE, "the parser found no maintenance" + tried)


def _typed(item: Any) -> ParsedMaintenance:  # noqa: ANN401 - the parser's untyped pydantic model
    return ParsedMaintenance(
        provider=str(item.provider),
        maintenance_id=str(item.maintenance_id),
        status=str(item.status.value),
        start=datetime.fromtimestamp(item.start, UTC),
        end=datetime.fromtimestamp(item.end, UTC),
        stamp=datetime.fromtimestamp(item.stamp, UTC),
        sequence=int(item.sequence),
        summary=str(item.summary or ""),
        account=str(item.account),
        circuits=tuple(CircuitImpact(str(c.circuit_id), str(c.impact.value)) for c in item.circuits),
    )
