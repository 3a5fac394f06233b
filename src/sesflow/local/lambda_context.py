"""The context object Lambda passes to a handler, for the local workers: Powertools reads its names for the
log lines and `get_remaining_time_in_millis()` for the idempotency record's in-progress expiry."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class LocalLambdaContext:
    function_name: str
    timeout_seconds: float
    deadline: float  # time.monotonic() when the invocation would be stopped
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def start(cls, function_name: str, timeout_seconds: float) -> LocalLambdaContext:
        return cls(function_name, timeout_seconds, time.monotonic() + timeout_seconds)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))
