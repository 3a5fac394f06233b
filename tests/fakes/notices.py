"""An in-memory netbox-notices behind `NoticesApi`'s methods: the same names, arguments, return types and
errors, with the plugin's rules as NetBox 4.7 applies them (tests/contracts/test_notices.py holds it to the
real one). Objects are kept as the JSON NetBox answers with, so the typed records are read from it the way
the real adapter reads them.

`FakeNotices(etags=False)` answers like NetBox 4.5: no ETags, and If-Match ignored. With `names_refused=False`
a refused bulk PATCH answers as NetBox before 4.7 does: the first refused object's errors, naming no id."""

from __future__ import annotations

import copy
import functools
import itertools
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from sesflow.local.netbox.seed import SeedData, Seeded
from sesflow.netbox.client import Response
from sesflow.netbox.errors import NetBoxConflict, NetBoxNotFound, NetBoxServerError, NetBoxValidationError
from sesflow.netbox.notices import PLUGIN, PREPARED_NOTIFICATION_TYPE, SUBJECT_LIMIT, ImpactTarget
from sesflow.netbox.records import (
    EventNotification,
    Impact,
    JournalEntry,
    Maintenance,
    MaintenanceDraft,
    MaintenanceStatus,
    NotificationStatus,
    NotificationVersion,
    PreparedNotification,
    etag_of,
)

from . import notification_rules as rules

NOTIFICATIONS = f"{PLUGIN}/prepared-notifications/"
MAINTENANCES = f"{PLUGIN}/maintenance/"
IMPACTS = f"{PLUGIN}/impact/"
EVENT_NOTIFICATIONS = f"{PLUGIN}/eventnotification/"
JOURNAL = "/api/extras/journal-entries/"
#: ContentType ids as a fresh NetBox 4.7 with the plugin numbers them; nothing should depend on the values.
OBJECT_TYPES: Mapping[tuple[str, str], int] = {
    ("circuits", "circuit"): 12,
    ("dcim", "device"): 29,
    ("dcim", "site"): 60,
    ("notices", "maintenance"): 165,
    ("notices", "outage"): 166,
    ("notices", "preparednotification"): 170,
}
#: The plugin refuses impact changes on an event in one of these states.
CLOSED = {MaintenanceStatus.COMPLETED, MaintenanceStatus.CANCELLED}
JOURNAL_KINDS = ("info", "success", "warning", "danger")
#: Django's EmailValidator, as far as the flows' addresses go: a dot and a 2+ letter top-level domain.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PRECONDITION_FAILED = {"detail": "Precondition failed."}


def _locked[**P, R](method: Callable[P, R]) -> Callable[P, R]:
    """One call at a time: the outbound flow calls NetBox from several threads."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0]._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return call


def _not_found(model: str, method: str, path: str) -> NetBoxNotFound:
    return NetBoxNotFound(404, method, path, {"detail": f"No {model} matches the given query."})


def _related_missing(value: int) -> list[str]:
    return [f"Related object not found using the provided value: {value}."]


class FakeNotices:
    """netbox-notices in memory. `clock` is the server's clock (timestamps after it are refused)."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        etags: bool = True,
        names_refused: bool = True,
    ) -> None:
        self.clock = clock
        self.etags = etags
        self.names_refused = names_refused
        self._lock = threading.RLock()
        self._next_id: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._last_stamp = datetime.min.replace(tzinfo=UTC)
        self.providers: dict[int, dict[str, Any]] = {}
        self.circuits: dict[int, dict[str, Any]] = {}
        self.contacts: dict[int, dict[str, Any]] = {}
        self.templates: dict[int, dict[str, Any]] = {}
        self.maintenances: dict[int, dict[str, Any]] = {}
        self.impacts: dict[int, dict[str, Any]] = {}
        self.event_notifications: dict[int, dict[str, Any]] = {}
        self.notifications: dict[int, dict[str, Any]] = {}
        self.journal: dict[int, dict[str, Any]] = {}
        self.tags: dict[int, dict[str, Any]] = {}  # the inbound triage's tags, by id
        # where circuits and devices are (the overlap warnings' reads): {id: {"id", "name", "site"?}}
        self.sites: dict[int, dict[str, Any]] = {}
        self.locations: dict[int, dict[str, Any]] = {}
        self.devices: dict[int, dict[str, Any]] = {}

    # the seed: what `seed_netbox(client, data)` makes in a real NetBox
    @_locked
    def seed(self, data: SeedData) -> Seeded:
        seeded = Seeded(circuit_type=1)
        for provider in data.providers:
            provider_id = next(self._next_id["provider"])
            self.providers[provider_id] = {"id": provider_id, "name": provider.name, "slug": provider.slug}
            seeded.providers[provider.slug] = provider_id
            for cid in provider.circuit_ids:
                circuit_id = next(self._next_id["circuit"])
                self.circuits[circuit_id] = {"id": circuit_id, "cid": cid, "provider": provider_id}
                seeded.circuits[(provider.slug, cid)] = circuit_id
        for contact in data.contacts:
            seeded.contacts[contact.email] = self.add_contact(contact.name, contact.email)
        if data.template is not None:
            template_id = next(self._next_id["template"])
            self.templates[template_id] = {
                "id": template_id,
                "name": data.template.name,
                "slug": data.template.slug,
            }
            seeded.template = template_id
        return seeded

    @_locked
    def add_contact(self, name: str, email: str = "") -> int:
        contact_id = next(self._next_id["contact"])
        self.contacts[contact_id] = {"id": contact_id, "name": name, "email": email}
        return contact_id

    def object_type_id(self, app_label: str, model: str) -> int:
        return OBJECT_TYPES[(app_label, model)]

    def honours_etags(self) -> bool:
        return self.etags

    # maintenances
    @_locked
    def find_maintenance(self, name: str, provider_id: int) -> Maintenance | None:
        matches = self._maintenances_named([name], provider_id)
        return self._maintenance(matches[-1]) if matches else None

    @_locked
    def get_maintenance(self, maintenance_id: int) -> Maintenance:
        return self._maintenance(self._maintenance_row(maintenance_id, "GET"))

    @_locked
    def create_maintenance(self, draft: MaintenanceDraft) -> Maintenance:
        return self._maintenance(self._create_maintenance(draft.to_api()))

    @_locked
    def update_maintenance(
        self, maintenance_id: int, changes: Mapping[str, Any], *, if_match: str | None = None
    ) -> Maintenance:
        return self._maintenance(self._patch_maintenance(maintenance_id, changes, if_match))

    @_locked
    def maintenances_named(self, names: Sequence[str], provider_id: int) -> list[dict[str, Any]]:
        return [self._maintenance_data(row) for row in self._maintenances_named(names, provider_id)]

    @_locked
    def maintenance_data(self, maintenance_id: int) -> dict[str, Any]:
        return self._maintenance_data(self._maintenance_row(maintenance_id, "GET"))

    @_locked
    def create_maintenance_data(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._maintenance_data(self._create_maintenance(body))

    @_locked
    def patch_maintenance(self, maintenance_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        return self._maintenance_data(self._patch_maintenance(maintenance_id, changes, None))

    # impacts
    @_locked
    def create_impacts(self, maintenance_id: int, targets: Sequence[ImpactTarget]) -> list[Impact]:
        """All or none, as NetBox's bulk create; a second impact on the same target is a 500 (the plugin's
        unique constraint, which the serializer does not check)."""
        if not targets:
            return []
        errors = [
            {"index": index, "errors": found}
            for index, target in enumerate(targets)
            if (found := self._impact_refusal(maintenance_id, target))
        ]
        if errors:
            detail = f"{len(errors)} of {len(targets)} objects could not be created."
            raise NetBoxValidationError(400, "POST", IMPACTS, {"detail": detail, "errors": errors})
        self._refuse_duplicate_impacts(maintenance_id, targets)
        return [Impact.from_api(self._add_impact(maintenance_id, target)) for target in targets]

    @_locked
    def list_impacts(self, maintenance_id: int) -> list[Impact]:
        """By target, as NetBox 4.7 was seen to list them (the contract does not pin the order)."""
        rows = [row for row in self.impacts.values() if row["event_object_id"] == maintenance_id]
        return [
            Impact.from_api(row) for row in sorted(rows, key=lambda row: (row["target_object_id"], row["id"]))
        ]

    @_locked
    def update_impact_levels(self, levels: Sequence[tuple[int, str]]) -> None:
        missing = [impact_id for impact_id, _ in levels if impact_id not in self.impacts]
        if missing:
            raise _bulk_missing("PATCH", IMPACTS, missing, len(levels))
        for impact_id, _ in levels:
            if self.maintenances[self.impacts[impact_id]["event_object_id"]]["status"] in CLOSED:
                raise NetBoxValidationError(400, "PATCH", IMPACTS, _closed_event(impact_id))
        for impact_id, level in levels:
            self.impacts[impact_id]["impact"] = level

    def circuit_type_id(self) -> int:
        return self.object_type_id("circuits", "circuit")

    @_locked
    def impacts_data(self, maintenance_id: int) -> list[dict[str, Any]]:
        """As `list_impacts`, the JSON NetBox answers with: a circuit target nested with its `cid`."""
        rows = [row for row in self.impacts.values() if row["event_object_id"] == maintenance_id]
        return [
            self._impact_data(row)
            for row in sorted(rows, key=lambda row: (row["target_object_id"], row["id"]))
        ]

    @_locked
    def delete_impacts(self, impact_ids: Sequence[int]) -> None:
        """As `NoticesApi.delete_impacts`: the impacts gone, one already gone taken as deleted."""
        for impact_id in set(impact_ids):
            self.impacts.pop(impact_id, None)

    def _impact_data(self, row: Mapping[str, Any]) -> dict[str, Any]:
        data = copy.deepcopy(dict(row))
        circuit = self.circuits.get(row["target_object_id"])
        is_circuit = row["target_content_type"] == self.circuit_type_id()
        data["target"] = {"id": circuit["id"], "cid": circuit["cid"]} if is_circuit and circuit else None
        return data

    # event notifications
    @_locked
    def create_event_notification(
        self, maintenance_id: int, *, subject: str, email_from: str, email_received: datetime, email_body: str
    ) -> EventNotification:
        errors: dict[str, list[str]] = {}
        if not email_body.strip():
            errors["email_body"] = ["This field may not be blank."]
        if not EMAIL.match(email_from):
            errors["email_from"] = ["Enter a valid email address."]
        if not errors and maintenance_id not in self.maintenances:
            errors["event_object_id"] = _related_missing(maintenance_id)
        if errors:
            raise NetBoxValidationError(400, "POST", EVENT_NOTIFICATIONS, errors)
        row_id = next(self._next_id["event"])
        self.event_notifications[row_id] = {
            "id": row_id,
            "event_content_type": self.object_type_id("notices", "maintenance"),
            "event_object_id": maintenance_id,
            "subject": subject[:SUBJECT_LIMIT],
            "email_from": email_from,
            "email_received": rules.iso(email_received),
            "email_body": email_body,
        }
        return EventNotification.from_api(copy.deepcopy(self.event_notifications[row_id]))

    @_locked
    def event_notifications_on(
        self, maintenance_ids: Sequence[int], received: datetime
    ) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(row)
            for row in sorted(self.event_notifications.values(), key=_newest_first)
            if row["event_object_id"] in maintenance_ids and rules.when(row["email_received"]) == received
        ]

    # prepared notifications
    @_locked
    def create_prepared_notification(
        self,
        *,
        template_id: int,
        subject: str,
        body_text: str,
        contact_ids: Sequence[int] = (),
        maintenance_id: int | None = None,
        body_html: str = "",
    ) -> PreparedNotification:
        self._check_new_notification(template_id, subject, body_text, contact_ids)
        row_id = next(self._next_id["pn"])
        stamp = self._stamp()
        self.notifications[row_id] = {
            "id": row_id,
            "template": copy.deepcopy(self.templates[template_id]),
            "event_content_type": self.object_type_id("notices", "maintenance") if maintenance_id else None,
            "event_id": maintenance_id,
            "status": str(NotificationStatus.DRAFT),
            "contacts": [{"id": n, "name": self.contacts[n]["name"]} for n in contact_ids],
            "recipients": [],
            "subject": subject,
            "body_text": body_text,
            "body_html": body_html,
            "headers": {},
            "css": "",
            "ical_content": "",
            "approved_by": None,
            "approved_at": None,
            "sent_at": None,
            "delivered_at": None,
            "viewed_at": None,
            "created": stamp,
            "last_updated": stamp,
        }
        return PreparedNotification.from_api(copy.deepcopy(self.notifications[row_id]))  # a POST: no ETag

    @_locked
    def prepared_notifications(self, *statuses: NotificationStatus) -> Iterator[PreparedNotification]:
        wanted = {str(status) for status in statuses}
        rows = sorted(self.notifications.values(), key=_newest_first)
        found = [
            PreparedNotification.from_api(copy.deepcopy(row))
            for row in rows
            if not wanted or row["status"] in wanted
        ]
        return iter(found)

    @_locked
    def ready_notifications(self) -> Iterator[PreparedNotification]:
        rows = sorted(self.notifications.values(), key=lambda row: int(row["id"]))
        ready = [row for row in rows if row["status"] == NotificationStatus.READY]
        return iter([PreparedNotification.from_api(copy.deepcopy(row), etag_of(row)) for row in ready])

    @_locked
    def prepared_notification_answer(self, notification_id: int) -> Response:
        """The detail read as NetBox answers it, with its ETag and the server's `Date`."""
        row = self._notification_row(notification_id, "GET")
        headers = {"Date": format_datetime(self.clock().astimezone(UTC), usegmt=True)}
        if etag := self._etag(row):
            headers["ETag"] = etag
        return Response(200, copy.deepcopy(row), headers)

    @_locked
    def get_prepared_notification(self, notification_id: int) -> PreparedNotification:
        row = self._notification_row(notification_id, "GET")
        return PreparedNotification.from_api(copy.deepcopy(row), self._etag(row))

    @_locked
    def transition(
        self,
        notification_id: int,
        status: NotificationStatus,
        *,
        message: str = "",
        timestamp: datetime | None = None,
        if_match: str | None = None,
    ) -> PreparedNotification:
        row = self._notification_row(notification_id, "PATCH")
        path = f"{NOTIFICATIONS}{notification_id}/"
        self._check_if_match(row, if_match, path)
        now = self.clock()
        moment = timestamp or now
        recipients = self._recipients(row)
        if refused := rules.refusal(row, str(status), moment, now, recipients):
            raise NetBoxValidationError(400, "PATCH", path, refused)
        self._move(row, str(status), moment, message, recipients)
        return PreparedNotification.from_api(copy.deepcopy(row), self._etag(row))

    @_locked
    def mark_sent_many(self, messages: Mapping[int, str]) -> list[NotificationVersion]:
        """All or none, as NetBox 4.7's bulk PATCH: a missing id is named alone; otherwise every refused
        transition is named, newest notification first. The answer lists the newest first too."""
        missing = [number for number in messages if number not in self.notifications]
        if missing:
            raise _bulk_missing("PATCH", NOTIFICATIONS, missing, len(messages))
        now = self.clock()
        chosen = sorted((self.notifications[number] for number in messages), key=_newest_first)
        errors = [
            {"id": row["id"], "errors": refused}
            for row in chosen
            if (refused := rules.refusal(row, NotificationStatus.SENT, now, now, self._recipients(row)))
        ]
        if errors and not self.names_refused:
            raise NetBoxValidationError(400, "PATCH", NOTIFICATIONS, errors[0]["errors"])
        if errors:
            detail = f"{len(errors)} of {len(messages)} objects could not be updated."
            raise NetBoxValidationError(400, "PATCH", NOTIFICATIONS, {"detail": detail, "errors": errors})
        for row in chosen:
            self._move(row, NotificationStatus.SENT, now, messages[row["id"]], self._recipients(row))
        return [NotificationVersion.from_api(copy.deepcopy(row)) for row in chosen]

    # journal
    @_locked
    def add_journal_entry(
        self,
        object_id: int,
        comments: str,
        *,
        kind: str = "info",
        object_type: str = PREPARED_NOTIFICATION_TYPE,
    ) -> JournalEntry:
        errors: dict[str, list[str]] = {}
        if kind not in JOURNAL_KINDS:
            errors["kind"] = [f"{kind} is not a valid choice."]
        if not comments.strip():
            errors["comments"] = ["This field may not be blank."]
        if not errors and not self._journal_target_exists(object_type, object_id):
            errors["__all__"] = [f"Invalid assigned_object: {_model_label(object_type)} ID {object_id}"]
        if errors:
            raise NetBoxValidationError(400, "POST", JOURNAL, errors)
        return JournalEntry.from_api(copy.deepcopy(self._add_journal(object_type, object_id, kind, comments)))

    @_locked
    def journal_entries(
        self, object_id: int, object_type: str = PREPARED_NOTIFICATION_TYPE
    ) -> list[JournalEntry]:
        """Newest first, as NetBox orders journal entries."""
        rows = sorted(self.journal.values(), key=_newest_first)
        return [
            JournalEntry.from_api(copy.deepcopy(row))
            for row in rows
            if row["assigned_object_type"] == object_type and row["assigned_object_id"] == object_id
        ]

    # places (dcim), as a test sets them up through NetBox's API
    @_locked
    def add_site(self, name: str) -> int:
        return self._add_place(self.sites, name)

    @_locked
    def add_location(self, name: str, site_id: int) -> int:
        return self._add_place(self.locations, name, site_id)

    @_locked
    def add_device(self, name: str, site_id: int) -> int:
        return self._add_place(self.devices, name, site_id)

    @_locked
    def terminate(self, circuit_id: int, scope: str, scope_id: int, side: str = "A") -> None:
        """A circuit termination scoped to a `dcim.site` or a `dcim.location`, nested as NetBox nests it."""
        places = {"dcim.site": self.sites, "dcim.location": self.locations}[scope]
        self.circuits[circuit_id][f"termination_{side.lower()}"] = {
            "termination_type": scope,
            "termination_id": scope_id,
            "termination": {"id": scope_id, "name": places[scope_id]["name"]},
        }

    # the overlap warnings' reads and write
    @_locked
    def maintenances_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        rows = [
            row
            for row in self.maintenances.values()
            if datetime.fromisoformat(row["start"]) < end
            and datetime.fromisoformat(row["end"]) > start
            and row["status"] != MaintenanceStatus.RE_SCHEDULED
        ]
        ordered = sorted(rows, key=lambda row: (datetime.fromisoformat(row["start"]), row["id"]))
        return [self._maintenance_data(row) for row in ordered]

    @_locked
    def impacts_with_targets(self, maintenance_ids: Sequence[int]) -> list[dict[str, Any]]:
        wanted = set(maintenance_ids)
        return [
            {
                "id": row["id"],
                "event_object_id": row["event_object_id"],
                "target_object_id": row["target_object_id"],
                "target": self._target(row["target_content_type"], row["target_object_id"]),
            }
            for row in sorted(self.impacts.values(), key=lambda row: row["id"])
            if row["event_object_id"] in wanted
        ]

    @_locked
    def circuits_with_terminations(self, circuit_ids: Sequence[int]) -> list[dict[str, Any]]:
        return [
            self._circuit(circuit_id)
            for circuit_id in sorted(set(circuit_ids))
            if circuit_id in self.circuits
        ]

    @_locked
    def sites_of(self, model: str, object_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        places = {"devices": self.devices, "locations": self.locations}[model]
        return {
            object_id: copy.deepcopy(self.sites[places[object_id]["site"]])
            for object_id in object_ids
            if object_id in places
        }

    @_locked
    def journal_entries_on(
        self, object_ids: Sequence[int], object_type: str, *, kind: str
    ) -> list[JournalEntry]:
        wanted = set(object_ids)
        return [
            JournalEntry.from_api(copy.deepcopy(row))
            for row in sorted(self.journal.values(), key=_newest_first)
            if row["assigned_object_type"] == object_type
            and row["assigned_object_id"] in wanted
            and row["kind"]["value"] == kind
        ]

    @_locked
    def add_journal_entries(
        self, entries: Sequence[tuple[int, str]], *, kind: str, object_type: str
    ) -> list[JournalEntry]:
        """All or none, as NetBox's bulk create."""
        missing = [
            object_id for object_id, _ in entries if not self._journal_target_exists(object_type, object_id)
        ]
        if missing or kind not in JOURNAL_KINDS:
            detail = f"{len(missing) or len(entries)} of {len(entries)} objects could not be created."
            raise NetBoxValidationError(400, "POST", JOURNAL, {"detail": detail})
        return [
            JournalEntry.from_api(copy.deepcopy(self._add_journal(object_type, object_id, kind, text)))
            for object_id, text in entries
        ]

    def _add_place(self, table: dict[int, dict[str, Any]], name: str, site_id: int | None = None) -> int:
        row_id = next(self._next_id[f"place-{id(table)}"])
        table[row_id] = {"id": row_id, "name": name} | ({} if site_id is None else {"site": site_id})
        return row_id

    def _circuit(self, circuit_id: int) -> dict[str, Any]:
        """A circuit as the plugin nests it in an impact: its `type` a nested object, its terminations."""
        row = self.circuits[circuit_id]
        return {
            "id": circuit_id,
            "cid": row["cid"],
            "type": {"id": 1, "name": "Transit"},
            "termination_a": copy.deepcopy(row.get("termination_a")),
            "termination_z": copy.deepcopy(row.get("termination_z")),
        }

    def _target(self, object_type: int, object_id: int) -> dict[str, Any] | None:
        """An impact's target as the plugin nests it: a whole circuit, otherwise `{id, name, type}`."""
        if object_type == self.object_type_id("circuits", "circuit"):
            return self._circuit(object_id) if object_id in self.circuits else None
        kinds = {self.object_type_id("dcim", "device"): ("dcim.device", self.devices)}
        kinds[self.object_type_id("dcim", "site")] = ("dcim.site", self.sites)
        kind, table = kinds.get(object_type, ("", {}))
        row = table.get(object_id)
        return None if row is None else {"id": object_id, "name": row["name"], "type": kind}

    # tags, and the journal entries they mark (the inbound triage)
    @_locked
    def ensure_tag(self, slug: str, *, color: str, description: str) -> None:
        if not any(row["slug"] == slug for row in self.tags.values()):
            row_id = next(self._next_id["tag"])
            self.tags[row_id] = {"id": row_id, "name": slug, "slug": slug, "color": color}

    @_locked
    def ensure_provider(self, slug: str, *, name: str, description: str) -> int:
        found = [row_id for row_id, row in self.providers.items() if row["slug"] == slug]
        if found:
            return found[0]
        row_id = next(self._next_id["provider"])
        self.providers[row_id] = {"id": row_id, "name": name, "slug": slug}
        return row_id

    @_locked
    def find_journal_entries(
        self,
        *,
        tag: str | None = None,
        object_type: str | None = None,
        object_id: int | None = None,
        search: str = "",
        created_after: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; a tag the fake does not have is refused as NetBox refuses it."""
        if tag is not None and not any(row["slug"] == tag for row in self.tags.values()):
            choice = f"Select a valid choice. {tag} is not one of the available choices."
            raise NetBoxValidationError(400, "GET", JOURNAL, {"tag": [choice]})
        target = (object_type, object_id) if object_type is not None else None
        rows = sorted(self.journal.values(), key=_newest_first)
        return [
            self._journal_data(row)
            for row in rows
            if _journal_matches(row, tag, target, search, created_after)
        ]

    @_locked
    def add_tagged_journal_entry(
        self, object_type: str, object_id: int, comments: str, *, kind: str, tags: Sequence[str]
    ) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        if kind not in JOURNAL_KINDS:
            errors["kind"] = [f"{kind} is not a valid choice."]
        if not comments.strip():
            errors["comments"] = ["This field may not be blank."]
        elif "\x00" in comments:  # NetBox's serializers refuse NUL in every text field
            errors["comments"] = ["Null characters are not allowed."]
        if not errors and not self._triage_target_exists(object_type, object_id):
            errors["__all__"] = [f"Invalid assigned_object: {_model_label(object_type)} ID {object_id}"]
        if not errors and (missing := self._missing_tag(tags)):
            errors["tags"] = [_tag_not_found(missing)]
        if errors:
            raise NetBoxValidationError(400, "POST", JOURNAL, errors)
        row = self._add_journal(object_type, object_id, kind, comments)
        row["tags"] = self._tag_rows(tags)
        return self._journal_data(row)

    @_locked
    def update_journal_entry(
        self, entry_id: int, changes: Mapping[str, Any], *, tags: Sequence[str] | None = None
    ) -> dict[str, Any]:
        path = f"{JOURNAL}{entry_id}/"
        if entry_id not in self.journal:
            raise _not_found("JournalEntry", "PATCH", path)
        row = self.journal[entry_id]
        target = (
            changes.get("assigned_object_type", row["assigned_object_type"]),
            int(changes.get("assigned_object_id", row["assigned_object_id"])),
        )
        if not self._triage_target_exists(*target):
            label = f"Invalid assigned_object: {_model_label(target[0])} ID {target[1]}"
            raise NetBoxValidationError(400, "PATCH", path, {"__all__": [label]})
        if tags is not None and (missing := self._missing_tag(tags)):
            raise NetBoxValidationError(400, "PATCH", path, {"tags": [_tag_not_found(missing)]})
        if "kind" in changes:
            row["kind"] = {"value": changes["kind"], "label": str(changes["kind"]).title()}
        row["comments"] = changes.get("comments", row["comments"])
        row["assigned_object_type"], row["assigned_object_id"] = target
        if tags is not None:
            row["tags"] = self._tag_rows(tags)
        row["last_updated"] = self._stamp()
        return self._journal_data(row)

    def _triage_target_exists(self, object_type: str, object_id: int) -> bool:
        if object_type == "circuits.provider":
            return object_id in self.providers
        return self._journal_target_exists(object_type, object_id)

    def _missing_tag(self, slugs: Sequence[str]) -> str | None:
        known = {row["slug"] for row in self.tags.values()}
        return next((slug for slug in slugs if slug not in known), None)

    def _tag_rows(self, slugs: Sequence[str]) -> list[dict[str, Any]]:
        by_slug = {row["slug"]: row for row in self.tags.values()}
        return [copy.deepcopy(by_slug[slug]) for slug in dict.fromkeys(slugs)]

    def _journal_data(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A journal entry as NetBox answers with it: its object nested (for a display name), its tags."""
        data = copy.deepcopy(dict(row))
        data.setdefault("tags", [])
        tables = {
            "circuits.provider": self.providers,
            "notices.maintenance": self.maintenances,
            PREPARED_NOTIFICATION_TYPE: self.notifications,
        }
        target = tables.get(row["assigned_object_type"], {}).get(row["assigned_object_id"], {})
        data["assigned_object"] = {"id": row["assigned_object_id"], "display": target.get("name", "")}
        return data

    # what the methods share
    def _stamp(self) -> str:
        """`last_updated` for a write: the server's clock, strictly after the previous write's, so every
        write gives a new ETag even when the clock stands still."""
        moment = max(self.clock(), self._last_stamp + timedelta(microseconds=1))
        self._last_stamp = moment
        return rules.iso(moment)

    def _etag(self, row: Mapping[str, Any]) -> str | None:
        return etag_of(row) if self.etags else None

    def _check_if_match(self, row: Mapping[str, Any], if_match: str | None, path: str) -> None:
        if self.etags and if_match is not None and if_match != etag_of(row):
            raise NetBoxConflict(412, "PATCH", path, PRECONDITION_FAILED)

    def _notification_row(self, notification_id: int, method: str) -> dict[str, Any]:
        if notification_id not in self.notifications:
            raise _not_found("PreparedNotification", method, f"{NOTIFICATIONS}{notification_id}/")
        return self.notifications[notification_id]

    def _recipients(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        """What approving now would snapshot: the notification's contacts that have an email."""
        contacts = [self.contacts[contact["id"]] for contact in row["contacts"]]
        return [
            {"email": contact["email"], "name": contact["name"], "contact_id": contact["id"]}
            for contact in contacts
            if contact["email"]
        ]

    def _move(
        self, row: dict[str, Any], status: str, moment: datetime, message: str, recipients: Sequence[Any]
    ) -> None:
        previous = row["status"]
        kind = rules.apply(row, status, moment, self.clock(), recipients)
        row["last_updated"] = self._stamp()  # a same-status PATCH is saved too: a new ETag, no journal
        if kind is not None and message:
            self._add_journal(
                PREPARED_NOTIFICATION_TYPE, row["id"], kind, rules.journal_text(previous, status, message)
            )

    def _add_journal(self, object_type: str, object_id: int, kind: str, comments: str) -> dict[str, Any]:
        row_id = next(self._next_id["journal"])
        stamp = self._stamp()
        self.journal[row_id] = {
            "id": row_id,
            "assigned_object_type": object_type,
            "assigned_object_id": object_id,
            "kind": {"value": kind, "label": kind.title()},
            "comments": comments,
            "created": stamp,
            "last_updated": stamp,
        }
        return self.journal[row_id]

    def _journal_target_exists(self, object_type: str, object_id: int) -> bool:
        tables = {PREPARED_NOTIFICATION_TYPE: self.notifications, "notices.maintenance": self.maintenances}
        return object_id in tables.get(object_type, {})

    def _check_new_notification(
        self, template_id: int, subject: str, body_text: str, contact_ids: Sequence[int]
    ) -> None:
        errors: dict[str, list[str]] = {}
        if template_id not in self.templates:
            errors["template_id"] = [f'Invalid pk "{template_id}" - object does not exist.']
        if not subject.strip():
            errors["subject"] = ["This field may not be blank."]
        elif len(subject) > 255:
            errors["subject"] = ["Ensure this field has no more than 255 characters."]
        if not body_text.strip():
            errors["body_text"] = ["This field may not be blank."]
        if unknown := [n for n in contact_ids if n not in self.contacts]:
            errors["contact_ids"] = [f'Invalid pk "{unknown[0]}" - object does not exist.']
        if errors:
            raise NetBoxValidationError(400, "POST", NOTIFICATIONS, errors)

    def _maintenances_named(self, names: Sequence[str], provider_id: int) -> list[dict[str, Any]]:
        """Oldest first; NetBox keeps no uniqueness on name and provider."""
        rows = sorted(self.maintenances.values(), key=lambda row: int(row["id"]))
        return [row for row in rows if row["name"] in names and row["provider"] == provider_id]

    def _maintenance_row(self, maintenance_id: int, method: str) -> dict[str, Any]:
        if maintenance_id not in self.maintenances:
            raise _not_found("Maintenance", method, f"{MAINTENANCES}{maintenance_id}/")
        return self.maintenances[maintenance_id]

    def _maintenance_data(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A maintenance as NetBox answers with it: the provider nested, the impacts counted."""
        data = copy.deepcopy(dict(row))
        data["provider"] = copy.deepcopy(self.providers[row["provider"]])
        data["impact_count"] = sum(
            1 for impact in self.impacts.values() if impact["event_object_id"] == row["id"]
        )
        return data

    def _maintenance(self, row: Mapping[str, Any]) -> Maintenance:
        return Maintenance.from_api(self._maintenance_data(row))

    def _create_maintenance(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _check_maintenance(body, "POST", MAINTENANCES)
        provider = body["provider"]["id"] if isinstance(body["provider"], Mapping) else int(body["provider"])
        if provider not in self.providers:
            raise NetBoxValidationError(400, "POST", MAINTENANCES, {"provider": _related_missing(provider)})
        row_id = next(self._next_id["maintenance"])
        stamp = self._stamp()
        row: dict[str, Any] = {
            "original_timezone": "",
            "internal_ticket": "",
            "acknowledged": False,
            "replaces": None,
            "impact": "",
            "comments": "",
            **_in_utc(body),
            "id": row_id,
            "provider": provider,
            "created": stamp,
            "last_updated": stamp,
        }
        self.maintenances[row_id] = row
        if (replaced := row["replaces"]) in self.maintenances:
            # Creating a maintenance that replaces another reschedules the other (a post_save signal).
            self.maintenances[replaced]["status"] = str(MaintenanceStatus.RE_SCHEDULED)
            self.maintenances[replaced]["last_updated"] = self._stamp()
        return row

    def _patch_maintenance(
        self, maintenance_id: int, changes: Mapping[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        path = f"{MAINTENANCES}{maintenance_id}/"
        row = self._maintenance_row(maintenance_id, "PATCH")
        self._check_if_match(row, if_match, path)
        _check_maintenance({**row, **changes}, "PATCH", path)
        row.update(_in_utc(changes))
        row["last_updated"] = self._stamp()
        return row

    def _impact_refusal(self, maintenance_id: int, target: ImpactTarget) -> dict[str, list[str]]:
        maintenance = self.maintenances.get(maintenance_id)
        if maintenance is None:
            return {"event_object_id": _related_missing(maintenance_id)}
        if maintenance["status"] in CLOSED:
            return {"__all__": ["You cannot alter an impact once the event has completed."]}
        if (target.app_label, target.model) == (
            "circuits",
            "circuit",
        ) and target.object_id not in self.circuits:
            return {"target_object_id": _related_missing(target.object_id)}
        return {}

    def _refuse_duplicate_impacts(self, maintenance_id: int, targets: Sequence[ImpactTarget]) -> None:
        seen = {
            (row["target_content_type"], row["target_object_id"])
            for row in self.impacts.values()
            if row["event_object_id"] == maintenance_id
        }
        for target in targets:
            key = (self.object_type_id(target.app_label, target.model), target.object_id)
            if key in seen:
                body = {
                    "error": "duplicate key value violates unique constraint",
                    "exception": "IntegrityError",
                }
                raise NetBoxServerError(500, "POST", IMPACTS, body)
            seen.add(key)

    def _add_impact(self, maintenance_id: int, target: ImpactTarget) -> dict[str, Any]:
        row_id = next(self._next_id["impact"])
        self.impacts[row_id] = {
            "id": row_id,
            "event_content_type": self.object_type_id("notices", "maintenance"),
            "event_object_id": maintenance_id,
            "target_content_type": self.object_type_id(target.app_label, target.model),
            "target_object_id": target.object_id,
            "impact": str(target.impact) if target.impact else None,
        }
        return copy.deepcopy(self.impacts[row_id])


def _in_utc(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a maintenance body with its times as NetBox gives them back: UTC, `Z`."""
    data = copy.deepcopy(dict(body))
    for name in ("start", "end"):
        if isinstance(data.get(name), str):
            data[name] = rules.iso(datetime.fromisoformat(data[name]).astimezone(UTC))
    return data


def _newest_first(row: Mapping[str, Any]) -> int:
    return -int(row["id"])


def _bulk_missing(method: str, path: str, missing: Sequence[int], total: int) -> NetBoxValidationError:
    errors = [
        {"id": number, "errors": {"id": [f"Object with ID {number} does not exist"]}} for number in missing
    ]
    detail = f"{len(missing)} of {total} objects could not be found."
    return NetBoxValidationError(400, method, path, {"detail": detail, "errors": errors})


def _closed_event(impact_id: int) -> dict[str, Any]:
    errors = {"__all__": ["You cannot alter an impact once the event has completed."]}
    return {"detail": "1 of 1 objects could not be updated.", "errors": [{"id": impact_id, "errors": errors}]}


def _journal_matches(
    row: Mapping[str, Any],
    tag: str | None,
    target: tuple[str, int | None] | None,
    search: str,
    created_after: datetime | None,
) -> bool:
    """NetBox's journal filters: `tag`, the object, `q` (comments, any case), `created_after`."""
    return (
        (tag is None or tag in [t["slug"] for t in row.get("tags", [])])
        and (target is None or (row["assigned_object_type"], row["assigned_object_id"]) == target)
        and search.lower() in row["comments"].lower()
        and (created_after is None or datetime.fromisoformat(row["created"]) >= created_after)
    )


def _tag_not_found(slug: str) -> str:
    return f"Related object not found using the provided attributes: {{'slug': '{slug}'}}"


def _model_label(object_type: str) -> str:
    return {
        "circuits.provider": "Circuits > Provider",
        PREPARED_NOTIFICATION_TYPE: "Notices > Prepared Notification",
        "notices.maintenance": "Notices > Maintenance",
    }.get(object_type, object_type)


def _check_maintenance(body: Mapping[str, Any], method: str, path: str) -> None:
    statuses = {str(status) for status in MaintenanceStatus}
    if "status" in body and body["status"] not in statuses:
        raise NetBoxValidationError(
            400, method, path, {"status": [f'"{body["status"]}" is not a valid choice.']}
        )
    start, end = (body.get(name) for name in ("start", "end"))
    if (
        isinstance(start, str)
        and isinstance(end, str)
        and datetime.fromisoformat(end) < datetime.fromisoformat(start)
    ):
        raise NetBoxValidationError(
            400, method, path, {"end": ["The end time must be after the start time."]}
        )
