"""The netbox-notices operations the flows need, each one request where the plugin allows it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sesflow.netbox.client import NetBoxClient, Params, Response
from sesflow.netbox.errors import NetBoxValidationError
from sesflow.netbox.records import (
    EventNotification,
    Impact,
    ImpactLevel,
    JournalEntry,
    Maintenance,
    MaintenanceDraft,
    MaintenanceStatus,
    NotificationStatus,
    NotificationVersion,
    PreparedNotification,
    etag_of,
)

PLUGIN = "/api/plugins/notices"
JOURNAL = "/api/extras/journal-entries/"
TAGS = "/api/extras/tags/"
PROVIDERS = "/api/circuits/providers/"
SUBJECT_LIMIT = 100  # EventNotification.subject is max_length=100; longer subjects are refused with 400
PREPARED_NOTIFICATION_TYPE = "notices.preparednotification"
#: What a NotificationVersion needs; NetBox serialises only these (a full notification costs it more than
#: the write itself).
VERSION_FIELDS = "id,status,approved_at,last_updated"
CIRCUITS = "/api/circuits/circuits/"
#: Lookups by id or by window ask for NetBox's largest page (MAX_PAGE_SIZE defaults to 1000): one request
#: for up to that many objects.
LOOKUP_PAGE = 1000


@dataclass(frozen=True)
class ImpactTarget:
    object_id: int
    impact: ImpactLevel | None
    app_label: str = "circuits"
    model: str = "circuit"


class NoticesApi:
    def __init__(self, client: NetBoxClient) -> None:
        self.client = client

    def _maintenance_type(self) -> int:
        return self.client.object_type_id("notices", "maintenance")

    # maintenances
    def find_maintenance(self, name: str, provider_id: int) -> Maintenance | None:
        """The newest maintenance with this event id from this provider (they are not unique)."""
        found = self.client.get(f"{PLUGIN}/maintenance/", {"name": name, "provider_id": provider_id})
        matches = [Maintenance.from_api(item) for item in found["results"]]
        return max(matches, key=lambda maintenance: maintenance.id, default=None)

    def get_maintenance(self, maintenance_id: int) -> Maintenance:
        return Maintenance.from_api(self.client.get(f"{PLUGIN}/maintenance/{maintenance_id}/"))

    def create_maintenance(self, draft: MaintenanceDraft) -> Maintenance:
        return Maintenance.from_api(self.client.post(f"{PLUGIN}/maintenance/", draft.to_api()))

    def update_maintenance(
        self, maintenance_id: int, changes: Mapping[str, Any], *, if_match: str | None = None
    ) -> Maintenance:
        answer = self.client.patch(f"{PLUGIN}/maintenance/{maintenance_id}/", changes, if_match=if_match)
        return Maintenance.from_api(answer.data)

    # impacts
    def create_impacts(self, maintenance_id: int, targets: Sequence[ImpactTarget]) -> list[Impact]:
        """All impacts of a maintenance in one bulk POST. Write them before closing the event: the plugin
        refuses impact changes on a completed or cancelled one."""
        if not targets:
            return []
        event_type = self._maintenance_type()
        body = [
            {
                "event_content_type": event_type,
                "event_object_id": maintenance_id,
                "target_content_type": self.client.object_type_id(target.app_label, target.model),
                "target_object_id": target.object_id,
                "impact": str(target.impact) if target.impact else None,
            }
            for target in targets
        ]
        return [Impact.from_api(item) for item in self.client.post(f"{PLUGIN}/impact/", body)]

    def list_impacts(self, maintenance_id: int) -> list[Impact]:
        # The filter takes `app_label.model`; an integer content type id silently matches nothing.
        params: Params = {"event_content_type": "notices.maintenance", "event_object_id": maintenance_id}
        return [Impact.from_api(item) for item in self.client.iterate(f"{PLUGIN}/impact/", params)]

    # event notifications (the provider's mail, stored on the maintenance)
    def create_event_notification(
        self, maintenance_id: int, *, subject: str, email_from: str, email_received: datetime, email_body: str
    ) -> EventNotification:
        body = {
            "event_content_type": self._maintenance_type(),
            "event_object_id": maintenance_id,
            "subject": subject[:SUBJECT_LIMIT],
            "email_from": email_from,
            "email_received": email_received.isoformat(),
            "email_body": email_body,
        }
        return EventNotification.from_api(self.client.post(f"{PLUGIN}/eventnotification/", body))

    # prepared notifications (our outgoing mail)
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
        """A new notification; the plugin always starts it as `draft`."""
        body: dict[str, Any] = {
            "template_id": template_id,
            "subject": subject,
            "body_text": body_text,
            "body_html": body_html,
            "contact_ids": list(contact_ids),
        }
        if maintenance_id is not None:
            body |= {"event_content_type": self._maintenance_type(), "event_id": maintenance_id}
        return PreparedNotification.from_api(self.client.post(f"{PLUGIN}/prepared-notifications/", body))

    def prepared_notifications(self, *statuses: NotificationStatus) -> Iterator[PreparedNotification]:
        params = {"status": [str(status) for status in statuses]} if statuses else None
        for item in self.client.iterate(f"{PLUGIN}/prepared-notifications/", params):
            yield PreparedNotification.from_api(item)

    def get_prepared_notification(self, notification_id: int) -> PreparedNotification:
        """The notification with its ETag, to pass to `transition(if_match=…)`."""
        answer = self.client.request("GET", f"{PLUGIN}/prepared-notifications/{notification_id}/")
        return PreparedNotification.from_api(answer.data, answer.etag)

    def transition(
        self,
        notification_id: int,
        status: NotificationStatus,
        *,
        message: str = "",
        timestamp: datetime | None = None,
        if_match: str | None = None,
    ) -> PreparedNotification:
        """Move a notification along draft → ready → sent → delivered/failed. A `message` becomes a journal
        entry; a refused transition raises NetBoxValidationError with the plugin's reason."""
        body: dict[str, Any] = {"status": str(status)}
        if message:
            body["message"] = message
        if timestamp is not None:
            body["timestamp"] = timestamp.isoformat()
        path = f"{PLUGIN}/prepared-notifications/{notification_id}/"
        answer = self.client.patch(path, body, if_match=if_match)
        return PreparedNotification.from_api(answer.data, answer.etag)

    def mark_sent_many(self, messages: Mapping[int, str]) -> list[NotificationVersion]:
        """`ready → sent` for many notifications in one bulk PATCH, each with its journal message. NetBox
        applies all or none: one refused transition is a NetBoxValidationError naming each refused id
        (`refused_ids`). NetBox takes no If-Match on bulk writes: the caller checks what it returns.
        Repeated after a lost answer, the PATCH is a same-status no-op."""
        body = [
            {"id": number, "status": str(NotificationStatus.SENT), "message": text}
            for number, text in messages.items()
        ]
        answer = self.client.request(
            "PATCH",
            f"{PLUGIN}/prepared-notifications/",
            # `fields` limits what NetBox takes from the body too: without `message` the journal text goes.
            params={"fields": f"{VERSION_FIELDS},message"},
            body=body,
        )
        return [NotificationVersion.from_api(item) for item in answer.data]

    # journal
    def add_journal_entry(
        self,
        object_id: int,
        comments: str,
        *,
        kind: str = "info",
        object_type: str = PREPARED_NOTIFICATION_TYPE,
    ) -> JournalEntry:
        body = {"assigned_object_type": object_type, "assigned_object_id": object_id, "kind": kind}
        return JournalEntry.from_api(self.client.post(JOURNAL, body | {"comments": comments}))

    def journal_entries(
        self, object_id: int, object_type: str = PREPARED_NOTIFICATION_TYPE
    ) -> list[JournalEntry]:
        params: Params = {"assigned_object_type": object_type, "assigned_object_id": object_id}
        return [JournalEntry.from_api(item) for item in self.client.iterate(JOURNAL, params)]

    # maintenances as the inbound flow reads and writes them: the raw answer, for `comments` and `replaces`
    def maintenances_named(self, names: Sequence[str], provider_id: int) -> list[dict[str, Any]]:
        """Every maintenance with one of `names` from this provider, in one request, oldest first."""
        params: Params = {"name": sorted(set(names)), "provider_id": provider_id}
        found = self.client.iterate(f"{PLUGIN}/maintenance/", params)
        return sorted(found, key=lambda item: int(item["id"]))

    def maintenance_data(self, maintenance_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.get(f"{PLUGIN}/maintenance/{maintenance_id}/")
        return answer

    def create_maintenance_data(self, body: Mapping[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.post(f"{PLUGIN}/maintenance/", dict(body))
        return answer

    def patch_maintenance(self, maintenance_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.patch(f"{PLUGIN}/maintenance/{maintenance_id}/", changes).data
        return answer

    def update_impact_levels(self, levels: Sequence[tuple[int, str]]) -> None:
        """New levels for existing impacts, `(impact id, level)`: one bulk PATCH for all of them."""
        body = [{"id": impact_id, "impact": level} for impact_id, level in levels]
        self.client.request("PATCH", f"{PLUGIN}/impact/", body=body)

    def circuit_type_id(self) -> int:
        return self.client.object_type_id("circuits", "circuit")

    def impacts_data(self, maintenance_id: int) -> list[dict[str, Any]]:
        """A maintenance's impacts as NetBox answers with them: a circuit target comes nested (its `cid`)."""
        params: Params = {"event_content_type": "notices.maintenance", "event_object_id": maintenance_id}
        return list(self.client.iterate(f"{PLUGIN}/impact/", params))

    def delete_impacts(self, impact_ids: Sequence[int]) -> None:
        """Impacts gone, in one bulk DELETE. NetBox (4.7) refuses the whole batch when one id is missing; a
        missing impact is gone already (a repeated DELETE whose first answer was lost finds none), so the
        batch is sent once more without the ids NetBox named."""
        wanted = sorted(set(impact_ids))
        for _ in range(2):
            if not wanted:
                return
            try:
                self.client.request("DELETE", f"{PLUGIN}/impact/", body=[{"id": number} for number in wanted])
            except NetBoxValidationError as error:
                missing = set(error.refused_ids)
                if not missing or not missing <= set(wanted):
                    raise
                wanted = [number for number in wanted if number not in missing]
            else:
                return

    def event_notifications_on(
        self, maintenance_ids: Sequence[int], received: datetime
    ) -> list[dict[str, Any]]:
        """The mails stored on these maintenances that SES (or the mail's Date) says arrived at `received`."""
        params: Params = {
            "event_content_type": "notices.maintenance",
            "event_object_id": sorted(set(maintenance_ids)),
            "email_received": received.isoformat(),
        }
        return list(self.client.iterate(f"{PLUGIN}/eventnotification/", params))

    # prepared notifications as outbound sends them
    def ready_notifications(self) -> Iterator[PreparedNotification]:
        """Every `ready` notification, page by page, each with the ETag of the version listed."""
        params: Params = {"status": [str(NotificationStatus.READY)], "ordering": "id"}
        for item in self.client.iterate(f"{PLUGIN}/prepared-notifications/", params):
            yield PreparedNotification.from_api(item, etag_of(item))

    def honours_etags(self) -> bool:
        """Whether this NetBox sends ETags and honours If-Match (4.6+, unless a proxy strips them)."""
        return self.client.honours_etags()

    # prepared notifications as tracking reads them
    def prepared_notification_answer(self, notification_id: int) -> Response:
        """A notification's detail read as NetBox answered it: the data, the ETag, and the headers (whose
        `Date` tells NetBox's clock)."""
        return self.client.request("GET", f"{PLUGIN}/prepared-notifications/{notification_id}/")

    # what the overlap warnings read and write: a window query, then lookups by id, one request each
    def maintenances_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The maintenances whose window overlaps [start, end), without the windows retired by a reschedule.
        The plugin's `status` filters take a single value (the last one given), so cancelled and completed
        windows come back too: the caller drops them."""
        params: Params = {
            "start__lt": end.isoformat(),
            "end__gt": start.isoformat(),
            "status__n": str(MaintenanceStatus.RE_SCHEDULED),
            "ordering": "start",
        }
        return list(self.client.iterate(f"{PLUGIN}/maintenance/", params, page_size=LOOKUP_PAGE))

    def impacts_with_targets(self, maintenance_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The impacts of these maintenances, each with its target as the plugin nests it (a circuit with its
        terminations, or `{id, name, type}` for a device or a site)."""
        params: Params = {
            "event_content_type": "notices.maintenance",
            "event_object_id": sorted(set(maintenance_ids)),
            "fields": "id,event_object_id,target_object_id,target",
        }
        return list(self.client.iterate(f"{PLUGIN}/impact/", params, page_size=LOOKUP_PAGE))

    def circuits_with_terminations(self, circuit_ids: Sequence[int]) -> list[dict[str, Any]]:
        params: Params = {"id": sorted(set(circuit_ids)), "fields": "id,termination_a,termination_z"}
        return list(self.client.iterate(CIRCUITS, params, page_size=LOOKUP_PAGE))

    def sites_of(self, model: str, object_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """{object id: its site, brief} for dcim objects that have one (`devices`, `locations`)."""
        params: Params = {"id": sorted(set(object_ids)), "fields": "id,site"}
        found = self.client.iterate(f"/api/dcim/{model}/", params, page_size=LOOKUP_PAGE)
        return {int(item["id"]): item["site"] for item in found if item.get("site")}

    def journal_entries_on(
        self, object_ids: Sequence[int], object_type: str, *, kind: str
    ) -> list[JournalEntry]:
        """The journal entries of one kind on several objects, in one request."""
        params: Params = {
            "assigned_object_type": object_type,
            "assigned_object_id": sorted(set(object_ids)),
            "kind": kind,
            "fields": "id,assigned_object_type,assigned_object_id,kind,comments",
        }
        found = self.client.iterate(JOURNAL, params, page_size=LOOKUP_PAGE)
        return [JournalEntry.from_api(item) for item in found]

    def add_journal_entries(
        self, entries: Sequence[tuple[int, str]], *, kind: str, object_type: str
    ) -> list[JournalEntry]:
        """`(object id, text)` entries in one bulk POST (NetBox creates all or none)."""
        if not entries:
            return []
        body = [
            {
                "assigned_object_type": object_type,
                "assigned_object_id": object_id,
                "kind": kind,
                "comments": text,
            }
            for object_id, text in entries
        ]
        return [JournalEntry.from_api(item) for item in self.client.post(JOURNAL, body)]

    # tags, and the journal entries they mark (the inbound flow's triage)
    def ensure_tag(self, slug: str, *, color: str, description: str) -> None:
        """A tag for journal entries with this slug (and name), created when NetBox has none. A create that
        another process won meanwhile is fine: the slug is unique, so NetBox refuses the second."""
        if self.client.get(TAGS, {"slug": slug, "brief": True})["results"]:
            return
        body = {
            "name": slug,
            "slug": slug,
            "color": color,
            "description": description,
            "object_types": ["extras.journalentry"],
        }
        try:
            self.client.post(TAGS, body)
        except NetBoxValidationError:
            if not self.client.get(TAGS, {"slug": slug, "brief": True})["results"]:
                raise

    def ensure_provider(self, slug: str, *, name: str, description: str) -> int:
        """The id of the circuit provider with this slug, created when NetBox has none."""
        found = self.client.get(PROVIDERS, {"slug": slug, "brief": True})["results"]
        if found:
            return int(found[0]["id"])
        try:
            created = self.client.post(PROVIDERS, {"name": name, "slug": slug, "description": description})
        except NetBoxValidationError:
            found = self.client.get(PROVIDERS, {"slug": slug, "brief": True})["results"]
            if not found:
                raise
            return int(found[0]["id"])
        return int(created["id"])

    def find_journal_entries(
        self,
        *,
        tag: str | None = None,
        object_type: str | None = None,
        object_id: int | None = None,
        search: str = "",
        created_after: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Journal entries as NetBox answers them (with their tags), newest first: with this tag, on this
        object, whose comments contain `search` (case-insensitive), recorded at or after `created_after`.
        NetBox refuses a tag it does not have (400, naming `tag`)."""
        params: dict[str, Any] = {}
        if tag is not None:
            params["tag"] = tag
        if object_type is not None and object_id is not None:
            params |= {"assigned_object_type": object_type, "assigned_object_id": object_id}
        if search:
            params["q"] = search
        if created_after is not None:
            params["created_after"] = created_after.isoformat()  # NetBox ignores `created__gte` here
        return list(self.client.iterate(JOURNAL, params))

    def add_tagged_journal_entry(
        self, object_type: str, object_id: int, comments: str, *, kind: str, tags: Sequence[str]
    ) -> dict[str, Any]:
        body = {
            "assigned_object_type": object_type,
            "assigned_object_id": object_id,
            "kind": kind,
            "comments": comments,
            "tags": [{"slug": slug} for slug in tags],
        }
        answer: dict[str, Any] = self.client.post(JOURNAL, body)
        return answer

    def update_journal_entry(
        self, entry_id: int, changes: Mapping[str, Any], *, tags: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """`changes` as NetBox takes them (kind, comments, assigned object); `tags` replaces the entry's
        tags with these slugs."""
        body = dict(changes) | ({"tags": [{"slug": slug} for slug in tags]} if tags is not None else {})
        answer: dict[str, Any] = self.client.patch(f"{JOURNAL}{entry_id}/", body).data
        return answer
