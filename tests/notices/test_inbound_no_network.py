"""No parse waits on the network: the parser's Cogent provider turns a city into a time zone, and looks a
city its database lacks up on a web geocoder (retried for seconds). With every socket refused, such a
notice ends as a parse error at once, and a city the database has is still read."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from sesflow.mail import parse_mail
from sesflow.notices.inbound.context import InboundMail
from sesflow.notices.inbound.parser import ParseFailed, parse_maintenances, warm_parser
from sesflow.notices.inbound.pipeline import INBOUND
from sesflow.notices.inbound.receipt import read_receipts

from .builders import FakeInbox
from .conftest import BUCKET, PREFIX, receipt_event

pytestmark = pytest.mark.unit

COGENT = "support@cogentco.com"


def cogent_notice(city: str) -> bytes:
    """A Cogent notice in the text layout its parser reads, for a circuit in `city`."""
    message = EmailMessage()
    message["From"] = COGENT
    message["Subject"] = f"11/19/2031 Circuit Provider Maintenance - {city} 1-300123456"
    message["Date"] = "Mon, 10 Nov 2031 10:00:00 +0000"
    message.set_content(
        "CIRCUIT PROVIDER MAINTENANCE\n\nDear Cogent Customer,\n\n"
        "Start time: 10:00pm CT 19/11/2031\nEnd time: 5:00am CT 20/11/2031\n"
        "Work order number: VN16123\nOrder ID(s) impacted: 1-300123456\n"
        "Expected Outage/Downtime: 7 hours\n\n"
        f"Cogent customers receiving service in {city} will be affected by this outage.\n"
    )
    return message.as_bytes()


@pytest.fixture
def sockets_refused(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection attempt is noted and refused, as in a Lambda with no route out. The parser's real
    geocoder is put back (the suite's stand-in would fail the test by itself), so only sesflow's own guard
    keeps the parse off the network."""
    import circuit_maintenance_parser.utils as parser_utils  # type: ignore[import-untyped]
    from geopy.geocoders import Nominatim  # type: ignore[import-untyped]

    warm_parser()  # the cities database and the time-zone finder are local files: load them first
    monkeypatch.setattr(parser_utils, "Nominatim", Nominatim)
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)  # a name lookup is a wait on the network too
    return attempts


def test_a_city_missing_from_the_parsers_database_fails_the_parse_at_once(sockets_refused: list[Any]) -> None:
    started = time.monotonic()
    found = parse_maintenances("cogent", parse_mail(cogent_notice("Qwertzhausen, ZZ")).message)
    assert time.monotonic() - started < 2
    assert isinstance(found, ParseFailed)
    assert "Qwertzhausen, ZZ" in found.reason
    assert sockets_refused == []


def test_a_city_in_the_parsers_database_is_read_without_the_network(sockets_refused: list[Any]) -> None:
    found = parse_maintenances("cogent", parse_mail(cogent_notice("Edina, MN")).message)
    assert not isinstance(found, ParseFailed)
    [maintenance] = found
    # 10:00pm in Edina (US Central, UTC-6 in November) is 04:00 UTC the next day.
    assert (maintenance.start, maintenance.circuits[0].circuit_id) == (
        datetime(2031, 11, 20, 4, 0, tzinfo=UTC),
        "1-300123456",
    )
    assert sockets_refused == []


def test_the_inbound_steps_end_such_a_notice_as_a_parse_error_quickly(sockets_refused: list[Any]) -> None:
    inbox = FakeInbox()
    inbox.store.put_bytes(BUCKET, PREFIX + "ses-0001", cogent_notice("Qwertzhausen, ZZ"))
    [receipt] = read_receipts(receipt_event("ses-0001", source=COGENT))
    started = time.monotonic()
    outcome = INBOUND.through("parse").run(InboundMail(receipt), inbox.deps)
    assert time.monotonic() - started < 3
    assert outcome is not None
    assert (outcome.result, outcome.provider) == ("parse_error", "cogent")
    assert "Qwertzhausen, ZZ" in outcome.detail
    assert sockets_refused == []
