"""An in-memory `SesSender`: it keeps every raw message SES would have taken, checks SES's limits the way the
real sender does before calling AWS, and can be told to fail. tests/contracts/test_ses.py holds it to the
real sender on moto's SES."""

from __future__ import annotations

import itertools
import re
import threading
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from sesflow.aws.ses import (
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS,
    SEND_ATTEMPTS,
    UNCERTAIN_CODE,
    PermanentSendError,
    SendError,
    SentMessage,
    TransientSendError,
    UncertainSendError,
)

_TAG_PART = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True)
class SentRaw:
    """One message SES took."""

    message_id: str
    raw: bytes
    from_address: str
    recipients: tuple[str, ...]
    configuration_set: str | None
    tags: Mapping[str, str]


@dataclass
class _Failure:
    """What SES answers the next call with; `taken` when the message went through but the answer is lost."""

    error: SendError
    taken: bool = False


@dataclass
class FakeSesSender:
    """Sends into `sent`. `verified`: the identities (addresses or domains) SES lets send; None lets all.

    Failures are queued per call to SES: a transient one is retried within `attempts`, as the real sender
    retries throttling, so `fail_transiently(times=attempts)` is what makes a send fail."""

    verified: Collection[str] | None = None
    attempts: int = SEND_ATTEMPTS
    sent: list[SentRaw] = field(default_factory=list)
    calls: int = 0
    _failures: deque[_Failure] = field(default_factory=deque)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_transiently(self, code: str = "Throttling", *, times: int = 1) -> None:
        for _ in range(times):
            self._failures.append(_Failure(TransientSendError(f"SES {code}: fake", code=code)))

    def fail_permanently(self, code: str = "MessageRejected", *, times: int = 1) -> None:
        for _ in range(times):
            self._failures.append(_Failure(PermanentSendError(f"SES {code}: fake", code=code)))

    def lose_answers(self, *, times: int = 1) -> None:
        """SES takes the message but its answer never arrives: the send raises UncertainSendError."""
        for _ in range(times):
            error = UncertainSendError("SES answer lost: fake", code=UNCERTAIN_CODE)
            self._failures.append(_Failure(error, taken=True))

    def send_raw(
        self,
        raw: bytes,
        *,
        from_address: str,
        recipients: Sequence[str],
        configuration_set: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SentMessage:
        _check_limits(raw, recipients, tags or {})
        message = SentRaw("", raw, from_address, tuple(recipients), configuration_set, dict(tags or {}))
        for attempt in range(1, self.attempts + 1):
            try:
                return self._call(message)
            except SendError as error:
                if not error.transient or error.uncertain or attempt == self.attempts:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _call(self, message: SentRaw) -> SentMessage:
        with self._lock:
            self.calls += 1
            failure = self._failures.popleft() if self._failures else None
            if failure is not None and not failure.taken:
                raise failure.error
            if not self._may_send(message.from_address):
                raise PermanentSendError(
                    f"SES MessageRejected: Email address is not verified: {message.from_address}",
                    code="MessageRejected",
                )
            message_id = f"fake-ses-{next(self._ids):08d}"
            self.sent.append(
                SentRaw(
                    message_id,
                    message.raw,
                    message.from_address,
                    message.recipients,
                    message.configuration_set,
                    message.tags,
                )
            )
            if failure is not None:
                raise failure.error
            return SentMessage(message_id=message_id, recipients=message.recipients)

    def _may_send(self, address: str) -> bool:
        if self.verified is None:
            return True
        return address in self.verified or address.rpartition("@")[2] in self.verified


def _check_limits(raw: bytes, recipients: Sequence[str], tags: Mapping[str, str]) -> None:
    """SES's limits, checked before any call, with the real sender's codes."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise PermanentSendError(
            f"message is {len(raw)} bytes; SES accepts at most {MAX_MESSAGE_BYTES}", code="MessageTooLarge"
        )
    if not recipients:
        raise PermanentSendError("message has no recipients", code="NoRecipients")
    if len(recipients) > MAX_RECIPIENTS:
        raise PermanentSendError(
            f"message has {len(recipients)} recipients; SES accepts at most {MAX_RECIPIENTS}",
            code="TooManyRecipients",
        )
    for name, value in tags.items():
        if not (_TAG_PART.match(name) and _TAG_PART.match(value)):
            raise PermanentSendError(
                f"message tag {name}={value!r}: SES allows only letters, digits, '_' and '-'",
                code="InvalidTag",
            )
