"""Overlap warnings: two maintenances down at the same time at the same site — two providers' circuits into
one building, say — are the outage operators fear most, and neither notice says so.

The rule: two maintenances overlap when their windows intersect (half-open: one ending at 04:00 and one
starting at 04:00 do not), both are live (not cancelled, completed or retired by a reschedule), neither
replaces the other, and their impacts reach a common site — a circuit through its terminations (a site, or
a location's site), a device through its site, a site itself. Windows of one provider count too: two of its
works into one site at once are the same risk. Each maintenance gets a warning in its journal naming the
other and the sites, once: a text already journaled is not written again.

`warn_overlaps` is the inbound step that applies the rule to each window a notice created or moved; the
`sesflow notices overlaps` command applies it to every window in a period."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import combinations
from typing import TYPE_CHECKING

from sesflow.netbox.records import MaintenanceStatus
from sesflow.notices.inbound.plan import notice_key

if TYPE_CHECKING:
    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome
    from sesflow.notices.inbound.writes import PlanWrite

#: Windows that will not happen: cancelled, worked already, or replaced by a rescheduled one.
RETIRED = frozenset(
    {MaintenanceStatus.CANCELLED, MaintenanceStatus.COMPLETED, MaintenanceStatus.RE_SCHEDULED}
)
WARNING_PREFIX = "Overlapping maintenance:"


@dataclass(frozen=True, order=True)
class Site:
    """A NetBox site, compared by id (the name is for people)."""

    id: int
    name: str = field(compare=False)


@dataclass(frozen=True)
class Window:
    """A maintenance as the rule needs it."""

    id: int
    name: str
    provider: str
    start: datetime
    end: datetime
    status: str
    replaces: int | None = None

    @property
    def live(self) -> bool:
        return self.status not in RETIRED

    def meets(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end

    def describe(self) -> str:
        return (
            f"{self.name} ({self.provider}, maintenance #{self.id}, {_when(self.start)} to {_when(self.end)})"
        )


@dataclass(frozen=True)
class Overlap:
    first: Window
    second: Window
    sites: tuple[Site, ...]

    @property
    def start(self) -> datetime:
        return max(self.first.start, self.second.start)

    @property
    def end(self) -> datetime:
        return min(self.first.end, self.second.end)


@dataclass(frozen=True)
class OverlapWarning:
    maintenance_id: int
    text: str


#: {maintenance id: the sites its impacts reach}
type Reach = Mapping[int, frozenset[Site]]


def overlap_of(first: Window, second: Window, reach: Reach) -> Overlap | None:
    """The two maintenances' overlap, if they are down at once at a common site."""
    if first.id == second.id or not (first.live and second.live) or not first.meets(second):
        return None
    if first.replaces == second.id or second.replaces == first.id:
        return None  # one window and the window it moved to
    shared = reach.get(first.id, frozenset()) & reach.get(second.id, frozenset())
    return Overlap(first, second, tuple(sorted(shared, key=lambda site: site.name))) if shared else None


def overlaps_with(subjects: Sequence[Window], others: Iterable[Window], reach: Reach) -> list[Overlap]:
    """Each subject's overlaps with the others (a pair of subjects once)."""
    found: dict[frozenset[int], Overlap] = {}
    candidates = list(others)
    for subject in subjects:
        for other in candidates:
            pair = frozenset({subject.id, other.id})
            if pair not in found and (overlap := overlap_of(subject, other, reach)) is not None:
                found[pair] = overlap
    return list(found.values())


def overlapping_pairs(windows: Sequence[Window], reach: Reach) -> list[Overlap]:
    """Every overlapping pair among `windows`, earliest first."""
    ordered = sorted(windows, key=lambda window: (window.start, window.id))
    pairs = (overlap_of(first, second, reach) for first, second in combinations(ordered, 2))
    return sorted((pair for pair in pairs if pair is not None), key=lambda pair: (pair.start, pair.first.id))


def warning_text(other: Window, sites: Sequence[Site]) -> str:
    names = ", ".join(site.name for site in sites)
    return f"{WARNING_PREFIX} {other.describe()} is down at the same time at {names}."


def warnings_for(overlaps: Iterable[Overlap]) -> list[OverlapWarning]:
    """A warning on each maintenance of each pair, naming the other."""
    warnings: list[OverlapWarning] = []
    for overlap in overlaps:
        warnings.append(OverlapWarning(overlap.first.id, warning_text(overlap.second, overlap.sites)))
        warnings.append(OverlapWarning(overlap.second.id, warning_text(overlap.first, overlap.sites)))
    return warnings


def unwritten(
    warnings: Iterable[OverlapWarning], written: Mapping[int, Collection[str]]
) -> list[OverlapWarning]:
    """The warnings not in their maintenance's journal yet, each once."""
    seen: set[OverlapWarning] = set()
    new: list[OverlapWarning] = []
    for warning in warnings:
        if warning not in seen and warning.text not in written.get(warning.maintenance_id, ()):
            seen.add(warning)
            new.append(warning)
    return new


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def warn_overlaps(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """Each window this notice created or moved, checked against the live maintenances it overlaps; a
    warning journaled on both of each pair down at once at a common site. A fixed number of requests
    whatever NetBox holds: the window query, then (only when it finds another maintenance) the impacts of
    all of them, the sites of their devices and locations, the journals and one bulk write."""
    subjects = [write for write in mail.writes if _window_is_new(write)]
    if not subjects:
        return None
    netbox = deps.netbox
    found = netbox.live_windows(min(w.plan.start for w in subjects), max(w.plan.end for w in subjects))
    by_id = {window.id: window for window in found}
    windows = [by_id.get(_maintenance_id(write)) or _planned_window(write) for write in subjects]
    others = [window for window in found if window.id not in {w.id for w in windows} and window.live]
    if not others:
        return None
    planned = {
        _maintenance_id(write): {impact.circuit_id for impact in write.plan.impacts} for write in subjects
    }
    reach = netbox.impact_sites([window.id for window in [*windows, *others]], planned)
    warnings = warnings_for(overlaps_with(windows, others, reach))
    if not warnings:
        return None
    new = unwritten(warnings, netbox.warning_texts(sorted({warning.maintenance_id for warning in warnings})))
    if new:
        netbox.add_warnings(new)  # one bulk POST for every warning of every pair
        _note_warned(subjects, {warning.maintenance_id for warning in new})
    return None


def _note_warned(subjects: Sequence[PlanWrite], warned: set[int]) -> None:
    for write in subjects:
        if _maintenance_id(write) in warned:
            write.applied.changed.append("overlaps")


def _window_is_new(write: PlanWrite) -> bool:
    """A window created or moved by this notice — or by this very notice in a run that died before it stored
    the mail (its marker is there already), so that the retry still warns."""
    plan, applied = write.plan, write.applied
    if write.now is None or applied.maintenance_id is None or plan.status in RETIRED:
        return False
    finishing = plan.existing is not None and plan.existing.notice() == notice_key(plan.parsed)
    return applied.created or "window" in applied.changed or finishing


def _maintenance_id(write: PlanWrite) -> int:
    assert write.applied.maintenance_id is not None  # `_window_is_new` checked it
    return write.applied.maintenance_id


def _planned_window(write: PlanWrite) -> Window:
    """A window as the plan has it, when NetBox does not hold it (a dry run's new maintenance)."""
    plan = write.plan
    return Window(_maintenance_id(write), plan.name, plan.provider_slug, plan.start, plan.end, plan.status)
