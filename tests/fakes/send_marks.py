"""In-memory send marks (`sesflow.aws.attempts.SendAttempts`): a mark per key, set just before SES is asked,
removed only when SES answered that it did not take the message. tests/contracts/test_send_marks.py holds
it to `SendAttempts` on moto's DynamoDB."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class FakeSendAttempts:
    marks: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, key: str) -> bool:
        """False when an earlier attempt left its mark (SES may have taken that message)."""
        with self._lock:
            if key in self.marks:
                return False
            self.marks.add(key)
            return True

    def forget(self, key: str) -> None:
        with self._lock:
            self.marks.discard(key)
