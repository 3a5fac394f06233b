"""SES receiving as the local stack plays it: receipt rules that match recipients, the headers SES adds to a
stored mail (verdicts, Received-SPF, Authentication-Results, X-SES-RECEIPT), and the receipt event a
rule's Lambda action sends."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message
from email.utils import format_datetime
from typing import Any

VERDICT_NAMES = ("spam", "virus", "spf", "dkim", "dmarc")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class Verdicts:
    """What SES's scans concluded. A loopback sender cannot be checked for SPF or DKIM, so the local stack
    trusts it (PASS) unless told otherwise (SESFLOW_LOCAL_VERDICTS='{"spf": "FAIL"}')."""

    spam: str = "PASS"
    virus: str = "PASS"
    spf: str = "PASS"
    dkim: str = "PASS"
    dmarc: str = "PASS"

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Verdicts:
        unknown = set(values) - set(VERDICT_NAMES)
        if unknown:
            raise ValueError(f"unknown verdicts {sorted(unknown)}: use {', '.join(VERDICT_NAMES)}")
        return cls(**{name: str(value).upper() for name, value in values.items()})

    def as_event(self) -> dict[str, dict[str, str]]:
        return {f"{name}Verdict": {"status": getattr(self, name)} for name in VERDICT_NAMES}


@dataclass(frozen=True)
class ReceiptRule:
    """Recipients (whole addresses or bare domains) → an S3 action, then optionally a Lambda action."""

    name: str
    recipients: tuple[str, ...]
    bucket: str
    prefix: str
    invoke: Callable[[dict[str, Any]], object] | None = None
    function_arn: str = ""

    def matches(self, address: str) -> bool:
        address = address.lower()
        domain = address.rpartition("@")[2]
        return any(address == r.lower() or domain == r.lower() for r in self.recipients)


@dataclass(frozen=True)
class ReceivedMail:
    message_id: str
    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes  # with SES's headers on top, once stamped
    received: datetime = field(default_factory=lambda: datetime.now(UTC))


def ses_message_id() -> str:
    """An id shaped like SES's (40 lower-case base32 characters): also the stored object's key."""
    return "".join(secrets.choice(_BASE32) for _ in range(40))


def stamp_headers(arrived: ReceivedMail, verdicts: Verdicts, *, client_ip: str, helo: str) -> bytes:
    """SES prepends its own headers to a stored mail; the relay and inbound read the verdicts there."""
    message_id, mail_from, recipients = arrived.message_id, arrived.mail_from, arrived.recipients
    sender_domain = mail_from.rpartition("@")[2] or helo
    spf, dkim, dmarc = verdicts.spf.lower(), verdicts.dkim.lower(), verdicts.dmarc.lower()
    receipt = base64.b64encode(os.urandom(48)).decode()
    lines = [
        f"Return-Path: <{mail_from}>",
        f"Received: from {helo} ([{client_ip}]) by inbound-smtp.local.sesflow with SMTP id {message_id}"
        f" for {', '.join(recipients)}; {format_datetime(arrived.received)}",
        f"X-SES-Spam-Verdict: {verdicts.spam}",
        f"X-SES-Virus-Verdict: {verdicts.virus}",
        f"Received-SPF: {spf} (spfCheck: local stack verdict for {sender_domain}) client-ip={client_ip};"
        f" envelope-from={mail_from}; helo={helo};",
        f"Authentication-Results: amazonses.com; spf={spf} smtp.mailfrom={mail_from};"
        f" dkim={dkim} header.i=@{sender_domain}; dmarc={dmarc} header.from={sender_domain};",
        f"X-SES-RECEIPT: {receipt}",
    ]
    return ("\r\n".join(lines) + "\r\n").encode() + arrived.raw


def _common_headers(parsed: Message, return_path: str) -> dict[str, Any]:
    """The headers SES reads out for the event's `commonHeaders`."""

    def addresses(name: str) -> list[str]:
        return [str(v) for v in parsed.get_all(name) or ()]

    common: dict[str, Any] = {
        "returnPath": return_path,
        "from": addresses("From"),
        "to": addresses("To"),
        "messageId": str(parsed.get("Message-ID") or ""),
        "subject": str(parsed.get("Subject") or ""),
    }
    if date := parsed.get("Date"):
        common["date"] = str(date)
    if cc := addresses("Cc"):
        common["cc"] = cc
    return common


def receipt_event(mail: ReceivedMail, rule: ReceiptRule, verdicts: Verdicts) -> dict[str, Any]:
    """The event SES's Lambda action sends (asynchronous invoke): headers and verdicts, never the body."""
    parsed = message_from_bytes(mail.raw, policy=policy.compat32)
    headers = [{"name": name, "value": str(value)} for name, value in parsed.items()]
    common = _common_headers(parsed, mail.mail_from)
    matched = [r for r in mail.recipients if rule.matches(r)]
    timestamp = mail.received.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "Records": [
            {
                "eventSource": "aws:ses",
                "eventVersion": "1.0",
                "ses": {
                    "mail": {
                        "timestamp": timestamp,
                        "source": mail.mail_from,
                        "messageId": mail.message_id,
                        "destination": list(mail.recipients),
                        "headersTruncated": False,
                        "headers": headers,
                        "commonHeaders": common,
                    },
                    "receipt": {
                        "timestamp": timestamp,
                        "processingTimeMillis": 1,
                        "recipients": matched,
                        **verdicts.as_event(),
                        "action": {
                            "type": "Lambda",
                            "functionArn": rule.function_arn,
                            "invocationType": "Event",
                        },
                    },
                },
            }
        ]
    }
