"""The steps that bring NetBox to the plans: maintenance → impacts → unknown circuits and final status (with
the marker) → the mail. Impacts come before the status because the plugin refuses impact writes on a
cancelled or completed event; the mail is stored last, so a run that fails part-way is planned again and
finished by the retry.

Nothing is read back that this run or the plan already knows: a maintenance just created has no impacts,
journal entries or mails yet, and the plan has checked that this mail is on none of the name's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sesflow.netbox.notices import ImpactTarget
from sesflow.netbox.records import ImpactLevel, MaintenanceDraft, MaintenanceStatus
from sesflow.notices.inbound.in_netbox import InboundNetBox, MaintenanceNow, StoredMail
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

    @property
    def stores_mail(self) -> bool:
        return self.now is not None or self.plan.action is Action.STALE


def write_maintenance(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """Each plan's maintenance created, rescheduled or brought to the notice's window (its final status
    waits for `final_status`)."""
    mail.writes = [_ensure_maintenance(deps.netbox, plan) for plan in mail.plans]
    return None


def write_impacts(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The circuits' impacts on each maintenance still open."""
    for write in mail.writes:
        if write.now is not None and write.now.status not in CLOSED:
            _write_impacts(deps.netbox, write.applied, write.plan)
    return None


def final_status(mail: InboundMail, deps: InboundDeps) -> Outcome | None:
    """The circuits NetBox does not know, journaled; then each maintenance's final status and marker."""
    for write in mail.writes:
        if write.now is not None:
            _record_unknown_circuits(deps.netbox, write.applied, write.plan)
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


def _write_impacts(netbox: InboundNetBox, applied: Applied, plan: MaintenancePlan) -> None:
    assert applied.maintenance_id is not None
    # A maintenance created by this run has no impacts: no need to list them.
    listed = [] if applied.created else netbox.impacts(applied.maintenance_id)
    have = {impact.target_object_id: impact for impact in listed}
    circuit_type = netbox.circuit_type_id()
    missing = [
        ImpactTarget(p.circuit_id, ImpactLevel(p.impact))
        for p in plan.impacts
        if p.circuit_id not in have or have[p.circuit_id].target_content_type != circuit_type
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


def _record_unknown_circuits(netbox: InboundNetBox, applied: Applied, plan: MaintenancePlan) -> None:
    if not plan.unknown_circuits or applied.maintenance_id is None:
        return
    text = "Circuits in the provider's notice that NetBox does not know: " + ", ".join(plan.unknown_circuits)
    if not applied.created and text in netbox.journal_texts(applied.maintenance_id):
        return
    netbox.add_warning(applied.maintenance_id, text)
    applied.changed.append("journal")


def _set_final_status(netbox: InboundNetBox, write: PlanWrite) -> None:
    plan, now = write.plan, write.now
    assert now is not None and write.applied.maintenance_id is not None
    final: dict[str, Any] = {}
    if now.status != plan.status:
        final["status"] = plan.status
    if now.comments != plan.comments:
        final["comments"] = plan.comments
    if final:
        netbox.update_maintenance(write.applied.maintenance_id, final)
        write.applied.changed.append("status" if "status" in final else "marker")


def _store_mail(netbox: InboundNetBox, applied: Applied, mail: StoredMail) -> None:
    """No read first: the plan found this mail on none of the name's maintenances (else ALREADY_APPLIED)."""
    assert applied.maintenance_id is not None
    netbox.store_mail(applied.maintenance_id, mail)
    applied.changed.append("notification")
