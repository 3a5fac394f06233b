"""When to try a request again and how long to wait: backoff with jitter, Retry-After honoured, all within a
deadline kept below the Lambda timeout."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: A proxy or NetBox itself answered for an overloaded or restarting server.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
#: Statuses that say the request was not processed, so even a POST may be sent again.
NOT_PROCESSED_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    deadline: float = 20.0
    base_delay: float = 0.25
    max_delay: float = 4.0
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)
    #: What the waits are measured and spent on (tests give a fake clock).
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to base·2^attempt, capped (attempt counts from 0)."""
        return float(self.random()) * min(self.max_delay, self.base_delay * 2.0**attempt)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def may_retry(method: str, status: int | None, *, sent: bool) -> bool:
    """`status` None means no answer. A request NetBox may have acted on is repeated only when the method is
    idempotent; a POST is repeated only when NetBox surely did not act on it."""
    if status is None:
        return not sent or method in IDEMPOTENT_METHODS
    if status not in RETRYABLE_STATUSES:
        return False
    return status in NOT_PROCESSED_STATUSES or method in IDEMPOTENT_METHODS
