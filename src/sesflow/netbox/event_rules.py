"""The conditions of the NetBox event rule that fires outbound's webhook when a prepared notification becomes
`ready`, per NetBox version, and how to tell a rule that fires on every edit of a ready notification."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

#: The first NetBox whose conditions compare the pre- and post-change snapshots (the `changed` operator).
CHANGED_SINCE: Final = (4, 7)

#: NetBox 4.7+: the change of `status` to `ready` (a draft approved, a failed one approved again) and nothing
#: else. `changed` reads `status` in `snapshots.prechange` and `snapshots.postchange`; the plugin's `status`
#: is a plain string there and in `data`, so no `.value` (which 4.7 cannot resolve, and then never fires).
READY_CHANGE: Final[Mapping[str, Any]] = {
    "and": [{"attr": "status", "value": "ready"}, {"attr": "status", "op": "changed"}]
}
#: NetBox 4.5 and 4.6 have no snapshot operators: this fires on every update of a `ready` notification too
#: (an edited subject, a journal-bearing PATCH). Harmless, as outbound sends each approval once, but each
#: such edit costs a webhook call, a read of the notification and a claim lookup.
READY_STATE: Final[Mapping[str, Any]] = {"attr": "status", "value": "ready"}

OBJECT_TYPE: Final = "notices.preparednotification"
UPDATED: Final = "object_updated"


def ready_conditions(version: tuple[int, ...]) -> Mapping[str, Any]:
    """The best condition this NetBox version understands."""
    return READY_CHANGE if version >= CHANGED_SINCE else READY_STATE


def as_json(conditions: Mapping[str, Any]) -> str:
    """As an operator pastes it into NetBox's Conditions field."""
    return json.dumps(conditions)


def _leaves(conditions: object) -> list[Mapping[str, Any]]:
    """The single conditions of a condition set, through any nesting of `and`/`or`."""
    if not isinstance(conditions, Mapping):
        return []
    if len(conditions) == 1 and next(iter(conditions)).lower() in {"and", "or"}:
        nested = next(iter(conditions.values()))
        return [leaf for item in nested for leaf in _leaves(item)] if isinstance(nested, list) else []
    return [conditions]


def is_ready_rule(rule: Mapping[str, Any]) -> bool:
    """An event rule (as the API lists it) on updated prepared notifications that tests for `ready`."""
    if OBJECT_TYPE not in (rule.get("object_types") or ()) or UPDATED not in (rule.get("event_types") or ()):
        return False
    return any(
        leaf.get("attr") == "status" and leaf.get("value") == "ready"
        for leaf in _leaves(rule.get("conditions"))
    )


def fires_on_every_edit(rule: Mapping[str, Any]) -> bool:
    """A `ready` rule without a `changed` test of `status` fires on every update of a ready notification.
    Only an `and` set (or a lone condition) counts as requiring the change; an `or` may fire without it."""
    conditions = rule.get("conditions")
    leaves = _leaves(conditions)
    is_or = isinstance(conditions, Mapping) and "or" in {str(key).lower() for key in conditions}
    requires_change = not is_or and any(
        leaf.get("attr") == "status" and leaf.get("op") == "changed" and not leaf.get("negate")
        for leaf in leaves
    )
    return is_ready_rule(rule) and not requires_change
