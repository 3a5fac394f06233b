"""The outbox plays SES delivery, which moto does not: every mail SES accepted is written to a local maildir,
optionally relayed to a real SMTP server, and its SES events (Send, Delivery, and Bounce or Complaint for
the mailbox simulator's addresses) are published to the configuration set's topic with the mail's tags.

    accept (from the wire recorder) → write to the maildir → relay (optional) → publish the events
"""

from __future__ import annotations

import json
import logging
import mailbox
import queue
import smtplib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from sesflow.local import ses_events
from sesflow.local.ses_wire import AcceptedMail

logger = logging.getLogger(__name__)

SIMULATOR_DOMAIN = "simulator.amazonses.com"


class TopicPublisher(Protocol):
    def publish(self, *, TopicArn: str, Message: str) -> object: ...


@dataclass(frozen=True)
class Outcome:
    """What the simulated delivery did for one recipient."""

    recipient: str
    kind: str  # Delivery, Bounce, Complaint
    bounce_type: str = ""
    bounce_sub_type: str = ""
    diagnostic: str = ""


def delivery_outcomes(recipient: str) -> list[Outcome]:
    """SES's mailbox simulator: each address's fixed result; every other address is delivered."""
    local, _, domain = recipient.lower().rpartition("@")
    if domain != SIMULATOR_DOMAIN:
        return [Outcome(recipient, "Delivery")]
    mailbox_name = local.split("+", 1)[0]  # the simulator ignores a +label
    if mailbox_name == "bounce":
        return [Outcome(recipient, "Bounce", "Permanent", "General", "smtp; 550 5.1.1 user unknown")]
    if mailbox_name == "suppressionlist":
        return [
            Outcome(recipient, "Bounce", "Permanent", "OnAccountSuppressionList", "Amazon SES did not send")
        ]
    if mailbox_name == "complaint":
        return [Outcome(recipient, "Delivery"), Outcome(recipient, "Complaint")]
    return [Outcome(recipient, "Delivery")]  # success@ and ooto@ (the autoreply is not an event)


def ses_event(kind: str, mail: AcceptedMail, outcomes: list[Outcome], at: datetime) -> dict[str, Any]:
    """One SES event-publishing record (the `eventType` shape a configuration set sends to SNS), built by
    `sesflow.local.ses_events` from what the send request carried."""
    parsed = message_from_bytes(mail.raw, policy=policy.default)
    common = ses_events.mail_object(
        mail.message_id,
        mail.destinations,
        sent=mail.timestamp,
        source=mail.source,
        subject=str(parsed.get("Subject") or ""),
        tags={name: [value] for name, value in mail.tags.items()},
        configuration_set=mail.configuration_set or "",
    )
    recipients = [item.recipient for item in outcomes]
    if kind == "Send":
        return ses_events.send_event(common)
    if kind == "Delivery":
        return ses_events.delivery_event(
            common, recipients, at=at, smtp_response="250 2.6.0 Message received"
        )
    if kind == "Bounce":
        first = outcomes[0]
        return ses_events.bounce_event(
            common,
            recipients,
            at=at,
            bounce_type=first.bounce_type,
            sub_type=first.bounce_sub_type,
            diagnostic=first.diagnostic,
        )
    if kind == "Complaint":
        return ses_events.complaint_event(common, recipients, at=at)
    raise ValueError(f"no SES event of type {kind!r}")


type EventBuilder = Callable[[str, AcceptedMail, list[Outcome], datetime], dict[str, Any]]


def events_for(mail: AcceptedMail, builder: EventBuilder, now: datetime) -> list[dict[str, Any]]:
    """Send first, then one event per result kind covering every recipient with that result."""
    events = [builder("Send", mail, [], now)]
    by_kind: dict[str, list[Outcome]] = {}
    for recipient in mail.destinations:
        for outcome in delivery_outcomes(recipient):
            key = f"{outcome.kind}:{outcome.bounce_type}"
            by_kind.setdefault(key, []).append(outcome)
    for offset, outcomes in enumerate(by_kind.values(), start=1):
        events.append(builder(outcomes[0].kind, mail, outcomes, now + timedelta(milliseconds=offset)))
    return events


@dataclass
class Outbox:
    """Takes accepted mails from the wire recorder and delivers them on its own thread, so moto's answer to
    the sender is never held up by the maildir, the relay or SNS."""

    maildir: Path
    publisher: TopicPublisher
    event_destinations: Mapping[str, str]  # configuration set → topic ARN
    relay_to: tuple[str, int] | None = None
    #: where accepted mails wait (the wire recorder puts them here); None ends the outbox's thread
    pending: queue.Queue[AcceptedMail | None] = field(default_factory=queue.Queue)
    build_event: EventBuilder = ses_event
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: the latest deliveries, oldest first (the maildir keeps them all; this list is cut at `keep`)
    delivered: list[AcceptedMail] = field(default_factory=list)
    keep: int = 1000
    failures: int = 0

    def accept(self, mail: AcceptedMail) -> None:
        self.pending.put(mail)

    def start(self) -> None:
        self.maildir.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(self.maildir, create=True)  # makes new/, cur/ and tmp/ only if the folder is new
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.pending.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while (mail := self.pending.get()) is not None:
            try:
                self.deliver(mail)
            except Exception:
                # One broken delivery must not stop the outbox; the stack's log keeps the trace.
                self.failures += 1
                logger.exception("outbox could not deliver %s", mail.message_id)

    def deliver(self, mail: AcceptedMail) -> None:
        write_to_maildir(self.maildir, mail)
        if self.relay_to is not None:
            relay_mail(mail, self.relay_to)
        topic = self.event_destinations.get(mail.configuration_set or "")
        if topic is not None:
            for event in events_for(mail, self.build_event, datetime.now(UTC)):
                self.publisher.publish(TopicArn=topic, Message=json.dumps(event))
        with self._lock:
            self.delivered.append(mail)
            if len(self.delivered) > 2 * self.keep:
                del self.delivered[: self.keep]
        logger.info("outbox delivered %s to %d recipient(s)", mail.message_id, len(mail.destinations))

    def mails(self) -> list[EmailMessage]:
        return read_maildir(self.maildir)


def write_to_maildir(directory: Path, mail: AcceptedMail) -> str:
    """The mail as delivered: the envelope in headers an MDA adds (Return-Path, X-Original-To), then SES's
    message id, then the mail's own bytes untouched."""
    envelope = (
        f"Return-Path: <{mail.source}>\r\n"
        f"X-Original-To: {', '.join(mail.destinations)}\r\n"
        f"X-SES-Message-ID: {mail.message_id}\r\n"
    ).encode()
    if mail.configuration_set:
        envelope += f"X-SES-Configuration-Set: {mail.configuration_set}\r\n".encode()
    box = mailbox.Maildir(directory, create=True)
    return box.add(envelope + mail.raw)


def read_maildir(directory: Path) -> list[EmailMessage]:
    """Every delivered mail, oldest first."""
    if not directory.exists():
        return []
    paths = sorted(
        (
            path
            for sub in ("new", "cur")
            if (directory / sub).is_dir()
            for path in (directory / sub).iterdir()
        ),
        key=lambda path: (path.stat().st_mtime_ns, path.name),
    )
    mails = []
    for path in paths:
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        mails.append(parsed)
    return mails


def relay_mail(mail: AcceptedMail, target: tuple[str, int]) -> None:
    host, port = target
    with smtplib.SMTP(host, port, timeout=30) as client:
        client.sendmail(mail.source, list(mail.destinations), mail.raw)


def parse_smtp_target(value: str) -> tuple[str, int]:
    """`host:port` (SESFLOW_OUTBOX_SMTP)."""
    host, separator, port = value.strip().rpartition(":")
    if not separator or not host or not port.isdigit():
        raise ValueError(f"SESFLOW_OUTBOX_SMTP must be host:port, got {value!r}")
    return host, int(port)
