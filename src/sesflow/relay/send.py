"""Step 8, send: the composed mail goes out in chunks of at most 50 recipients, each chunk exactly once.

Each chunk is guarded by a Powertools idempotency record in IDEMPOTENCY_TABLE (key `relay#<hash of mail
key, ETag, chunk number, recipients>`). A redelivered SQS message or a retry after a crash replays the
recorded SES message id instead of sending again. A send SES answered it did not take is retried.
A send whose answer was lost (SES may have taken it) is recorded as uncertain, never resent, and reported on
the fallback topic. So is a send whose run stopped between asking SES and recording the answer: a mark
(`SendAttempts`) written just before SES is asked tells the retry that SES may have taken it. The mark is
removed only when SES answered that it did not take the chunk.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

from sesflow.aws.ses import MailSender, SendError, UncertainSendError
from sesflow.mail.addresses import chunk_recipients
from sesflow.pipeline import reached
from sesflow.relay.ports import SendMarks
from sesflow.relay.records import MailLocation

#: Records outlive SQS's longest retention (14 days), so a late redelivery still finds them.
IDEMPOTENCY_SECONDS = 15 * 24 * 3600
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
STOPPED_AFTER_ASKING = "an earlier run asked SES to send this chunk and stopped before recording SES's answer"


@dataclass(frozen=True)
class SentChunk:
    number: int
    message_id: str  # empty when SES's answer was lost
    recipients: tuple[str, ...]
    uncertain: str = ""  # why SES may or may not have taken it; such a chunk is never sent again


@dataclass(frozen=True)
class Envelope:
    from_address: str
    configuration_set: str | None


@dataclass(frozen=True)
class SendGuard:
    """What makes each chunk go out once: its idempotency record, and the mark written before SES is asked."""

    persistence: BasePersistenceLayer
    config: IdempotencyConfig
    marks: SendMarks


def tag_value(text: str) -> str:
    """SES tag values allow letters, digits, '_' and '-' only."""
    return _TAG_UNSAFE.sub("_", text)[:256] or "_"


def send_in_chunks(
    raw: bytes,
    recipients: Sequence[str],
    *,
    location: MailLocation,
    sender: MailSender,
    envelope: Envelope,
    guard: SendGuard,
) -> list[SentChunk]:
    def send_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
        attempt = attempt_key(chunk)
        if not guard.marks.begin(attempt):
            return {"message_id": "", "uncertain": STOPPED_AFTER_ASKING}
        try:
            sent = sender.send_raw(
                raw,
                from_address=envelope.from_address,
                recipients=chunk["recipients"],
                configuration_set=envelope.configuration_set,
                tags={"source_key": tag_value(location.key), "relay_chunk": str(chunk["number"])},
            )
        except UncertainSendError as error:
            # Resending could deliver it twice: keep the record, and let a person decide from the notice.
            return {"message_id": "", "uncertain": str(error)}
        except SendError:
            guard.marks.forget(attempt)  # SES answered that it did not take it: a retry may send
            raise
        reached("ses_accepted")  # SES took the chunk; the record is not written yet
        return {"message_id": sent.message_id}

    send_chunk_once: Callable[..., dict[str, Any]] = idempotent_function(
        send_chunk,
        data_keyword_argument="chunk",
        persistence_store=guard.persistence,
        config=guard.config,
        key_prefix="relay",
    )
    results = []
    for number, group in enumerate(chunk_recipients(list(recipients)), start=1):
        chunk = {"key": location.key, "etag": location.etag, "number": number, "recipients": group}
        outcome = send_chunk_once(chunk=chunk)
        reached("chunk_recorded")
        results.append(SentChunk(number, outcome["message_id"], tuple(group), outcome.get("uncertain", "")))
    return results


def attempt_key(chunk: dict[str, Any]) -> str:
    """One chunk of one stored mail (object version and recipients included)."""
    identity = "\n".join([chunk["key"], chunk["etag"], str(chunk["number"]), *chunk["recipients"]])
    return hashlib.sha256(identity.encode()).hexdigest()


def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_SECONDS, raise_on_no_idempotency_key=True)
