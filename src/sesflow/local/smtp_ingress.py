"""The SMTP listener that plays SES's receiving endpoint and its receipt rules (aiosmtpd).

    RCPT: a recipient no rule matches → 550 · DATA: past 40 MB → 552 · stamp SES's headers → store in S3 per
    rule → the rule's Lambda action (asynchronous) → 250 with the SES message id

It answers 250 only once every S3 put returned: the mail is stored before the client may forget it. STARTTLS
uses a certificate made at start; AUTH LOGIN/PLAIN (after TLS, like SES's SMTP interface) when configured.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from sesflow.local.ports import LOOPBACK, free_port
from sesflow.local.receipt_rules import (
    ReceiptRule,
    ReceivedMail,
    Verdicts,
    receipt_event,
    ses_message_id,
    stamp_headers,
)
from sesflow.local.tls import make_certificate, server_context

logger = logging.getLogger(__name__)

#: SES receiving takes mail up to 40 MB (headers and encoded body) through the S3 action.
MAX_MAIL_BYTES = 40 * 1024 * 1024

type StoreObject = Callable[[str, str, bytes], None]  # bucket, key, body


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


@dataclass(frozen=True)
class IngressSettings:
    port: int = 0
    host: str = LOOPBACK
    credentials: Credentials | None = None
    require_tls: bool = True
    size_limit: int = MAX_MAIL_BYTES


def complete_submission(raw: bytes, mail_from: str, now: datetime) -> bytes:
    """A submission server completes what a device left out: From (the authenticated MAIL FROM), Date and
    Message-ID. IoT devices often send a bare Subject and body; without a From the relay cannot say who
    sent it."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    names = {
        line.split(b":", 1)[0].strip().lower() for line in head.splitlines() if line[:1] not in (b" ", b"\t")
    }
    added = []
    if b"from" not in names and mail_from:
        added.append(f"From: {mail_from}")
    if b"date" not in names:
        added.append(f"Date: {format_datetime(now)}")
    if b"message-id" not in names:
        added.append(f"Message-ID: {make_msgid(domain='submission.local.sesflow')}")
    return ("\r\n".join(added) + "\r\n").encode() + raw if added else raw


class ReceiptRuleHandler:
    """aiosmtpd's handler: recipients checked against the rules, the mail stored and handed on."""

    def __init__(self, rules: list[ReceiptRule], store: StoreObject, verdicts: Verdicts) -> None:
        self.rules = rules
        self.store = store
        self.verdicts = verdicts
        self.received = 0  # mails stored (the bytes live in S3 only)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not any(rule.matches(address) for rule in self.rules):
            return f"550 5.1.1 <{address}>: no receipt rule accepts mail for this address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if session.authenticated:
            raw = complete_submission(raw, str(envelope.mail_from or ""), datetime.now(UTC))
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        loop = asyncio.get_running_loop()
        try:
            # boto3 blocks; the event loop keeps serving other sessions meanwhile.
            mail = await loop.run_in_executor(
                None,
                self.receive,
                raw,
                str(envelope.mail_from or ""),
                tuple(envelope.rcpt_tos),
                peer,
                str(session.host_name or "unknown"),
            )
        except Exception:
            logger.exception("could not store a mail; the client is told to retry")
            return "451 4.3.0 could not store the mail, try again later"
        return f"250 Ok {mail.message_id}"

    def receive(
        self, raw: bytes, mail_from: str, recipients: tuple[str, ...], peer: str, helo: str
    ) -> ReceivedMail:
        """Store the mail once per matching rule (the S3 action), then run each rule's Lambda action."""
        now = datetime.now(UTC)
        message_id = ses_message_id()
        arrived = ReceivedMail(message_id, mail_from, recipients, raw, now)
        stamped = stamp_headers(arrived, self.verdicts, client_ip=peer, helo=helo)
        mail = dataclasses.replace(arrived, raw=stamped)
        matched = [rule for rule in self.rules if any(rule.matches(r) for r in recipients)]
        for rule in matched:
            self.store(rule.bucket, rule.prefix + message_id, stamped)
        for rule in matched:
            if rule.invoke is not None:
                rule.invoke(receipt_event(mail, rule, self.verdicts))
        self.received += 1
        logger.info(
            "received %s for %d recipient(s) via %s", message_id, len(recipients), [r.name for r in matched]
        )
        return mail


class _Authenticator:
    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user_ok = hmac.compare_digest(auth_data.login, self.credentials.user.encode())
        password_ok = hmac.compare_digest(auth_data.password, self.credentials.password.encode())
        # handled=False: aiosmtpd then answers 535 itself (with handled=True it would say nothing at all).
        return AuthResult(success=user_ok and password_ok, handled=False)


@dataclass
class SmtpIngress:
    controller: Controller
    handler: ReceiptRuleHandler
    host: str
    port: int
    cert_path: Path

    def stop(self) -> None:
        self.controller.stop()


def start_ingress(
    rules: list[ReceiptRule], store: StoreObject, verdicts: Verdicts, settings: IngressSettings, tls_dir: Path
) -> SmtpIngress:
    # aiosmtpd sets its own deprecated Session.login_data on every AUTH and warns about it each time.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    cert_path, key_path = make_certificate(tls_dir)
    handler = ReceiptRuleHandler(rules, store, verdicts)
    options: dict[str, Any] = {
        "tls_context": server_context(cert_path, key_path),
        "require_starttls": settings.require_tls,
        "data_size_limit": settings.size_limit,
        "ident": "sesflow local SES receiving",
    }
    if settings.credentials is not None:
        options |= {
            "authenticator": _Authenticator(settings.credentials),
            "auth_required": True,
            "auth_require_tls": settings.require_tls,
        }
    port = settings.port or free_port()
    controller = Controller(handler, hostname=settings.host, port=port, **options)
    controller.start()
    return SmtpIngress(controller, handler, settings.host, controller.port, cert_path)
