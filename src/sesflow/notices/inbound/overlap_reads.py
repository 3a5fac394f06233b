"""The NetBox reads and the write behind the overlap warnings (overlaps.py), each one request whatever NetBox
holds: the live maintenances of a period (a window query, not a scan), the impacts of a set of maintenances
with their targets, the sites of the devices and locations those reach, the warnings journaled on a set of
maintenances, and the new warnings in one bulk POST.

Where a site comes from: the plugin nests a circuit target with its terminations, whose scope (NetBox 4.2+)
is a site or a location (whose site takes one more read); a device target takes one read for its site; a
site target is the site. A termination scoped to a region, a site group or a provider network reaches no
one site, so it counts for none."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sesflow.netbox.notices import NoticesApi
from sesflow.notices.inbound.overlaps import OverlapWarning, Site, Window

MAINTENANCE_TYPE = "notices.maintenance"
WARNING = "warning"


def live_windows(api: NoticesApi, start: datetime, end: datetime) -> list[Window]:
    """The maintenances whose window overlaps [start, end) and that will still happen."""
    windows = [_window(item) for item in api.maintenances_between(start, end)]
    return [window for window in windows if window.live]


def impact_sites(
    api: NoticesApi, maintenance_ids: Sequence[int], planned: Mapping[int, Collection[int]] | None = None
) -> dict[int, frozenset[Site]]:
    """{maintenance id: the sites its impacts reach}. `planned`: circuits a maintenance is about to have
    ({maintenance id: circuit ids}); those NetBox holds no impact for yet (a dry run's) are read too."""
    places = _Places()
    for row in api.impacts_with_targets(maintenance_ids) if maintenance_ids else ():
        places.add_target(int(row["event_object_id"]), row.get("target"))
    missing = {
        circuit: maintenance
        for maintenance, circuits in (planned or {}).items()
        for circuit in circuits
        if circuit not in places.circuits[maintenance]
    }
    if missing:
        for circuit in api.circuits_with_terminations(sorted(missing)):
            places.add_terminations(missing[int(circuit["id"])], circuit)
    return places.resolve(api)


def warning_texts(api: NoticesApi, maintenance_ids: Sequence[int]) -> dict[int, list[str]]:
    """{maintenance id: the texts of the warnings in its journal}."""
    texts: dict[int, list[str]] = defaultdict(list)
    for entry in api.journal_entries_on(maintenance_ids, MAINTENANCE_TYPE, kind=WARNING):
        texts[entry.object_id].append(entry.comments)
    return dict(texts)


def add_warnings(api: NoticesApi, warnings: Sequence[OverlapWarning]) -> None:
    entries = [(warning.maintenance_id, warning.text) for warning in warnings]
    api.add_journal_entries(entries, kind=WARNING, object_type=MAINTENANCE_TYPE)


@dataclass
class _Places:
    """What each maintenance's impacts reach, before the devices' and locations' sites are looked up."""

    sites: defaultdict[int, set[Site]] = field(default_factory=lambda: defaultdict(set))
    devices: defaultdict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    locations: defaultdict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    circuits: defaultdict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    def add_target(self, maintenance: int, target: Mapping[str, Any] | None) -> None:
        if not target:
            return  # the target was deleted
        kind = target.get("type")
        if not isinstance(kind, str):  # a circuit: the plugin nests the whole circuit (its `type` is a dict)
            self.circuits[maintenance].add(int(target["id"]))
            self.add_terminations(maintenance, target)
        elif kind == "dcim.site":
            self.sites[maintenance].add(Site(int(target["id"]), str(target["name"])))
        elif kind == "dcim.device":
            self.devices[maintenance].add(int(target["id"]))

    def add_terminations(self, maintenance: int, circuit: Mapping[str, Any]) -> None:
        for side in ("termination_a", "termination_z"):
            termination = circuit.get(side) or {}
            scope, scope_id = termination.get("termination_type"), termination.get("termination_id")
            if scope_id is None:
                continue
            if scope == "dcim.site":
                name = (termination.get("termination") or {}).get("name", f"site #{scope_id}")
                self.sites[maintenance].add(Site(int(scope_id), str(name)))
            elif scope == "dcim.location":
                self.locations[maintenance].add(int(scope_id))

    def resolve(self, api: NoticesApi) -> dict[int, frozenset[Site]]:
        """Each maintenance's sites, with its devices' and locations' (one read for each kind, if any)."""
        for model, held in (("devices", self.devices), ("locations", self.locations)):
            wanted = sorted(set().union(*held.values())) if held else []
            if not wanted:
                continue
            found = api.sites_of(model, wanted)
            for maintenance, object_ids in held.items():
                self.sites[maintenance] |= set(_sites(found, object_ids))
        return {maintenance: frozenset(sites) for maintenance, sites in self.sites.items()}


def _sites(found: Mapping[int, Mapping[str, Any]], object_ids: Iterable[int]) -> Iterable[Site]:
    for object_id in object_ids:
        site = found.get(object_id)
        if site is not None:
            yield Site(int(site["id"]), str(site.get("name") or site.get("display") or site["id"]))


def _window(item: Mapping[str, Any]) -> Window:
    provider = item.get("provider") or {}
    return Window(
        id=int(item["id"]),
        name=str(item["name"]),
        provider=str(provider.get("name") or provider.get("display") or provider.get("id", "")),
        start=datetime.fromisoformat(item["start"]),
        end=datetime.fromisoformat(item["end"]),
        status=str(item["status"]),
        replaces=int(item["replaces"]) if item.get("replaces") is not None else None,
    )
