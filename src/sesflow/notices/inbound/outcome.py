"""What became of one mail: a result (the same strings the logs, metrics and the CLI have always shown)
and what was planned and written for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sesflow.notices.inbound.plan import MaintenancePlan


class Result(StrEnum):
    APPLIED = "applied"
    PLANNED = "planned"  # a dry run went through every step, writing nothing
    REFUSED = "refused"
    UNKNOWN_PROVIDER = "unknown_provider"
    NOT_A_NOTICE = "not_a_notice"
    PARSE_ERROR = "parse_error"
    NO_NETBOX_PROVIDER = "no_netbox_provider"


@dataclass
class Applied:
    """What the steps wrote (or, in a dry run, would write) for one plan."""

    maintenance_id: int | None
    created: bool = False
    changed: list[str] = field(default_factory=list)  # what this run wrote, for the report


@dataclass(frozen=True)
class Outcome:
    """`result` is `applied`, `planned` (dry run), or the reason nothing was written."""

    message_id: str
    result: Result
    detail: str = ""
    provider: str = ""
    plans: tuple[MaintenancePlan, ...] = ()
    applied: tuple[Applied, ...] = ()

    def log_fields(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "result": str(self.result),
            "detail": self.detail[:500],
            "provider": self.provider,
            "plans": [plan.describe() for plan in self.plans],
            "applied": [
                {"maintenance_id": a.maintenance_id, "created": a.created, "changed": a.changed}
                for a in self.applied
            ],
        }
