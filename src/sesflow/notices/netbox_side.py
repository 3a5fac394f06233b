"""NetBox for inbound: read what the plan needs (providers, circuits, the newest maintenance per name) and
apply a plan so that a retry after any failure finishes the job without duplicates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sesflow.faults import checkpoint
from sesflow.netbox.circuits import find_circuit_ids, find_provider_id
from sesflow.netbox.client import NetBoxClient, Params
from sesflow.netbox.notices import PLUGIN, SUBJECT_LIMIT, ImpactTarget, NoticesApi
from sesflow.netbox.records import ImpactLevel, Maintenance, MaintenanceDraft, MaintenanceStatus
from sesflow.notices.plan import CLOSED, Action, Existing, LateLinks, MaintenancePlan

MAINTENANCE_TYPE = "notices.maintenance"


@dataclass(frozen=True)
class StoredMail:
    """The provider's mail as the plugin's event notification keeps it."""

    subject: str
    sender: str
    received: datetime
    body: str


@dataclass
class Applied:
    maintenance_id: int | None
    created: bool = False
    changed: list[str] = field(default_factory=list)  # what this run wrote, for the report


class NetBoxState:
    """Lookups, with provider ids cached for the container's life (providers rarely change)."""

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

    def maintenances(self, names: list[str], provider_id: int) -> dict[str, list[Existing]]:
        """{name: every maintenance with that name from this provider, oldest first} for all the mail's names
        in one request (reschedules add one each; a name NetBox does not have maps to [])."""
        # Not NoticesApi.find_maintenance: the plan needs `comments`, where the applied notice is recorded.
        wanted = sorted(set(names))
        params: Params = {"name": wanted, "provider_id": provider_id}
        found: dict[str, list[Existing]] = {name: [] for name in wanted}
        items = sorted(
            self.client.iterate(f"{PLUGIN}/maintenance/", params), key=lambda item: int(item["id"])
        )
        for item in items:
            if item["name"] in found:  # the filter is exact; this guards against an ignored parameter
                found[item["name"]].append(Existing.from_api(item))
        return found

    def holding_mail(self, mail: StoredMail, maintenance_ids: list[int]) -> set[int]:
        """Those of `maintenance_ids` that already hold this mail as an event notification."""
        if not maintenance_ids:
            return set()  # a mail can only be stored on a maintenance that exists: no request
        params: Params = {
            "event_content_type": MAINTENANCE_TYPE,
            "event_object_id": sorted(set(maintenance_ids)),
            "email_received": mail.received.isoformat(),
        }
        subject = mail.subject[:SUBJECT_LIMIT]
        return {
            int(item["event_object_id"])
            for item in self.client.iterate(f"{PLUGIN}/eventnotification/", params)
            if _same_mail(item, subject, mail)
        }


def apply_plan(state: NetBoxState, plan: MaintenancePlan, mail: StoredMail) -> Applied:
    """Maintenance → impacts → unknown circuits → final status (and marker) → the mail. Impacts come before
    the status because the plugin refuses impact writes on a cancelled or completed event; the mail is
    stored last, so a run that fails part-way is planned again and finished by the retry.

    Nothing is read back that this run or the plan already knows: a maintenance just created has no impacts,
    journal entries or mails yet, and the plan has checked that this mail is on none of the name's."""
    if plan.action is Action.NO_PROVIDER:
        return Applied(None)
    if plan.action is Action.ALREADY_APPLIED:
        return Applied(plan.existing_id)
    if plan.action is Action.STALE:
        assert plan.existing_id is not None
        applied = Applied(plan.existing_id)
        _store_mail(state, applied, mail)
        return applied
    applied, current = _ensure_maintenance(state, plan)
    checkpoint("inbound", "write_maintenance")
    assert applied.maintenance_id is not None
    if current.status not in CLOSED:
        _write_impacts(state, applied, plan)
        checkpoint("inbound", "write_impacts")
    _record_unknown_circuits(state, applied, plan)
    final: dict[str, Any] = {}
    if current.status != plan.status:
        final["status"] = plan.status
    if current.comments != plan.comments:
        final["comments"] = plan.comments
    if final:
        state.api.update_maintenance(applied.maintenance_id, final)
        applied.changed.append("status" if "status" in final else "marker")
    checkpoint("inbound", "final_status")
    _store_mail(state, applied, mail)  # last: a stored mail means the plan is fully applied
    checkpoint("inbound", "store_mail")
    return applied


@dataclass(frozen=True)
class _Current:
    """What NetBox holds for the maintenance after `_ensure_maintenance`, from the answer to its own write or
    from the plan's read: no extra GET."""

    status: str
    comments: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> _Current:
        return cls(str(data["status"]), str(data.get("comments") or ""))


def _ensure_maintenance(state: NetBoxState, plan: MaintenancePlan) -> tuple[Applied, _Current]:
    assert plan.provider_id is not None
    if plan.action in {Action.UPDATE, Action.UNCHANGED}:
        assert plan.existing_id is not None and plan.existing is not None
        applied = Applied(plan.existing_id)
        if plan.action is Action.UNCHANGED:
            return applied, _Current(plan.existing.status, plan.existing.comments)
        changes = {"start": plan.start.isoformat(), "end": plan.end.isoformat(), "summary": plan.summary}
        answer = state.client.patch(f"{PLUGIN}/maintenance/{plan.existing_id}/", changes)
        applied.changed.append("window")
        if plan.late_links is not None:  # finishing a window filed late by a run that died
            _link_late_window(state, plan.late_links, plan.existing_id)
        return applied, _Current.from_api(answer.data)
    # A retry after a create that succeeded finds the new maintenance through the lookup and plans UPDATE,
    # so CREATE/RESCHEDULE here always mean "not there yet".
    closing = plan.status in CLOSED
    draft = MaintenanceDraft(
        name=plan.name,
        summary=plan.summary,
        provider_id=plan.provider_id,
        start=plan.start,
        end=plan.end,
        # Created open, closed at the end: impacts cannot be written to a closed event.
        status=MaintenanceStatus.TENTATIVE if closing else MaintenanceStatus(plan.status),
        # For HISTORY the status is RE-SCHEDULED already: created as the retired window.
        original_timezone="UTC",
        replaces=_replaces_on_create(plan),
    )
    # The marker goes in with the create: a retry must find this maintenance as the current one, or it
    # would reschedule a second time.
    answer = state.client.post(f"{PLUGIN}/maintenance/", draft.to_api() | {"comments": plan.comments})
    created = Maintenance.from_api(answer)
    if plan.late_links is not None:
        _link_late_window(state, plan.late_links, created.id)
    return Applied(created.id, created=True, changed=[str(plan.action)]), _Current.from_api(answer)


def _replaces_on_create(plan: MaintenancePlan) -> int | None:
    if plan.action is Action.RESCHEDULE:
        return plan.existing_id
    if plan.action is Action.HISTORY and plan.late_links is not None:
        # Its predecessor is retired already (by the successor), so the plugin changes no status here.
        return plan.late_links.replaces
    return None


def _link_late_window(state: NetBoxState, links: LateLinks, late_id: int) -> None:
    """Point the successor at the window filed late (or at nothing, after a closed one), unless someone
    changed its `replaces` since the plan read it. Setting `replaces` after creation changes no status in
    the plugin; the late window was created with the status it ends with."""
    wanted = late_id if links.successor_replaces_late else None
    current = state.client.get(f"{PLUGIN}/maintenance/{links.successor_id}/").get("replaces")
    if current != wanted and current == links.successor_replaced:
        state.api.update_maintenance(links.successor_id, {"replaces": wanted})


def _write_impacts(state: NetBoxState, applied: Applied, plan: MaintenancePlan) -> None:
    assert applied.maintenance_id is not None
    # A maintenance created by this run has no impacts: no need to list them.
    listed = [] if applied.created else state.api.list_impacts(applied.maintenance_id)
    have = {impact.target_object_id: impact for impact in listed}
    circuit_type = state.client.object_type_id("circuits", "circuit")
    missing = [
        ImpactTarget(p.circuit_id, ImpactLevel(p.impact))
        for p in plan.impacts
        if p.circuit_id not in have or have[p.circuit_id].target_content_type != circuit_type
    ]
    changed = [
        {"id": have[p.circuit_id].id, "impact": p.impact}
        for p in plan.impacts
        if p.circuit_id in have and have[p.circuit_id].impact != p.impact
    ]
    if missing:
        state.api.create_impacts(applied.maintenance_id, missing)  # one bulk POST for all of them
        applied.changed.append(f"impacts+{len(missing)}")
    if changed:
        # NetBox's list endpoints take a bulk PATCH: one request for every changed level.
        state.client.request("PATCH", f"{PLUGIN}/impact/", body=changed)
        applied.changed.append(f"impacts~{len(changed)}")


def _record_unknown_circuits(state: NetBoxState, applied: Applied, plan: MaintenancePlan) -> None:
    if not plan.unknown_circuits or applied.maintenance_id is None:
        return
    text = "Circuits in the provider's notice that NetBox does not know: " + ", ".join(plan.unknown_circuits)
    if not applied.created:
        entries = state.api.journal_entries(applied.maintenance_id, MAINTENANCE_TYPE)
        if any(entry.comments == text for entry in entries):
            return
    state.api.add_journal_entry(applied.maintenance_id, text, kind="warning", object_type=MAINTENANCE_TYPE)
    applied.changed.append("journal")


def _store_mail(state: NetBoxState, applied: Applied, mail: StoredMail) -> None:
    """No read first: the plan found this mail on none of the name's maintenances (else ALREADY_APPLIED)."""
    assert applied.maintenance_id is not None
    state.api.create_event_notification(
        applied.maintenance_id,
        subject=mail.subject[:SUBJECT_LIMIT],
        email_from=mail.sender,
        email_received=mail.received,
        email_body=mail.body,
    )
    applied.changed.append("notification")


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
