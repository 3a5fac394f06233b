"""The inbound flow's NetBox: what the plan reads (providers, circuits, the maintenances of a name, whether
this mail is stored already) and the writes the steps make. `NoticesInNetBox` makes them; `NoticesPreview`,
the dry run, reads the same and only records the writes it would make, so a plan runs the very steps."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from sesflow.netbox.circuits import find_circuit_ids, find_circuits_loosely, find_provider_id
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import SUBJECT_LIMIT, ImpactTarget, NoticesApi
from sesflow.netbox.records import MaintenanceDraft
from sesflow.notices.inbound import overlap_reads
from sesflow.notices.inbound.outcome import Result
from sesflow.notices.inbound.overlaps import OverlapWarning, Site, Window
from sesflow.notices.inbound.plan import Existing
from sesflow.notices.inbound.triage_netbox import TriagePreview, TriageRecords

MAINTENANCE_TYPE = "notices.maintenance"


@dataclass(frozen=True)
class StoredMail:
    """The provider's mail as the plugin's event notification keeps it."""

    subject: str
    sender: str
    received: datetime
    body: str


@dataclass(frozen=True)
class MaintenanceNow:
    """A maintenance as NetBox answered a write to it: what the later steps need, with no extra GET."""

    id: int
    status: str
    comments: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MaintenanceNow:
        return cls(int(data["id"]), str(data["status"]), str(data.get("comments") or ""))


@dataclass(frozen=True)
class HeldImpact:
    """An impact NetBox holds on a maintenance, with its circuit's cid when the target is a circuit (what a
    journal entry about removed impacts names)."""

    id: int
    target_content_type: int
    target_object_id: int
    impact: str | None
    cid: str = ""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> HeldImpact:
        target = data.get("target")
        cid = str(target.get("cid") or "") if isinstance(target, Mapping) else ""
        return cls(
            int(data["id"]),
            int(data["target_content_type"]),
            int(data["target_object_id"]),
            data.get("impact"),
            cid,
        )


class InboundNetBox(Protocol):
    """The NetBox the inbound steps read and write."""

    #: What a run through every step has done: `applied`, or `planned` when the writes were only recorded.
    done: Result

    def provider_id(self, slug: str) -> int | None: ...
    def circuits(self, provider_id: int, cids: list[str]) -> dict[str, int]: ...
    def circuits_loosely(self, provider_id: int, cids: list[str]) -> dict[str, tuple[int, str]]: ...
    def maintenances(self, names: list[str], provider_id: int) -> dict[str, list[Existing]]: ...
    def holding_mail(self, mail: StoredMail, maintenance_ids: list[int]) -> set[int]: ...
    def replaces_of(self, maintenance_id: int) -> int | None: ...
    def impacts(self, maintenance_id: int) -> list[HeldImpact]: ...
    def circuit_type_id(self) -> int: ...
    def journal_texts(self, maintenance_id: int) -> list[str]: ...

    def create_maintenance(self, draft: MaintenanceDraft, comments: str) -> MaintenanceNow: ...
    def update_maintenance(self, maintenance_id: int, changes: Mapping[str, Any]) -> MaintenanceNow: ...
    def create_impacts(self, maintenance_id: int, targets: Sequence[ImpactTarget]) -> None: ...
    def update_impact_levels(self, levels: Sequence[tuple[int, str]]) -> None: ...
    def delete_impacts(self, impact_ids: Sequence[int]) -> None: ...
    def add_warning(self, maintenance_id: int, text: str) -> None: ...
    def add_note(self, maintenance_id: int, text: str) -> None: ...
    def store_mail(self, maintenance_id: int, mail: StoredMail) -> None: ...

    # overlap warnings (overlap_reads.py)
    def live_windows(self, start: datetime, end: datetime) -> list[Window]: ...
    def impact_sites(
        self, maintenance_ids: Sequence[int], planned: Mapping[int, Collection[int]]
    ) -> dict[int, frozenset[Site]]: ...
    def warning_texts(self, maintenance_ids: Sequence[int]) -> dict[int, list[str]]: ...
    def add_warnings(self, warnings: Sequence[OverlapWarning]) -> None: ...

    # the triage records of mails not applied (triage_netbox.py)
    @property
    def triage_records(self) -> TriageRecords: ...


class NoticesInNetBox:
    """Reads and writes through `NoticesApi`, with provider ids cached for the container's life (providers
    rarely change)."""

    done = Result.APPLIED

    def __init__(self, client: NetBoxClient) -> None:
        self.client = client
        self.api = NoticesApi(client)
        self._providers: dict[str, int] = {}

    def provider_id(self, slug: str) -> int | None:
        if slug not in self._providers:
            found = find_provider_id(self.client, slug)
            if found is None:
                return None  # not cached: it may be created before the next mail
            self._providers[slug] = found
        return self._providers[slug]

    def circuits(self, provider_id: int, cids: list[str]) -> dict[str, int]:
        return find_circuit_ids(self.client, provider_id, sorted(set(cids)))

    def circuits_loosely(self, provider_id: int, cids: list[str]) -> dict[str, tuple[int, str]]:
        return find_circuits_loosely(self.client, provider_id, sorted(set(cids)))

    def maintenances(self, names: list[str], provider_id: int) -> dict[str, list[Existing]]:
        """{name: every maintenance with that name from this provider, oldest first} for all the mail's names
        in one request (reschedules add one each; a name NetBox does not have maps to [])."""
        found: dict[str, list[Existing]] = {name: [] for name in sorted(set(names))}
        for item in self.api.maintenances_named(names, provider_id):
            if item["name"] in found:  # the filter is exact; this guards against an ignored parameter
                found[item["name"]].append(Existing.from_api(item))
        return found

    def holding_mail(self, mail: StoredMail, maintenance_ids: list[int]) -> set[int]:
        """Those of `maintenance_ids` that already hold this mail as an event notification."""
        if not maintenance_ids:
            return set()  # a mail can only be stored on a maintenance that exists: no request
        subject = mail.subject[:SUBJECT_LIMIT]
        return {
            int(item["event_object_id"])
            for item in self.api.event_notifications_on(maintenance_ids, mail.received)
            if _same_mail(item, subject, mail)
        }

    def replaces_of(self, maintenance_id: int) -> int | None:
        replaces = self.api.maintenance_data(maintenance_id).get("replaces")
        return None if replaces is None else int(replaces)

    def impacts(self, maintenance_id: int) -> list[HeldImpact]:
        return [HeldImpact.from_api(item) for item in self.api.impacts_data(maintenance_id)]

    def circuit_type_id(self) -> int:
        return self.api.circuit_type_id()

    def journal_texts(self, maintenance_id: int) -> list[str]:
        return [entry.comments for entry in self.api.journal_entries(maintenance_id, MAINTENANCE_TYPE)]

    def create_maintenance(self, draft: MaintenanceDraft, comments: str) -> MaintenanceNow:
        return MaintenanceNow.from_api(
            self.api.create_maintenance_data(draft.to_api() | {"comments": comments})
        )

    def update_maintenance(self, maintenance_id: int, changes: Mapping[str, Any]) -> MaintenanceNow:
        return MaintenanceNow.from_api(self.api.patch_maintenance(maintenance_id, changes))

    def create_impacts(self, maintenance_id: int, targets: Sequence[ImpactTarget]) -> None:
        self.api.create_impacts(maintenance_id, targets)

    def update_impact_levels(self, levels: Sequence[tuple[int, str]]) -> None:
        self.api.update_impact_levels(levels)

    def add_warning(self, maintenance_id: int, text: str) -> None:
        self.api.add_journal_entry(maintenance_id, text, kind="warning", object_type=MAINTENANCE_TYPE)

    def add_note(self, maintenance_id: int, text: str) -> None:
        self.api.add_journal_entry(maintenance_id, text, kind="info", object_type=MAINTENANCE_TYPE)

    def delete_impacts(self, impact_ids: Sequence[int]) -> None:
        self.api.delete_impacts(impact_ids)

    def store_mail(self, maintenance_id: int, mail: StoredMail) -> None:
        self.api.create_event_notification(
            maintenance_id,
            subject=mail.subject[:SUBJECT_LIMIT],
            email_from=mail.sender,
            email_received=mail.received,
            email_body=mail.body,
        )

    def live_windows(self, start: datetime, end: datetime) -> list[Window]:
        return overlap_reads.live_windows(self.api, start, end)

    def impact_sites(
        self, maintenance_ids: Sequence[int], planned: Mapping[int, Collection[int]]
    ) -> dict[int, frozenset[Site]]:
        return overlap_reads.impact_sites(self.api, maintenance_ids, planned)

    def warning_texts(self, maintenance_ids: Sequence[int]) -> dict[int, list[str]]:
        return overlap_reads.warning_texts(self.api, maintenance_ids)

    def add_warnings(self, warnings: Sequence[OverlapWarning]) -> None:
        overlap_reads.add_warnings(self.api, warnings)

    @cached_property
    def triage_records(self) -> TriageRecords:
        return TriageRecords(self.api)


#: The id a preview gives a maintenance it would create (NetBox's ids start at 1).
NOT_CREATED = 0


class NoticesPreview(NoticesInNetBox):
    """The dry run's NetBox: every read as `NoticesInNetBox` makes it, every write only recorded."""

    done = Result.PLANNED

    def __init__(self, client: NetBoxClient) -> None:
        super().__init__(client)
        self.would_write: list[str] = []

    def create_maintenance(self, draft: MaintenanceDraft, comments: str) -> MaintenanceNow:
        self.would_write.append(f"create maintenance {draft.name!r} ({draft.status})")
        return MaintenanceNow(NOT_CREATED, str(draft.status), comments)

    def update_maintenance(self, maintenance_id: int, changes: Mapping[str, Any]) -> MaintenanceNow:
        self.would_write.append(f"update maintenance {maintenance_id}: {', '.join(sorted(changes))}")
        now = {} if maintenance_id == NOT_CREATED else self.api.maintenance_data(maintenance_id)
        return MaintenanceNow.from_api({"id": maintenance_id, "status": "", **now, **changes})

    def create_impacts(self, maintenance_id: int, targets: Sequence[ImpactTarget]) -> None:
        self.would_write.append(f"create {len(targets)} impacts on maintenance {maintenance_id}")

    def update_impact_levels(self, levels: Sequence[tuple[int, str]]) -> None:
        self.would_write.append(f"update {len(levels)} impact levels")

    def add_warning(self, maintenance_id: int, text: str) -> None:
        self.would_write.append(f"journal warning on maintenance {maintenance_id}")

    def add_note(self, maintenance_id: int, text: str) -> None:
        self.would_write.append(f"journal note on maintenance {maintenance_id}")

    def delete_impacts(self, impact_ids: Sequence[int]) -> None:
        self.would_write.append(f"delete {len(impact_ids)} impacts")

    def store_mail(self, maintenance_id: int, mail: StoredMail) -> None:
        self.would_write.append(f"store the mail on maintenance {maintenance_id}")

    def add_warnings(self, warnings: Sequence[OverlapWarning]) -> None:
        self.would_write += [f"journal overlap warning on maintenance {w.maintenance_id}" for w in warnings]

    @cached_property
    def triage_records(self) -> TriageRecords:
        return TriagePreview(self.api, self.would_write)


def _same_mail(item: Mapping[str, Any], subject: str, mail: StoredMail) -> bool:
    # The body too: a provider may send one notice per circuit in the same second, whose subjects differ
    # only past the plugin's 100 characters.
    return (
        item.get("subject") == subject
        and str(item.get("email_from", "")).lower() == mail.sender.lower()
        and datetime.fromisoformat(item["email_received"]) == mail.received
        and _text(item.get("email_body")) == _text(mail.body)
    )


def _text(value: object) -> str:
    """Text as NetBox keeps it: stripped, line endings as LF."""
    return str(value or "").replace("\r\n", "\n").strip()
