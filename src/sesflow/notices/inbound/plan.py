"""What one mail's maintenances should change in NetBox, decided against what NetBox holds now.

Identity: a NetBox maintenance is (provider, name). The name is the provider's maintenance id; when one mail
carries several windows under the same id (Zayo does), each window gets its own maintenance named
`<id> [n/N]` (n in start order), so no window collapses into another and a later notice listing the same
windows updates the same objects. Ordering: the (sequence, stamp) of the last notice applied is kept in the
maintenance's comments; an older notice never changes the maintenance, its mail is only stored. Notices with
the same sequence and stamp are ordered by their window (see `NoticeKey`), so that the order they arrive in
never changes what NetBox ends with.
Replays: a mail is recognised by its event notification (SES receipt time, subject, sender) on any
maintenance of that name; such a mail changes nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sesflow.netbox.records import MaintenanceStatus
from sesflow.notices.inbound.parser import ParsedMaintenance

NAME_LIMIT = 100  # Maintenance.name max_length
SUMMARY_LIMIT = 200  # Maintenance.summary max_length
MARKER = "sesflow-notice:"  # the comments line that records the last notice applied
SEVERITY = ("NO-IMPACT", "REDUCED-REDUNDANCY", "DEGRADED", "OUTAGE")
CLOSED = frozenset({MaintenanceStatus.CANCELLED, MaintenanceStatus.COMPLETED})


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RESCHEDULE = "reschedule"  # create the new window with `replaces`: the plugin retires the old one
    UNCHANGED = "unchanged"
    STALE = "stale"  # older than what was applied: only the mail is stored
    HISTORY = "history"  # older, for a window NetBox never had: kept as the retired window it was
    ALREADY_APPLIED = "already_applied"  # this very mail is stored on the maintenance: a replay or a retry
    NO_PROVIDER = "no_provider"  # NetBox has no provider with the mapped slug


#: Actions that write to the existing maintenance: its comments are kept, only our marker line changes.
KEEPS_COMMENTS = frozenset({Action.UPDATE, Action.UNCHANGED})


#: Where a notice stands among its maintenance's notices: (sequence, stamp, start, end). Providers do send
#: two notices with one sequence and one stamp (crowncastle's "event completed" for one window and its
#: notice of the next window carry the same Date and sequence); without the window to tell them apart, the
#: one that arrived last would win, and a retry that changes the arrival order would change the result.
NoticeKey = tuple[int, datetime, datetime, datetime]


def notice_key(parsed: ParsedMaintenance) -> NoticeKey:
    return (parsed.sequence, parsed.stamp, parsed.start, parsed.end)


@dataclass(frozen=True)
class Existing:
    """The newest NetBox maintenance with this name and provider, as the plan needs it."""

    id: int
    status: str
    start: datetime
    end: datetime
    summary: str
    comments: str
    replaces: int | None = None
    acknowledged: bool = False  # the operator's mark that the event, as it stands, was seen to

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Existing:
        return cls(
            id=int(data["id"]),
            status=str(data["status"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            summary=str(data.get("summary") or ""),
            comments=str(data.get("comments") or ""),
            replaces=int(data["replaces"]) if data.get("replaces") is not None else None,
            acknowledged=bool(data.get("acknowledged")),
        )

    def applied(self) -> tuple[int, datetime] | None:
        """(sequence, stamp) of the last notice applied, from our marker line."""
        for line in self.comments.splitlines():
            if line.startswith(MARKER):
                fields = dict(item.split("=", 1) for item in line.removeprefix(MARKER).split() if "=" in item)
                try:
                    return int(fields["sequence"]), datetime.fromisoformat(fields["stamp"])
                except (KeyError, ValueError):
                    return None
        return None

    def notice(self) -> NoticeKey | None:
        """The key of the last notice applied: the marker's (sequence, stamp) and the window that notice
        wrote (a maintenance's window only changes with its marker)."""
        applied = self.applied()
        return None if applied is None else (*applied, self.start, self.end)


@dataclass(frozen=True)
class PlannedImpact:
    cid: str
    circuit_id: int
    impact: str


@dataclass(frozen=True)
class LateLinks:
    """Where a window filed late (HISTORY) goes in its name's `replaces` chain, so that the chain ends as the
    notices in order would have left it: the late window replaces its predecessor when the successor had
    taken that place, and the successor then replaces the late window if it was retired, nothing if it was
    closed (a notice after a closed event is another occurrence)."""

    successor_id: int
    successor_replaced: int | None  # the successor's `replaces` as planned from
    successor_replaces_late: bool  # False: the successor replaces nothing
    replaces: int | None = None  # what the late window replaces (set when it is created)


@dataclass(frozen=True)
class MaintenancePlan:
    name: str
    provider_slug: str
    provider_id: int | None
    action: Action
    existing_id: int | None
    status: str  # the final NetBox status
    start: datetime
    end: datetime
    summary: str
    comments: str  # with our marker for this notice
    impacts: tuple[PlannedImpact, ...]
    unknown_circuits: tuple[str, ...]
    parsed: ParsedMaintenance
    existing: Existing | None = None  # the current maintenance as the plan read it (apply needs no GET)
    late_links: LateLinks | None = None  # HISTORY, and finishing a window filed late: the chain to mend
    #: Not older than the notice the existing maintenance holds (this very notice again, on a retry).
    newer: bool = False
    #: Issued after the notice the existing maintenance holds: the circuits it lists are all the event's
    #: circuits now, so the circuit impacts of circuits it no longer lists go (see `prunes_impacts`).
    supersedes: bool = False
    respelled: tuple[tuple[str, str], ...] = ()  # (cid in the notice, cid in NetBox) matched loosely
    clears_acknowledgement: bool = False  # the status the operator acknowledged changes
    notes: tuple[str, ...] = ()  # journal entries (kind info) the maintenance gets once

    @property
    def prunes_impacts(self) -> bool:
        """Whether circuit impacts the notice does not list are removed. A notice that lists no circuit says
        nothing about them (the parser allows none on a cancellation or a completion)."""
        return self.supersedes and bool(self.parsed.circuits)

    @property
    def writes_maintenance(self) -> bool:
        return self.action in {
            Action.CREATE,
            Action.UPDATE,
            Action.RESCHEDULE,
            Action.UNCHANGED,
            Action.HISTORY,
        }

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider_slug,
            "action": str(self.action),
            "existing_id": self.existing_id,
            "status": self.status,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "impacts": {impact.cid: impact.impact for impact in self.impacts},
            "unknown_circuits": list(self.unknown_circuits),
            "respelled": dict(self.respelled),
            "clears_acknowledgement": self.clears_acknowledgement,
        }


def current_of(known: Sequence[Existing]) -> Existing | None:
    """The maintenance that holds the newest notice applied (then the newest object): what a new notice
    updates. Not simply the newest object, because an older notice may be filed as history after it."""
    oldest = datetime.min.replace(tzinfo=UTC)
    never: NoticeKey = (-1, oldest, oldest, oldest)
    return max(known, key=lambda item: (item.notice() or never, item.id), default=None)


def _by_notice(known: Sequence[Existing]) -> list[tuple[NoticeKey, int, Existing]]:
    """The maintenances that hold a notice of ours, oldest notice first."""
    return sorted((applied, item.id, item) for item in known if (applied := item.notice()) is not None)


def _successor(known: Sequence[Existing], notice: NoticeKey) -> Existing | None:
    """The maintenance holding the next notice after `notice`: the one that would have replaced its window."""
    return next((item for applied, _, item in _by_notice(known) if applied > notice), None)


def _predecessor(known: Sequence[Existing], notice: NoticeKey) -> Existing | None:
    """The maintenance holding the last notice before `notice`: the current one when it would have come."""
    return next((item for applied, _, item in reversed(_by_notice(known)) if applied < notice), None)


def late_links(known: Sequence[Existing], notice: NoticeKey, status: str) -> LateLinks | None:
    """How a window filed late joins its name's `replaces` chain (see `LateLinks`); None with no successor."""
    successor = _successor(known, notice)
    if successor is None:
        return None
    predecessor = _predecessor(known, notice)
    retired = status not in CLOSED
    if predecessor is not None and successor.replaces == predecessor.id:
        # In order, this window came between them: it retires the predecessor and is what the successor
        # retires, or (closed) the successor is a new occurrence that replaces nothing.
        return LateLinks(successor.id, successor.replaces, retired, replaces=predecessor.id)
    if retired and successor.replaces is None:
        return LateLinks(successor.id, None, True)
    return None


def _unretire(same: Existing, known: Sequence[Existing], notice: NoticeKey, status: str) -> LateLinks | None:
    """A window whose notice closes it is created open and closed last; when its run died in between, the
    next notice found it open and retired it (`replaces`). Had it been closed, as its notice says, that next
    window would be another occurrence replacing nothing: the link goes."""
    successor = _successor([item for item in known if item.id != same.id], notice)
    if status in CLOSED and successor is not None and successor.replaces == same.id:
        return LateLinks(successor.id, same.id, successor_replaces_late=False)
    return None


def window_names(maintenances: Sequence[ParsedMaintenance]) -> list[str]:
    """The NetBox name of each maintenance, in the given order (see the module's note on identity)."""
    by_id: dict[str, list[int]] = defaultdict(list)
    for index, maintenance in enumerate(maintenances):
        by_id[maintenance.maintenance_id].append(index)
    names = [""] * len(maintenances)
    for maintenance_id, indexes in by_id.items():
        if len(indexes) == 1:
            names[indexes[0]] = maintenance_id[:NAME_LIMIT]
            continue
        ordered = sorted(indexes, key=lambda i: (maintenances[i].start, maintenances[i].end))
        for number, index in enumerate(ordered, start=1):
            suffix = f" [{number}/{len(ordered)}]"
            names[index] = maintenance_id[: NAME_LIMIT - len(suffix)] + suffix
    return names


def netbox_status(parsed_status: str, existing: Existing | None) -> str:
    """The plugin's RE-SCHEDULED marks a retired window (set by `replaces`), so a notice that announces a
    rescheduled window describes a confirmed one; NO-CHANGE keeps what NetBox has."""
    if parsed_status == "RE-SCHEDULED":
        return str(MaintenanceStatus.CONFIRMED)
    if parsed_status == "NO-CHANGE":
        return existing.status if existing else str(MaintenanceStatus.CONFIRMED)
    return str(MaintenanceStatus(parsed_status))


def with_marker(comments: str, parsed: ParsedMaintenance) -> str:
    kept = [line for line in comments.splitlines() if not line.startswith(MARKER)]
    marker = f"{MARKER} sequence={parsed.sequence} stamp={parsed.stamp.isoformat()}"
    return "\n".join([*kept, marker])


@dataclass(frozen=True)
class NameInNetBox:
    """What NetBox holds for one window's name, as the plan step read it."""

    provider_slug: str
    provider_id: int | None  # None: NetBox has no provider with the mapped slug
    circuits: Mapping[str, int]  # {cid as the mail names it: circuit id} of the provider's circuits
    spellings: Mapping[str, str] = field(
        default_factory=dict
    )  # {cid in the mail: cid in NetBox}, if not the same
    existing: Existing | None = None  # the current maintenance of this name (see `current_of`)
    known: Sequence[Existing] = ()  # every maintenance of this name
    mail_stored: bool = False  # this very mail is stored on one of them


@dataclass(frozen=True)
class _Decision:
    action: Action
    existing_id: int | None
    existing: Existing | None
    status: str
    links: LateLinks | None = None
    newer: bool = False  # from `_decide`: not older than the notice the maintenance holds
    supersedes: bool = False  # issued after the notice the maintenance holds (`_supersedes`)


def plan_maintenance(parsed: ParsedMaintenance, name: str, netbox: NameInNetBox) -> MaintenancePlan:
    """The plan for one window of the mail against what NetBox holds for its name."""
    summary = (parsed.summary.strip() or parsed.maintenance_id)[:SUMMARY_LIMIT]
    decision = _decision(parsed, netbox, summary)
    kept = decision.existing.comments if decision.existing and decision.action in KEEPS_COMMENTS else ""
    respelled = tuple(
        dict.fromkeys(
            (c.circuit_id, netbox.spellings[c.circuit_id])
            for c in parsed.circuits
            if c.circuit_id in netbox.spellings
        )
    )
    return MaintenancePlan(
        name=name,
        provider_slug=netbox.provider_slug,
        provider_id=netbox.provider_id,
        action=decision.action,
        existing_id=decision.existing_id,
        status=decision.status,
        start=parsed.start,
        end=parsed.end,
        summary=summary,
        comments=with_marker(kept, parsed),
        impacts=_impacts(parsed, netbox.circuits, netbox.spellings),
        unknown_circuits=tuple(
            dict.fromkeys(c.circuit_id for c in parsed.circuits if c.circuit_id not in netbox.circuits)
        ),
        parsed=parsed,
        existing=decision.existing,
        late_links=decision.links,
        newer=decision.newer,
        supersedes=decision.supersedes,
        respelled=respelled,
        clears_acknowledgement=_clears_acknowledgement(decision),
        notes=_notes(parsed, decision, netbox.known, respelled),
    )


def _decision(parsed: ParsedMaintenance, netbox: NameInNetBox, summary: str) -> _Decision:
    existing = netbox.existing
    status = netbox_status(parsed.status, existing)
    if netbox.mail_stored and existing is not None:
        # The mail is stored last, after the status and marker: once it is there, its changes all are.
        return _Decision(Action.ALREADY_APPLIED, existing.id, existing, status)
    action, existing_id = _decide(parsed, netbox.provider_id, existing, status, summary)
    updates = action in KEEPS_COMMENTS
    decision = _Decision(
        action,
        existing_id,
        existing,
        status,
        newer=updates,
        supersedes=updates and _supersedes(parsed, existing),
    )
    return _file_late(parsed, decision, netbox.known) if action is Action.STALE else decision


def _supersedes(parsed: ParsedMaintenance, existing: Existing | None) -> bool:
    """Whether the notice was issued after the one the maintenance holds (by sequence, then stamp): only such
    a notice speaks for all of the event's circuits and for its status. Providers also send one notice per
    circuit in the same second (seaborn1 and seaborn2): notices of the same standing add up, none prunes
    the other's circuits. A maintenance without our marker was not made from a notice: nothing is pruned."""
    held = existing.notice() if existing is not None else None
    return held is not None and (parsed.sequence, parsed.stamp) > (held[0], held[1])


def _clears_acknowledgement(decision: _Decision) -> bool:
    """A newer notice that changes the status the operator acknowledged."""
    existing = decision.existing
    return (
        decision.supersedes
        and existing is not None
        and existing.acknowledged
        and existing.status != decision.status
    )


def _notes(
    parsed: ParsedMaintenance,
    decision: _Decision,
    known: Sequence[Existing],
    respelled: Sequence[tuple[str, str]],
) -> tuple[str, ...]:
    """What the maintenance's journal should say about this notice, each once (a retry finds them there)."""
    notes = []
    if respelled:
        pairs = ", ".join(f"{mail!r} is {netbox!r}" for mail, netbox in respelled)
        notes.append(f"Circuit IDs in the notice matched to NetBox's spelling (case, spaces): {pairs}")
    existing, stamp = decision.existing, parsed.stamp.isoformat()
    if _clears_acknowledgement(decision):
        assert existing is not None
        notes.append(
            f"Acknowledgement cleared: the notice of {stamp} changed the status "
            f"from {existing.status} to {decision.status}"
        )
    if (moved_from := _acknowledged_window_moved(parsed, decision, known)) is not None:
        notes.append(
            f"Acknowledgement cleared: the notice of {stamp} moved the window "
            f"from ({_window(moved_from.start, moved_from.end)}) to ({_window(parsed.start, parsed.end)}); "
            f"the acknowledged maintenance {moved_from.id} is retired"
        )
    return tuple(notes)


def _acknowledged_window_moved(
    parsed: ParsedMaintenance, decision: _Decision, known: Sequence[Existing]
) -> Existing | None:
    """The acknowledged maintenance a reschedule retires: a new window is a new maintenance, which starts
    unacknowledged. Also found when the maintenance this notice created is planned again (a retry), so a
    run that died before its journal entry is finished."""
    existing = decision.existing
    if existing is None:
        return None
    if decision.action is Action.RESCHEDULE:
        return existing if existing.acknowledged else None
    if not decision.newer or existing.acknowledged or existing.notice() != notice_key(parsed):
        return None
    replaced = next((item for item in known if item.id == existing.replaces), None)
    moved = replaced is not None and (replaced.start, replaced.end) != (existing.start, existing.end)
    return replaced if moved and replaced is not None and replaced.acknowledged else None


def _window(start: datetime, end: datetime) -> str:
    return f"{start.astimezone(UTC):%Y-%m-%d %H:%M} to {end.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _file_late(parsed: ParsedMaintenance, stale: _Decision, known: Sequence[Existing]) -> _Decision:
    """A notice older than the one applied: its own window finished, its mail stored with the window it
    describes, or its window filed as history."""
    notice = notice_key(parsed)
    window = (parsed.start, parsed.end)
    same = next((item for item in known if (item.start, item.end) == window), None)
    status = stale.status
    if same is not None and same.notice() == notice:
        # This notice's own window, filed as history by a run that died before storing the mail (so
        # maybe without its impacts, final status or links): finish it, as history.
        if status not in CLOSED:
            status = str(MaintenanceStatus.RE_SCHEDULED)
        # Nothing to mend when the successor already replaces it: the run died after linking.
        links = late_links([item for item in known if item.id != same.id], notice, status)
        links = links or _unretire(same, known, notice, status)
        return _Decision(Action.UPDATE, same.id, same, status, links)
    if same is not None:
        return replace(stale, existing_id=same.id)  # the mail belongs with the window it describes
    # Delivered out of order: file the window as it would have ended had the mails come in order —
    # retired by the current one, or closed as the notice says.
    if status not in CLOSED:
        status = str(MaintenanceStatus.RE_SCHEDULED)
    successor = _successor(known, notice)
    existing_id = successor.id if successor is not None else stale.existing_id
    return _Decision(Action.HISTORY, existing_id, stale.existing, status, late_links(known, notice, status))


def _impacts(
    parsed: ParsedMaintenance, circuits: Mapping[str, int], spellings: Mapping[str, str]
) -> tuple[PlannedImpact, ...]:
    """One impact per known circuit, named as NetBox spells it. A notice may list a circuit twice (equinix1
    does, and two spellings can match one circuit loosely); the plugin allows one impact per circuit and
    event, so the most severe level listed wins."""
    levels: dict[int, tuple[str, str]] = {}
    for circuit in parsed.circuits:
        if circuit.circuit_id in circuits:
            circuit_id = circuits[circuit.circuit_id]
            previous = levels.get(circuit_id)
            if previous is None or SEVERITY.index(circuit.impact) > SEVERITY.index(previous[1]):
                levels[circuit_id] = (spellings.get(circuit.circuit_id, circuit.circuit_id), circuit.impact)
    return tuple(PlannedImpact(cid, circuit_id, level) for circuit_id, (cid, level) in levels.items())


def _decide(
    parsed: ParsedMaintenance, provider_id: int | None, existing: Existing | None, status: str, summary: str
) -> tuple[Action, int | None]:
    if provider_id is None:
        return Action.NO_PROVIDER, None
    if existing is None:
        return Action.CREATE, None
    applied = existing.notice()
    if applied is not None and notice_key(parsed) < applied:
        return Action.STALE, existing.id
    same_window = (existing.start, existing.end) == (parsed.start, parsed.end)
    if existing.status in CLOSED and not same_window:
        return Action.CREATE, None  # a closed event is history: another window under its id is a new one
    if not same_window:
        # Also when the notice closes the event: the window it names is the one that was worked or called off.
        return Action.RESCHEDULE, existing.id
    unchanged = (
        same_window
        and existing.status == status
        and existing.summary == summary
        and applied == notice_key(parsed)
    )
    return (Action.UNCHANGED if unchanged else Action.UPDATE), existing.id
