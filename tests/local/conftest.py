"""The local stack for end-to-end tests: started once per module on free ports, with short visibility
timeouts, and helpers that talk to it the way users do (SMTP over a real socket)."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sesflow.local.ses_wire import AcceptedMail
from sesflow.local.smtp_ingress import Credentials
from sesflow.local.stack import Stack

SMTP_USER = "AKIASESFLOWLOCAL"
SMTP_PASSWORD = "local-smtp-password"
CREDENTIALS = Credentials(SMTP_USER, SMTP_PASSWORD)


def wait_for[T](check: Callable[[], T | None], timeout: float = 30.0, every: float = 0.1) -> T | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(every)
    return None


def smtp_client(stack: Stack, *, login: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP(stack.ingress.host, stack.ingress.port, timeout=30)
    client.starttls(context=ssl.create_default_context(cafile=str(stack.ingress.cert_path)))
    client.ehlo()
    if login:
        client.login(SMTP_USER, SMTP_PASSWORD)
    return client


def submit(stack: Stack, raw: bytes, mail_from: str, to: str) -> str:
    """The SES message id from the 250 answer to DATA."""
    with smtp_client(stack) as client:
        client.mail(mail_from)
        code, _ = client.rcpt(to)
        assert code == 250
        code, answer = client.data(raw)
    assert code == 250, answer
    return answer.decode().split()[-1]


def parsed(mail: AcceptedMail) -> EmailMessage:
    message = message_from_bytes(mail.raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def relayed_for(stack: Stack, reply_to: str, timeout: float = 30.0) -> list[AcceptedMail]:
    """Every relayed mail answering to `reply_to` (the device's address) once at least one is there."""

    def found() -> list[AcceptedMail] | None:
        mails = [m for m in stack.outbox.delivered if str(parsed(m)["Reply-To"] or "") == reply_to]
        return mails or None

    return wait_for(found, timeout) or []


def json_of(body: str) -> Any:
    import json

    return json.loads(body)
