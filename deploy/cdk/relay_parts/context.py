"""What `cdk deploy --context Name=value` sets, read and checked once (README.md lists every name)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

from constructs import Node

from .description import INCOMING_PREFIX, QUARANTINE_PREFIX, RELAY, expiration_days

MAX_PRESIGN_SECONDS: Final = 7 * 24 * 3600

_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_CONFIG_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SECRET_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ContextError(ValueError):
    """A missing or malformed `--context` value; the message names it and shows how to set it."""


class _ContextReader:
    """Reads context values by name and collects every problem, so one error can list them all."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.problems: list[str] = []

    def text(self, name: str, *, required: bool = False) -> str:
        raw: object = self.node.try_get_context(name)
        value = "" if raw is None else str(raw).strip()
        if required and not value:
            self.problems.append(f"{name} is required: cdk deploy --context {name}=...")
        return value

    def matching(
        self, name: str, patterns: tuple[re.Pattern[str], ...], must_be: str, *, required: bool = False
    ) -> str:
        """The value, if set, must match one of the patterns; `must_be` says what it should be."""
        value = self.text(name, required=required)
        if value and not any(pattern.match(value) for pattern in patterns):
            self.problems.append(f"{name} must be {must_be}, got {value!r}")
        return value

    def email(self, name: str, *, required: bool = False) -> str | None:
        return self.matching(name, (_EMAIL,), "an email address", required=required) or None

    def number(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name} must be a whole number, got {raw!r}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name} must be between {low} and {high}, got {value}")
            return default
        return value

    def boolean(self, name: str) -> bool:
        raw = self.text(name).lower()
        if raw in _TRUE:
            return True
        if raw and raw not in _FALSE:
            self.problems.append(f"{name} must be true or false, got {raw!r}")
        return False

    def check(self) -> None:
        if self.problems:
            raise ContextError(
                "the relay stack's context is incomplete:\n  - " + "\n  - ".join(self.problems)
            )


@dataclass(frozen=True)
class RelayContext:
    """What `cdk deploy --context Name=value` sets.

    Required: SenderEmail, RecipientEmail, ConfigurationSetName; everything else has a default.
    """

    sender_email: str
    recipient: str
    configuration_set: str
    allowed_senders: str = ""
    allowed_recipient_domains: str = ""
    presigned_expiration: int = 129_600
    presign_credentials_secret_arn: str | None = None
    activate_rule_set: bool = False
    reserved_concurrency: int | None = None
    dlq_alarm_threshold: int = RELAY.alarms.dlq_messages_threshold
    oldest_message_alarm_seconds: int = RELAY.alarms.oldest_message_seconds
    received_alarm_threshold: int = RELAY.alarms.received_per_period_threshold
    incoming_retention_days: int = expiration_days(RELAY.incoming, INCOMING_PREFIX)
    quarantine_retention_days: int = expiration_days(RELAY.incoming, QUARANTINE_PREFIX)
    fallback_email: str | None = None
    alarm_email: str | None = None

    @property
    def link_days(self) -> int:
        """Days an attachment must outlive its link: the link lifetime rounded up, plus one day of margin."""
        return math.ceil(self.presigned_expiration / 86_400) + 1

    @classmethod
    def from_node(cls, node: Node) -> RelayContext:
        """Read and check the context; one ContextError lists every problem."""
        read = _ContextReader(node)
        sender = read.email("SenderEmail", required=True)
        recipient = read.matching(
            "RecipientEmail", (_EMAIL, _DOMAIN), "an address or a domain SES receives for", required=True
        )
        config_set = read.matching(
            "ConfigurationSetName", (_CONFIG_SET,), "up to 64 letters, digits, '-' or '_'", required=True
        )
        secret_arn = read.matching(
            "PresignCredentialsSecretArn", (_SECRET_ARN,), "a Secrets Manager secret ARN"
        )
        reserved = read.number("ReservedConcurrency", 0, 0, 1000)
        context = cls(
            sender_email=sender or "",
            recipient=recipient,
            configuration_set=config_set,
            allowed_senders=read.text("AllowedSenders"),
            allowed_recipient_domains=read.text("AllowedRecipientDomains"),
            presigned_expiration=read.number("PresignedExpiration", 129_600, 1, MAX_PRESIGN_SECONDS),
            presign_credentials_secret_arn=secret_arn or None,
            activate_rule_set=read.boolean("ActivateRuleSet"),
            reserved_concurrency=reserved or None,
            dlq_alarm_threshold=read.number("DlqAlarmThreshold", cls.dlq_alarm_threshold, 0, 100_000),
            oldest_message_alarm_seconds=read.number(
                "OldestMessageAlarmSeconds", cls.oldest_message_alarm_seconds, 60, 14 * 86_400
            ),
            received_alarm_threshold=read.number(
                "ReceivedAlarmThreshold", cls.received_alarm_threshold, 1, 10_000_000
            ),
            incoming_retention_days=read.number(
                "IncomingRetentionDays", cls.incoming_retention_days, 1, 3650
            ),
            quarantine_retention_days=read.number(
                "QuarantineRetentionDays", cls.quarantine_retention_days, 1, 3650
            ),
            fallback_email=read.email("FallbackEmail"),
            alarm_email=read.email("AlarmEmail"),
        )
        read.check()
        return context
