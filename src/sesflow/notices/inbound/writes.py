"""The steps that bring NetBox to the plans: maintenance → impacts (those the notice no longer lists
removed) → journal entries and final status (with the marker) → the mail. Impacts come before the status
because the plugin refuses impact writes on a cancelled or completed event; the mail is stored last, so a
run that fails part-way is planned again and finished by the retry.

A journal entry is written before the change it records and only when the maintenance does not hold it
yet: a run that dies between the two is finished by its retry, which finds the entry and adds no second.

Nothing is read back that this run or the plan already knows: a maintenance just created has no impacts,
journal entries or mails yet, and the plan has checked that this mail is on none of the name's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sesflow.netbox.notices import ImpactTarget
from sesflow.netbox.records import ImpactLevel, MaintenanceDraft, MaintenanceStatus
from sesflow.notices.inbound.in_netbox import HeldImpact, InboundNetBox, MaintenanceNow, StoredMail
from sesflow.notices.inbound.outcome import Applied
from sesflow.notices.inbound.plan import CLOSED, Action, LateLinks, MaintenancePlan

if TYPE_CHECKING:
    from sesflow.notices.inbound.context import InboundDeps, InboundMail
    from sesflow.notices.inbound.outcome import Outcome


@dataclass
class PlanWrite:
    """One plan on its way into NetBox: what was written for it, and its maintenance as NetBox answered
    (None when the plan writes no maintenance: no provider, already applied, or a stale notice)."""

    plan: MaintenancePlan
    applied: Applied
    now: MaintenanceNow | None = None
    journal: list[str] | None = field(default=None, repr=False)  # its journal texts, once read

    @property
    def stores_mail(self) -> bool:
        return self.now is not None or self.plan.action is Action.STALE

    def note_once(self, netbox: InboundNetBox, text: str, *, warning: bool = False) -> None:
        """A journal entry on the maintenance, unless it holds this text already (read once per run, and
        not at all for a maintenance this run created)."""
        maintenance_id = self.applied.maintenance_id
        assert maintenance_id is not None
        if self.journal is None:
            self.journal = [] if self.applied.created else netbox.journal_texts(maintenance_id)
        if text in self.journal:
            return
        if warning:
            netbox.add_warning(maintenance_id, text)
        else:
            netbox.add_note(maintenance_id, text)
        self.journal.append(text)
        self.applied.changed.append("journal")


def write_maintenance(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """Each plan's maintenance created, rescheduled or brought to the notice's window (its final status
    waits for `final_status`)."""
    mail.writes = [_ensure_maintenance(deps.netbox, plan) for plan in mail.plans]
    return None


def write_impacts(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The circuits' impacts on each maintenance still open; on a newer notice, the circuit impacts of the
    circuits it no longer lists removed."""
    for write in mail.writes:
        if write.now is not None and write.now.status not in CLOSED:
            _write_impacts(deps.netbox, write)
    return None


def final_status(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The circuits NetBox does not know and the plan's notes, journaled; then each maintenance's final
    status and marker (and the operator's acknowledgement cleared when the status changes)."""
    for write in mail.writes:
        if write.now is not None:
            _record_unknown_circuits(deps.netbox, write)
            for note in write.plan.notes:
                write.note_once(deps.netbox, note)
            _set_final_status(deps.netbox, write)
    return None


def store_mail(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The mail on each maintenance it changed or describes: last, as a stored mail means the plan is fully
    applied. Every step done: the mail is applied (or, in a dry run, planned)."""
    record = mail.required_record()
    for write in mail.writes:
        if write.stores_mail:
            _store_mail(deps.netbox, write.applied, record)
    return mail.finished(deps.netbox.done, tuple(write.applied for write in mail.writes))


def _ensure_maintenance(netbox: InboundNetBox, plan: MaintenancePlan) -> PlanWrite:
    if plan.action is Action.NO_PROVIDER:
        return PlanWrite(plan, Applied(None))
    if not plan.writes_maintenance:  # already applied, or stale: at most the mail is stored
        return PlanWrite(plan, Applied(plan.existing_id))
    assert plan.provider_id is not None
    if plan.action in {Action.UPDATE, Action.UNCHANGED}:
        return _update_window(netbox, plan)
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
    created = netbox.create_maintenance(draft, plan.comments)
    if plan.late_links is not None:
        _link_late_window(netbox, plan.late_links, created.id)
    return PlanWrite(plan, Applied(created.id, created=True, changed=[str(plan.action)]), created)


def _update_window(netbox: InboundNetBox, plan: MaintenancePlan) -> PlanWrite:
    assert plan.existing_id is not None and plan.existing is not None
    applied = Applied(plan.existing_id)
    if plan.action is Action.UNCHANGED:
        return PlanWrite(
            plan, applied, MaintenanceNow(plan.existing_id, plan.existing.status, plan.existing.comments)
        )
    changes = {"start": plan.start.isoformat(), "end": plan.end.isoformat(), "summary": plan.summary}
    now = netbox.update_maintenance(plan.existing_id, changes)
    applied.changed.append("window")
    if plan.late_links is not None:  # finishing a window filed late by a run that died
        _link_late_window(netbox, plan.late_links, plan.existing_id)
    return PlanWrite(plan, applied, now)


def _replaces_on_create(plan: MaintenancePlan) -> int | None:
    if plan.action is Action.RESCHEDULE:
        return plan.existing_id
    if plan.action is Action.HISTORY and plan.late_links is not None:
        # Its predecessor is retired already (by the successor), so the plugin changes no status here.
        return plan.late_links.replaces
    return None


def _link_late_window(netbox: InboundNetBox, links: LateLinks, late_id: int) -> None:
    """Point the successor at the window filed late (or at nothing, after a closed one), unless someone
    changed its `replaces` since the plan read it. Setting `replaces` after creation changes no status in
    the plugin; the late window was created with the status it ends with."""
    wanted = late_id if links.successor_replaces_late else None
    current = netbox.replaces_of(links.successor_id)
    if current != wanted and current == links.successor_replaced:
        netbox.update_maintenance(links.successor_id, {"replaces": wanted})


def _write_impacts(netbox: InboundNetBox, write: PlanWrite) -> None:
    applied, plan = write.applied, write.plan
    assert applied.maintenance_id is not None
    # A maintenance created by this run has no impacts: no need to list them.
    listed = [] if applied.created else netbox.impacts(applied.maintenance_id)
    circuit_type = netbox.circuit_type_id()
    # Circuit impacts only: a device or site impact may carry the same object id.
    have = {i.target_object_id: i for i in listed if i.target_content_type == circuit_type}
    missing = [
        ImpactTarget(p.circuit_id, ImpactLevel(p.impact)) for p in plan.impacts if p.circuit_id not in have
    ]
    changed = [
        (have[p.circuit_id].id, p.impact)
        for p in plan.impacts
        if p.circuit_id in have and have[p.circuit_id].impact != p.impact
    ]
    if missing:
        netbox.create_impacts(applied.maintenance_id, missing)  # one bulk POST for all of them
        applied.changed.append(f"impacts+{len(missing)}")
    if changed:
        netbox.update_impact_levels(changed)  # one bulk PATCH for every changed level
        applied.changed.append(f"impacts~{len(changed)}")
    if plan.prunes_impacts:
        _remove_unlisted(netbox, write, listed, circuit_type)


def _remove_unlisted(
    netbox: InboundNetBox, write: PlanWrite, listed: list[HeldImpact], circuit_type: int
) -> None:
    """The circuit impacts of circuits a newer notice no longer lists, in one bulk DELETE. Only circuits: the
    notice speaks for circuits alone, so an impact on a device or site (added by hand) stays."""
    kept = {impact.circuit_id for impact in write.plan.impacts}
    gone = [
        impact
        for impact in listed
        if impact.target_content_type == circuit_type and impact.target_object_id not in kept
    ]
    if not gone:
        return
    circuits = ", ".join(sorted(impact.cid or f"id {impact.target_object_id}" for impact in gone))
    parsed = write.plan.parsed
    write.note_once(
        netbox,
        f"Impacts removed: circuits {circuits} are not in the notice of {parsed.stamp.isoformat()} "
        f"(sequence {parsed.sequence})",
    )
    netbox.delete_impacts([impact.id for impact in gone])
    write.applied.changed.append(f"impacts-{len(gone)}")


def _record_unknown_circuits(netbox: InboundNetBox, write: PlanWrite) -> None:
    if not write.plan.unknown_circuits or write.applied.maintenance_id is None:
        return
    unknown = ", ".join(write.plan.unknown_circuits)
    write.note_once(
        netbox, f"Circuits in the provider's notice that NetBox does not know: {unknown}", warning=True
    )


def _set_final_status(netbox: InboundNetBox, write: PlanWrite) -> None:
    plan, now = write.plan, write.now
    assert now is not None and write.applied.maintenance_id is not None
    final: dict[str, Any] = {}
    if now.status != plan.status:
        final["status"] = plan.status
    if now.comments != plan.comments:
        final["comments"] = plan.comments
    if plan.clears_acknowledgement:
        final["acknowledged"] = False  # acknowledged for the status it had (the plan's note says so)
    if final:
        netbox.update_maintenance(write.applied.maintenance_id, final)
        write.applied.changed.append("status" if "status" in final else "marker")


def _store_mail(netbox: InboundNetBox, applied: Applied, mail: StoredMail) -> None:
    """No read first: the plan found this mail on none of the name's maintenances (else ALREADY_APPLIED)."""
    assert applied.maintenance_id is not None
    netbox.store_mail(applied.maintenance_id, mail)
    applied.changed.append("notification")
