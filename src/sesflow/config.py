"""Settings for each flow, read from the environment once per cold start.

The variable names are a contract with the SAM and CDK templates (docs/configuration.md lists them).
Every problem is collected before failing, so an operator fixes a deployment in one pass.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Final, Literal, overload
from urllib.parse import urlsplit

#: SigV4 pre-signed URLs live at most seven days.
MAX_PRESIGN_SECONDS: Final = 7 * 24 * 3600
_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(?P<service>[a-z0-9-]+):[a-z0-9-]*:\d{12}:.+$")
_CONFIG_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class Flow(StrEnum):
    RELAY = "relay"
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    TRACKING = "tracking"


@dataclass(frozen=True)
class Problem:
    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message}"


class ConfigError(Exception):
    """Raised once, with every problem found in the environment."""

    def __init__(self, flow: Flow, problems: list[Problem]) -> None:
        self.flow = flow
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"sesflow {flow} settings are invalid ({len(problems)} problems):\n{lines}")


@dataclass(frozen=True)
class NetBoxSettings:
    url: str
    api_token: str | None = field(repr=False)
    api_token_secret_arn: str | None


@dataclass(frozen=True)
class CommonSettings:
    idempotency_table: str
    log_level: str
    service_name: str


@dataclass(frozen=True)
class RelaySettings:
    common: CommonSettings
    incoming_bucket: str
    attachments_bucket: str
    sender_email: str
    fallback_topic_arn: str
    configuration_set: str | None
    max_recipients: int
    presigned_expiration: int
    recipients_marker: str
    allowed_senders: tuple[str, ...]
    allowed_recipient_domains: tuple[str, ...]
    presign_credentials_secret_arn: str | None
    relay_spam: bool = False
    inline_image_max_bytes: int = 100 * 1024


@dataclass(frozen=True)
class InboundSettings:
    common: CommonSettings
    netbox: NetBoxSettings
    bucket: str
    key_prefix: str
    provider_map: Mapping[str, str]
    netbox_provider_map: Mapping[str, str]
    require_auth: bool
    trusted_forwarders: tuple[str, ...]
    source_header: str | None = None  # read before From to find the sender (lists that rewrite From)


@dataclass(frozen=True)
class OutboundSettings:
    common: CommonSettings
    netbox: NetBoxSettings
    from_address: str
    configuration_set: str
    webhook_secret: str | None = field(repr=False)
    recipients_visible: bool


@dataclass(frozen=True)
class TrackingSettings:
    common: CommonSettings
    netbox: NetBoxSettings


type Settings = RelaySettings | InboundSettings | OutboundSettings | TrackingSettings


class _Reader:
    """Reads variables from one environment, noting problems instead of raising."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[Problem] = []

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def fail(self, name: str, message: str) -> None:
        self.problems.append(Problem(name, message))

    def text(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._raw(name)
        if value is None:
            if required:
                self.fail(name, "is required but not set")
            return default or ""
        return value

    def optional(self, name: str, check: Callable[[str], str | None] | None = None) -> str | None:
        value = self._raw(name)
        if value is not None and check is not None and (message := check(value)):
            self.fail(name, message)
        return value

    def checked(self, name: str, check: Callable[[str], str | None], default: str = "") -> str:
        value = self._raw(name)
        if value is None:
            if not default:
                self.fail(name, "is required but not set")
            return default
        if message := check(value):
            self.fail(name, message)
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.fail(name, f"must be a whole number, got {raw!r}")
            return default
        if not low <= value <= high:
            self.fail(name, f"must be between {low} and {high}, got {value}")
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        self.fail(name, f"must be true or false, got {raw!r}")
        return default

    def string_list(self, name: str, check: Callable[[str], str | None]) -> tuple[str, ...]:
        raw = self._raw(name)
        if raw is None:
            return ()
        items = tuple(item.strip() for item in re.split(r"[,;\s]+", raw) if item.strip())
        for item in items:
            if message := check(item):
                self.fail(name, f"{item!r}: {message}")
        return items

    def json_map(self, name: str) -> dict[str, str]:
        raw = self._raw(name)
        if raw is None:
            return {}
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            self.fail(name, f"must be a JSON object: {error.msg} at character {error.pos}")
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.fail(name, 'must be a JSON object of strings, like {"example.net": "zayo"}')
            return {}
        return {key.strip().lower(): item.strip() for key, item in value.items()}


def _email(value: str) -> str | None:
    # Loaded only by the settings that name an address: the others' handlers never import it.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        return f"is not a valid email address ({error})"
    return None


def _sender_rule(value: str) -> str | None:
    """An allowed-sender entry is a whole address or `@domain`."""
    if value.startswith("@"):
        return _domain(value[1:])
    return _email(value)


def _domain(value: str) -> str | None:
    if re.fullmatch(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", value.lower()):
        return None
    return "is not a valid domain name"


def _arn(service: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        match = _ARN.match(value)
        if match is None or match["service"] != service:
            return f"must be an {service.upper()} ARN (arn:aws:{service}:REGION:ACCOUNT:NAME)"
        return None

    return check


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str | None]:
    return lambda value: None if regex.fullmatch(value) else f"must be {what}, got {value!r}"


def _url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return f"must be an http(s) URL, got {value!r}"
    return None


def _marker(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z0-9_-]{3,64}", value):
        return None
    return "must be 3-64 letters, digits, '_' or '-'"


def _header_name(value: str) -> str | None:
    # RFC 5322's field name: printable ASCII but the colon.
    if re.fullmatch(r"[!-9;-~]{1,76}", value):
        return None
    return f"must be a mail header name like X-Original-Sender, got {value!r}"


def _log_level(value: str) -> str | None:
    if value.upper() in logging.getLevelNamesMapping():
        return None
    return f"must be a logging level (DEBUG, INFO, WARNING, ERROR), got {value!r}"


_bucket = _pattern(_BUCKET, "an S3 bucket name")
_config_set = _pattern(_CONFIG_SET, "up to 64 letters, digits, '-' or '_'")


def _common(read: _Reader) -> CommonSettings:
    return CommonSettings(
        idempotency_table=read.checked("IDEMPOTENCY_TABLE", _pattern(_TABLE, "a DynamoDB table name")),
        log_level=read.checked("LOG_LEVEL", _log_level, default="INFO").upper(),
        service_name=read.text("POWERTOOLS_SERVICE_NAME", "sesflow"),
    )


def _netbox(read: _Reader) -> NetBoxSettings:
    url = read.checked("NETBOX_URL", _url)
    token = read.optional("NETBOX_API_TOKEN")
    secret_arn = read.optional("NETBOX_API_TOKEN_SECRET_ARN", _arn("secretsmanager"))
    if token is None and secret_arn is None:
        read.fail("NETBOX_API_TOKEN", "is required (or NETBOX_API_TOKEN_SECRET_ARN)")
    return NetBoxSettings(url=url.rstrip("/"), api_token=token, api_token_secret_arn=secret_arn)


def _relay(read: _Reader) -> RelaySettings:
    return RelaySettings(
        common=_common(read),
        incoming_bucket=read.checked("INCOMING_BUCKET", _bucket),
        attachments_bucket=read.checked("ATTACHMENTS_BUCKET", _bucket),
        sender_email=read.checked("SENDER_EMAIL", _email),
        fallback_topic_arn=read.checked("SNS_TOPIC", _arn("sns")),
        configuration_set=read.optional("CONFIGURATION_SET", _config_set),
        max_recipients=read.integer("MAX_RECIPIENTS", 500, 1, 10_000),
        presigned_expiration=read.integer("PRESIGNED_EXPIRATION", 129_600, 1, MAX_PRESIGN_SECONDS),
        recipients_marker=read.checked("EMAIL_REGEX_CODE", _marker, default="Email_Rxers_Code"),
        allowed_senders=tuple(s.lower() for s in read.string_list("ALLOWED_SENDERS", _sender_rule)),
        allowed_recipient_domains=tuple(
            d.lower().lstrip("@")
            for d in read.string_list("ALLOWED_RECIPIENT_DOMAINS", lambda d: _domain(d.removeprefix("@")))
        ),
        presign_credentials_secret_arn=read.optional(
            "PRESIGN_CREDENTIALS_SECRET_ARN", _arn("secretsmanager")
        ),
        relay_spam=read.boolean("RELAY_SPAM", default=False),
        inline_image_max_bytes=read.integer("INLINE_IMAGE_MAX_BYTES", 100 * 1024, 0, 10 * 1024 * 1024),
    )


def _inbound(read: _Reader) -> InboundSettings:
    return InboundSettings(
        common=_common(read),
        netbox=_netbox(read),
        bucket=read.checked("S3_BUCKET_NAME", _bucket),
        key_prefix=read.text("S3_KEY_PREFIX", ""),
        provider_map=read.json_map("PROVIDER_MAP"),
        netbox_provider_map=read.json_map("NETBOX_PROVIDER_MAP"),
        require_auth=read.boolean("INBOUND_REQUIRE_AUTH", default=True),
        trusted_forwarders=tuple(
            s.lower() for s in read.string_list("INBOUND_TRUSTED_FORWARDERS", _sender_rule)
        ),
        source_header=read.optional("INBOUND_SOURCE_HEADER", _header_name),
    )


def _outbound(read: _Reader) -> OutboundSettings:
    return OutboundSettings(
        common=_common(read),
        netbox=_netbox(read),
        from_address=read.checked("SES_FROM_ADDRESS", _email),
        configuration_set=read.checked("SES_CONFIGURATION_SET", _config_set),
        webhook_secret=read.optional("WEBHOOK_SECRET"),
        recipients_visible=read.boolean("OUTBOUND_RECIPIENTS_VISIBLE", default=False),
    )


def _tracking(read: _Reader) -> TrackingSettings:
    return TrackingSettings(common=_common(read), netbox=_netbox(read))


_BUILDERS: Final[dict[Flow, Callable[[_Reader], Settings]]] = {
    Flow.RELAY: _relay,
    Flow.INBOUND: _inbound,
    Flow.OUTBOUND: _outbound,
    Flow.TRACKING: _tracking,
}

#: Variables each flow reads, in the order an operator sets them (used by `sesflow config check`).
VARIABLES: Final[dict[Flow, tuple[str, ...]]] = {
    Flow.RELAY: (
        "INCOMING_BUCKET",
        "ATTACHMENTS_BUCKET",
        "SENDER_EMAIL",
        "SNS_TOPIC",
        "CONFIGURATION_SET",
        "MAX_RECIPIENTS",
        "PRESIGNED_EXPIRATION",
        "EMAIL_REGEX_CODE",
        "ALLOWED_SENDERS",
        "ALLOWED_RECIPIENT_DOMAINS",
        "PRESIGN_CREDENTIALS_SECRET_ARN",
        "RELAY_SPAM",
        "INLINE_IMAGE_MAX_BYTES",
    ),
    Flow.INBOUND: (
        "NETBOX_URL",
        "NETBOX_API_TOKEN",
        "NETBOX_API_TOKEN_SECRET_ARN",
        "S3_BUCKET_NAME",
        "S3_KEY_PREFIX",
        "PROVIDER_MAP",
        "NETBOX_PROVIDER_MAP",
        "INBOUND_REQUIRE_AUTH",
        "INBOUND_TRUSTED_FORWARDERS",
        "INBOUND_SOURCE_HEADER",
    ),
    Flow.OUTBOUND: (
        "NETBOX_URL",
        "NETBOX_API_TOKEN",
        "NETBOX_API_TOKEN_SECRET_ARN",
        "SES_FROM_ADDRESS",
        "SES_CONFIGURATION_SET",
        "WEBHOOK_SECRET",
        "OUTBOUND_RECIPIENTS_VISIBLE",
    ),
    Flow.TRACKING: ("NETBOX_URL", "NETBOX_API_TOKEN", "NETBOX_API_TOKEN_SECRET_ARN"),
}
COMMON_VARIABLES: Final = ("IDEMPOTENCY_TABLE", "LOG_LEVEL", "POWERTOOLS_SERVICE_NAME")
SECRET_VARIABLES: Final = frozenset({"NETBOX_API_TOKEN", "WEBHOOK_SECRET"})


@overload
def load_settings(flow: Literal[Flow.RELAY], environ: Mapping[str, str] | None = None) -> RelaySettings: ...
@overload
def load_settings(
    flow: Literal[Flow.INBOUND], environ: Mapping[str, str] | None = None
) -> InboundSettings: ...
@overload
def load_settings(
    flow: Literal[Flow.OUTBOUND], environ: Mapping[str, str] | None = None
) -> OutboundSettings: ...
@overload
def load_settings(
    flow: Literal[Flow.TRACKING], environ: Mapping[str, str] | None = None
) -> TrackingSettings: ...
@overload
def load_settings(flow: Flow, environ: Mapping[str, str] | None = None) -> Settings: ...
def load_settings(flow: Flow, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate one flow's settings; raise ConfigError listing every problem."""
    read = _Reader(os.environ if environ is None else environ)
    settings = _BUILDERS[flow](read)
    if read.problems:
        raise ConfigError(flow, read.problems)
    return settings


@cache
def relay_settings() -> RelaySettings:
    """The relay's settings, read at the first call (the cold start) and reused after."""
    return load_settings(Flow.RELAY)


@cache
def inbound_settings() -> InboundSettings:
    return load_settings(Flow.INBOUND)


@cache
def outbound_settings() -> OutboundSettings:
    return load_settings(Flow.OUTBOUND)


@cache
def tracking_settings() -> TrackingSettings:
    return load_settings(Flow.TRACKING)
