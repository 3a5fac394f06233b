"""Sending raw MIME through SES v2, within SES's limits and the account's send rate.

Limits are checked before AWS is called, so a message that can never be sent fails fast and
permanently. Every AWS error is classified: transient ones are worth a retry, permanent ones never.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

if TYPE_CHECKING:
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sesv2.type_defs import MessageTagTypeDef, SendEmailRequestTypeDef

#: SES v2 SendEmail (raw) and SES SMTP accept 40 MB; SES v1 SendRawEmail only 10 MB.
MAX_MESSAGE_BYTES: Final = 40 * 1024 * 1024
#: To + Cc + Bcc per message; SES does not raise this limit.
MAX_RECIPIENTS: Final = 50
_TAG_PART = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TRANSIENT_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "MaxSendRateExceeded",
        "LimitExceededException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServiceError",
        "RequestTimeout",
        # A paused or suspended account: nothing is wrong with the message, so keep it for later.
        "SendingPausedException",
        "AccountSuspendedException",
    }
)
#: The request never left: SES cannot have taken the message.
_NOT_SENT_TRANSPORT = (EndpointConnectionError, ConnectTimeoutError)
#: The request went out and the answer was lost: SES may have taken the message.
_UNCERTAIN_TRANSPORT = (ReadTimeoutError, ConnectionClosedError)
#: A gateway between us and SES answered for it (bad gateway, gateway timeout): the request may have reached
#: SES, which may have taken the message. SES's own errors carry one of its codes instead.
_GATEWAY_GAVE_UP: Final = frozenset({502, 504})
#: The code of an UncertainSendError (a lost answer).
UNCERTAIN_CODE: Final = "ConnectionError"
#: Attempts per message: SendEmail has no idempotency token, so only failures where SES surely did not take
#: the message are retried, here rather than by botocore (whose retries would also repeat a lost answer).
SEND_ATTEMPTS: Final = 5


class SendError(Exception):
    """A message was not sent. `code` is SES's error code, or ours for limits checked locally."""

    transient: bool = False
    uncertain: bool = False

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class TransientSendError(SendError):
    """Worth retrying later: throttling, SES unavailable, a broken connection."""

    transient = True


class PermanentSendError(SendError):
    """Retrying cannot help: the message, an address or the sending identity is refused."""


class UncertainSendError(TransientSendError):
    """The request reached SES but its answer was lost: the message may have gone. Never resend it blindly;
    callers that must send exactly once wait for SES's own events (the `Send` event) to tell."""

    uncertain = True


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    recipients: tuple[str, ...]


class MailSender(Protocol):
    """What a flow needs from SES: one raw MIME message sent to an envelope of recipients. `SesSender` is it;
    the dry runs and the tests give recorders."""

    def send_raw(
        self,
        raw: bytes,
        *,
        from_address: str,
        recipients: Sequence[str],
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SentMessage: ...


@dataclass(frozen=True)
class NotedSend:
    """A mail a dry run would have handed to SES."""

    raw: bytes
    recipients: tuple[str, ...]
    tags: Mapping[str, str]


@dataclass
class NotedSends:
    """The dry runs' sender: takes every mail as SES takes a valid one, keeps it, and sends nothing."""

    sends: list[NotedSend] = field(default_factory=list)

    def send_raw(
        self,
        raw: bytes,
        *,
        from_address: str,
        recipients: Sequence[str],
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SentMessage:
        self.sends.append(NotedSend(raw, tuple(recipients), dict(tags or {})))
        return SentMessage(f"dry-run-{len(self.sends)}", tuple(recipients))


def classify(error: Exception) -> SendError:
    """Turn a boto3/botocore failure into a transient or permanent send error."""
    if isinstance(error, SendError):
        return error
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Unknown")
        message = error.response.get("Error", {}).get("Message", str(error))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        if status in _GATEWAY_GAVE_UP and code not in _TRANSIENT_CODES:
            return UncertainSendError(f"SES answer lost: HTTP {status} {message}", code=UNCERTAIN_CODE)
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientSendError(f"SES {code}: {message}", code=code)
        return PermanentSendError(f"SES {code}: {message}", code=code)
    if isinstance(error, _NOT_SENT_TRANSPORT):
        return TransientSendError(f"SES unreachable: {error}", code="Unreachable")
    if isinstance(error, _UNCERTAIN_TRANSPORT):
        return UncertainSendError(f"SES answer lost: {error}", code=UNCERTAIN_CODE)
    if isinstance(error, BotoCoreError):
        return PermanentSendError(f"SES request invalid: {error}", code=type(error).__name__)
    raise TypeError(f"not an AWS error: {error!r}") from error


class SendRateLimiter:
    """A token bucket: sends are spaced so no second ever holds more than `rate` sends.

    The bucket holds one token, so a burst is smoothed rather than allowed up front.
    The clock and sleep are injectable so tests measure time without waiting.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"send rate must be positive, got {rate}")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next_free = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a send may start; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_free)
            self._next_free = start + 1.0 / self.rate
        waited = start - now
        if waited > 0:
            self._sleep(waited)
        return waited


class SendQuotaReader(Protocol):
    """SES v1's client, which reports the same quota through GetSendQuota."""

    def get_send_quota(self) -> Mapping[str, Any]: ...


def account_send_rate(sesv2: SESV2Client, ses_v1: SendQuotaReader | None = None) -> float:
    """The account's maximum sends per second, as SES reports it.

    SES v2's GetAccount is the source; an endpoint that does not offer it (moto's server answers 404) is asked
    through SES v1's GetSendQuota instead, which reports the same figure.
    """
    try:
        return float(sesv2.get_account()["SendQuota"]["MaxSendRate"])
    except ClientError as error:
        not_offered = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404
        if ses_v1 is None or not not_offered:
            raise
    return float(ses_v1.get_send_quota()["MaxSendRate"])


def _validate_tags(tags: Mapping[str, str]) -> list[MessageTagTypeDef]:
    for name, value in tags.items():
        if not (_TAG_PART.match(name) and _TAG_PART.match(value)):
            raise PermanentSendError(
                f"message tag {name}={value!r}: SES allows only letters, digits, '_' and '-'",
                code="InvalidTag",
            )
    return [{"Name": name, "Value": value} for name, value in tags.items()]


class SesSender:
    """Sends raw MIME with SES v2 `SendEmail`, one message per call, rate-limited."""

    def __init__(
        self,
        sesv2: SESV2Client,
        *,
        limiter: SendRateLimiter | None = None,
        rate_source: Callable[[SESV2Client], float] = account_send_rate,
        attempts: int = SEND_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sesv2 = sesv2
        self._limiter = limiter
        self._rate_source = rate_source
        self._attempts = attempts
        self._sleep = sleep
        self._limiter_lock = threading.Lock()

    @property
    def limiter(self) -> SendRateLimiter:
        """Built at the first send from the account's quota, then kept for the process."""
        with self._limiter_lock:
            if self._limiter is None:
                try:
                    rate = self._rate_source(self.sesv2)
                except (ClientError, BotoCoreError) as error:
                    raise classify(error) from error
                self._limiter = SendRateLimiter(rate)
            return self._limiter

    def send_raw(
        self,
        raw: bytes,
        *,
        from_address: str,
        recipients: Sequence[str],
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SentMessage:
        """Send one MIME message to `recipients` (the envelope; headers may show fewer)."""
        if len(raw) > MAX_MESSAGE_BYTES:
            raise PermanentSendError(
                f"message is {len(raw)} bytes; SES accepts at most {MAX_MESSAGE_BYTES}",
                code="MessageTooLarge",
            )
        if not recipients:
            raise PermanentSendError("message has no recipients", code="NoRecipients")
        if len(recipients) > MAX_RECIPIENTS:
            raise PermanentSendError(
                f"message has {len(recipients)} recipients; SES accepts at most {MAX_RECIPIENTS}",
                code="TooManyRecipients",
            )
        request: SendEmailRequestTypeDef = {
            "FromEmailAddress": from_address,
            "Destination": {"BccAddresses": list(recipients)},
            "Content": {"Raw": {"Data": raw}},
        }
        if configuration_set:
            request["ConfigurationSetName"] = configuration_set
        if tags:
            request["EmailTags"] = _validate_tags(tags)
        for attempt in range(1, self._attempts + 1):
            self.limiter.acquire()
            try:
                response = self.sesv2.send_email(**request)
            except (ClientError, BotoCoreError) as error:
                failure = classify(error)
                if not failure.transient or failure.uncertain or attempt == self._attempts:
                    raise failure from error
                self._sleep(_backoff(attempt))
                continue
            return SentMessage(message_id=response["MessageId"], recipients=tuple(recipients))
        raise AssertionError("unreachable: the last attempt returns or raises")


def _backoff(attempt: int) -> float:
    """Full-jitter exponential backoff: 0.1 s, 0.2 s, 0.4 s... at most 5 s."""
    return random.uniform(0, min(5.0, 0.1 * 2 ** (attempt - 1)))  # noqa: S311 - jitter, not secrecy
