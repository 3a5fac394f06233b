"""The SMTP peer's side of the campaign: a TCP fault proxy between an SMTP client and the ingress, and a
client that sends one mail per connection and tries again when it did not see its 250.

Besides the TCP faults of `tests.harness.fault_proxy` (a reset at once or after the first bytes, a delay, a
black hole), this proxy can lose the answer to DATA: everything the client sends reaches the ingress, and
once the whole mail is through, the ingress's next answer (its 250 with the SES message id) is withheld and
the client gets a reset. The ingress has stored the mail; the client, rightly, sends it again. That is
SMTP's at-least-once delivery, and the campaign counts those second copies instead of hiding them.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..harness.fault_proxy import TCP_FAULTS, FaultPlan, FaultProxy, pipe, reset
from .conftest import SMTP_PASSWORD, SMTP_USER, crlf

#: The whole mail reached the ingress; its answer to DATA is withheld and the client reset.
ANSWER_LOST = "answer_lost"
#: A header that makes a mail bigger than the TLS handshake and the commands before DATA, so the proxy can
#: tell when the whole mail has gone up (its answer is the one to lose).
PADDING = "X-Campaign-Padding: " + "\r\n ".join(["p" * 70] * 90) + "\r\n"


class SmtpFaultProxy(FaultProxy):
    """The campaign's TCP fault proxy (per connection: forward, or one fault drawn from `rates`, seeded),
    with one more fault: the answer to DATA lost."""

    tcp_faults = TCP_FAULTS | {ANSWER_LOST}

    def __init__(
        self,
        upstream: tuple[str, int],
        rates: Mapping[str, float],
        *,
        seed: int = 0,
        delay_seconds: float = 1.0,
        hold_seconds: float = 8.0,
    ) -> None:
        plan = FaultPlan(rates, seed=seed, delay_seconds=delay_seconds, hold_seconds=hold_seconds)
        super().__init__(upstream, plan, mode="tcp")
        #: how many bytes of the client's must pass before its answer can be lost (the mail's size)
        self.upload_bytes = 0

    def _serve_tcp_fault(self, client: socket.socket, fault: str) -> None:
        if fault != ANSWER_LOST:
            super()._serve_tcp_fault(client, fault)
            return
        with socket.create_connection(self.upstream, timeout=60) as upstream:
            self._lose_answer(client, upstream)

    def _lose_answer(self, client: socket.socket, upstream: socket.socket) -> None:
        """Both ways as usual until the client has sent the whole mail; then the ingress's next answer is
        read and dropped, and the client reset."""
        sent = 0
        uploaded = threading.Event()
        done = threading.Event()

        def count_upload(data: bytes) -> bool:
            nonlocal sent
            sent += len(data)
            if sent >= self.upload_bytes:
                uploaded.set()
            return True

        up = threading.Thread(target=pipe, args=(client, upstream, None, done, count_upload), daemon=True)
        up.start()
        # The first answer after the whole mail went up (the answer to DATA) is dropped.
        pipe(upstream, client, None, done, lambda _: not uploaded.is_set())
        done.set()
        reset(client)
        up.join(timeout=5)


@dataclass
class SmtpClientLog:
    """What the clients saw: mails accepted (with the id the ingress answered), attempts and failures."""

    accepted: dict[int, str] = field(default_factory=dict)  # mail number → SES message id
    attempts: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


def send_mail(
    number: int,
    host: str,
    port: int,
    cert: Path,
    raw: bytes,
    mail_from: str,
    recipients: list[str],
    log: SmtpClientLog,
    *,
    timeout: float = 5.0,
    attempts: int = 10,
) -> str | None:
    """Send until a 250 comes back (each try on a new connection), as a mail server's queue would."""
    body = crlf(raw)
    for _ in range(attempts):
        log.attempts[number] += 1
        client: smtplib.SMTP | None = None
        try:
            client = smtplib.SMTP(host, port, timeout=timeout)
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            client.ehlo()
            client.login(SMTP_USER, SMTP_PASSWORD)
            code, answer = client.mail(mail_from)
            for recipient in recipients if code == 250 else ():
                code, answer = client.rcpt(recipient)
            if code == 250:
                code, answer = client.data(body)
            if code == 250:
                message_id = answer.decode().split()[-1]
                log.accepted[number] = message_id
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    client.quit()
                return message_id
            log.failures[f"{code}"] += 1
        except (smtplib.SMTPException, OSError) as error:
            log.failures[type(error).__name__] += 1
        finally:
            if client is not None:
                client.close()
        time.sleep(0.1)
    return None
