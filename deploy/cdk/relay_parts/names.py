"""Names derived from the stack's name: a bucket-safe prefix, the receipt rule set and its rule."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from aws_cdk import Stack


@dataclass(frozen=True)
class StackNames:
    """`prefix` starts the incoming bucket's name; `rule_set` and `rule` name the SES receipt rules."""

    prefix: str
    rule_set: str
    rule: str

    @classmethod
    def of(cls, stack: Stack) -> StackNames:
        return cls(
            prefix=name_prefix(stack.stack_name),
            rule_set=f"{stack.stack_name}-rules",
            rule=f"{stack.stack_name}-relay",
        )


def name_prefix(stack_name: str) -> str:
    """A bucket-safe, stack-unique prefix: lower-case stack name (cut short) plus a short hash of it."""
    safe = re.sub(r"[^a-z0-9-]", "-", stack_name.lower()).strip("-")[:16].strip("-") or "relay"
    return f"{safe}-{hashlib.sha256(stack_name.encode()).hexdigest()[:6]}"
