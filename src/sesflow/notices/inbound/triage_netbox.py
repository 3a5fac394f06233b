"""Where the triage records live in NetBox: journal entries tagged `sesflow-triage`, each on the NetBox
provider the mail came from or, when none is known, on one provider kept for the purpose ("Unmatched
notices"). `TriageRecords` reads and writes them through `NoticesApi`; `TriagePreview`, the dry run's, reads
the same and only records the writes it would make. What an entry says is triage.py's business: here it is
text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sesflow.netbox.errors import NetBoxValidationError
from sesflow.netbox.notices import NoticesApi

#: The tag of an entry that waits for the operator, and the one it gets once its mail is applied.
OPEN_TAG = "sesflow-triage"
RESOLVED_TAG = "sesflow-triage-resolved"
_TAGS = {
    OPEN_TAG: ("ff9800", "An inbound mail sesflow did not apply: the entry says why and how to replay it"),
    RESOLVED_TAG: ("4caf50", "An inbound mail sesflow did not apply at first, applied since"),
}
#: The provider that holds the entries of mails no NetBox provider can be named for.
UNMATCHED_SLUG = "sesflow-unmatched"
UNMATCHED_NAME = "Unmatched notices"
UNMATCHED_DESCRIPTION = (
    "Holds sesflow's journal entries for inbound mails from no known provider (not a carrier)"
)
PROVIDER_TYPE = "circuits.provider"
MAINTENANCE_TYPE = "notices.maintenance"


@dataclass(frozen=True)
class TriageEntry:
    """A tagged journal entry as NetBox keeps it."""

    id: int
    kind: str
    comments: str
    created: datetime
    object_type: str
    object_id: int
    object_name: str  # the provider's or the maintenance's name, as NetBox displays it
    tags: tuple[str, ...]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TriageEntry:
        kind = data["kind"]
        assigned = data.get("assigned_object") or {}
        return cls(
            id=int(data["id"]),
            kind=kind["value"] if isinstance(kind, dict) else str(kind),
            comments=str(data.get("comments") or ""),
            created=datetime.fromisoformat(str(data["created"]).replace("Z", "+00:00")),
            object_type=str(data["assigned_object_type"]),
            object_id=int(data["assigned_object_id"]),
            object_name=str(assigned.get("display") or assigned.get("name") or ""),
            tags=tuple(str(tag["slug"]) for tag in data.get("tags") or ()),
        )


class TriageRecords:
    """The tags and the unmatched provider are looked up (or created) once per container."""

    def __init__(self, api: NoticesApi) -> None:
        self.api = api
        self._tags: set[str] = set()
        self._unmatched: int | None = None

    def waiting(self, *, search: str = "", since: datetime | None = None) -> list[TriageEntry]:
        """The entries that wait (tag `sesflow-triage`) whose comments contain `search`, newest first."""
        try:
            found = self.api.find_journal_entries(tag=OPEN_TAG, search=search, created_after=since)
        except NetBoxValidationError as error:
            if isinstance(error.body, dict) and "tag" in error.body:
                return []  # NetBox refuses a tag it does not have: nothing was ever triaged
            raise
        return [TriageEntry.from_api(item) for item in found]

    def on_maintenance(self, maintenance_id: int, search: str) -> list[TriageEntry]:
        found = self.api.find_journal_entries(
            object_type=MAINTENANCE_TYPE, object_id=maintenance_id, search=search
        )
        return [TriageEntry.from_api(item) for item in found]

    def add(self, comments: str, provider_id: int | None) -> None:
        """A new entry that waits, on the provider (the unmatched one when None)."""
        self._ensure_tag(OPEN_TAG)
        assigned = provider_id if provider_id is not None else self._unmatched_provider()
        self.api.add_tagged_journal_entry(PROVIDER_TYPE, assigned, comments, kind="warning", tags=[OPEN_TAG])

    def rewrite(self, entry: TriageEntry, comments: str, provider_id: int | None) -> None:
        """An entry that waits, saying something new (the mail failed again, for another reason)."""
        assigned = provider_id if provider_id is not None else self._unmatched_provider()
        changes = {
            "comments": comments,
            "assigned_object_type": PROVIDER_TYPE,
            "assigned_object_id": assigned,
        }
        self.api.update_journal_entry(entry.id, changes)

    def resolve(self, entry: TriageEntry, comments: str) -> None:
        """The entry of a mail applied since: kind success, tag `sesflow-triage-resolved`."""
        self._ensure_tag(RESOLVED_TAG)
        kept = [tag for tag in entry.tags if tag not in _TAGS]
        self.api.update_journal_entry(
            entry.id, {"kind": "success", "comments": comments}, tags=[*kept, RESOLVED_TAG]
        )

    def mark_waiting(self, entry: TriageEntry) -> None:
        """Tag an entry another step wrote (the unknown circuits on a maintenance) as waiting."""
        self._ensure_tag(OPEN_TAG)
        self.api.update_journal_entry(entry.id, {}, tags=[*entry.tags, OPEN_TAG])

    def _ensure_tag(self, slug: str) -> None:
        if slug not in self._tags:
            color, description = _TAGS[slug]
            self.api.ensure_tag(slug, color=color, description=description)
            self._tags.add(slug)

    def _unmatched_provider(self) -> int:
        if self._unmatched is None:
            self._unmatched = self.api.ensure_provider(
                UNMATCHED_SLUG, name=UNMATCHED_NAME, description=UNMATCHED_DESCRIPTION
            )
        return self._unmatched


class TriagePreview(TriageRecords):
    """The dry run's records: every read as `TriageRecords` makes it, every write only recorded (in the
    preview's list)."""

    def __init__(self, api: NoticesApi, would_write: list[str]) -> None:
        super().__init__(api)
        self.would_write = would_write

    def add(self, comments: str, provider_id: int | None) -> None:
        self.would_write.append(f"triage entry on provider {provider_id or UNMATCHED_SLUG}")

    def rewrite(self, entry: TriageEntry, comments: str, provider_id: int | None) -> None:
        self.would_write.append(f"rewrite triage entry {entry.id}")

    def resolve(self, entry: TriageEntry, comments: str) -> None:
        self.would_write.append(f"resolve triage entry {entry.id}")

    def mark_waiting(self, entry: TriageEntry) -> None:
        self.would_write.append(f"tag journal entry {entry.id} {OPEN_TAG}")
