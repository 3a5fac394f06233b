"""Each plugin operation the flows use, round-tripped through the real netbox-notices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sesflow.local.netbox.seed import Seeded
from sesflow.netbox.circuits import find_circuit_ids, find_provider_id
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxConflict, NetBoxValidationError
from sesflow.netbox.notices import ImpactTarget, NoticesApi
from sesflow.netbox.records import ImpactLevel, MaintenanceDraft, MaintenanceStatus, NotificationStatus

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

START = datetime(2031, 3, 1, 22, 0, tzinfo=UTC)


def _draft(seeded: Seeded, name: str = "ZAYO-MAINT-1", provider: str = "zayo") -> MaintenanceDraft:
    return MaintenanceDraft(
        name=name,
        summary="Fiber splice",
        provider_id=seeded.providers[provider],
        start=START,
        end=START + timedelta(hours=4),
        original_timezone="Europe/Berlin",
    )


def test_maintenance_is_created_found_by_name_and_provider_and_updated(
    notices: NoticesApi, seeded: Seeded
) -> None:
    created = notices.create_maintenance(_draft(seeded))
    notices.create_maintenance(_draft(seeded, provider="lumen"))  # same event id, other provider
    found = notices.find_maintenance("ZAYO-MAINT-1", seeded.providers["zayo"])
    assert found == created
    assert notices.find_maintenance("ZAYO-MAINT-404", seeded.providers["zayo"]) is None
    updated = notices.update_maintenance(created.id, {"status": str(MaintenanceStatus.IN_PROCESS)})
    assert updated.status == "IN-PROCESS"
    assert updated.start == START


def test_circuits_are_found_by_provider_and_exact_cid(nb_client: NetBoxClient, seeded: Seeded) -> None:
    zayo = find_provider_id(nb_client, "zayo")
    assert zayo == seeded.providers["zayo"]
    assert find_provider_id(nb_client, "nobody") is None
    found = find_circuit_ids(nb_client, zayo, ["ZAYO-0001", "ZAYO-0002", "LUMEN-0001", "ZAYO-000"])
    assert found == {cid: seeded.circuits[("zayo", cid)] for cid in ("ZAYO-0001", "ZAYO-0002")}


def test_impacts_are_written_in_one_request_and_listed_per_maintenance(
    notices: NoticesApi, seeded: Seeded
) -> None:
    first = notices.create_maintenance(_draft(seeded))
    other = notices.create_maintenance(_draft(seeded, name="ZAYO-MAINT-2"))
    targets = [
        ImpactTarget(seeded.circuits[("zayo", "ZAYO-0001")], ImpactLevel.OUTAGE),
        ImpactTarget(seeded.circuits[("zayo", "ZAYO-0002")], ImpactLevel.DEGRADED),
    ]
    created = notices.create_impacts(first.id, targets)
    notices.create_impacts(other.id, targets[:1])
    listed = notices.list_impacts(first.id)
    assert sorted(listed, key=lambda impact: impact.id) == created
    assert {(impact.target_object_id, impact.impact) for impact in listed} == {
        (targets[0].object_id, "OUTAGE"),
        (targets[1].object_id, "DEGRADED"),
    }
    assert notices.get_maintenance(first.id).impact_count == 2


def test_impact_on_a_missing_circuit_is_refused_with_netbox_message(
    notices: NoticesApi, seeded: Seeded
) -> None:
    maintenance = notices.create_maintenance(_draft(seeded))
    with pytest.raises(NetBoxValidationError) as refused:
        notices.create_impacts(maintenance.id, [ImpactTarget(999999, ImpactLevel.OUTAGE)])
    # NetBox 4.7 wraps bulk errors: {"detail": "1 of 1 objects…", "errors": [{"errors": {field: […]}}]}
    assert refused.value.messages["errors[0].errors.target_object_id"] == (
        "Related object not found using the provided value: 999999.",
    )


def test_event_notification_subject_is_cut_to_100_characters(notices: NoticesApi, seeded: Seeded) -> None:
    maintenance = notices.create_maintenance(_draft(seeded))
    received = datetime(2031, 2, 1, 9, 30, tzinfo=UTC)
    stored = notices.create_event_notification(
        maintenance.id,
        subject="[Maintenance] " + "x" * 150,
        email_from="noc@zayo.example",
        email_received=received,
        email_body="Planned work on your circuits.",
    )
    assert stored.subject == ("[Maintenance] " + "x" * 150)[:100]
    assert stored.event_object_id == maintenance.id
    assert stored.email_received == received


def _draft_notification(notices: NoticesApi, seeded: Seeded, contacts: bool = True) -> int:
    maintenance = notices.create_maintenance(_draft(seeded))
    assert seeded.template is not None
    created = notices.create_prepared_notification(
        template_id=seeded.template,
        subject="Planned maintenance",
        body_text="Work on ZAYO-0001",
        contact_ids=list(seeded.contacts.values()) if contacts else [],
        maintenance_id=maintenance.id,
    )
    assert created.status == "draft"
    return created.id


def test_prepared_notification_goes_draft_ready_sent_delivered(notices: NoticesApi, seeded: Seeded) -> None:
    notification_id = _draft_notification(notices, seeded)
    ready = notices.transition(notification_id, NotificationStatus.READY, message="approved by test")
    assert {recipient.email for recipient in ready.recipients} == set(seeded.contacts)
    assert ready.approved_at is not None
    assert [n.id for n in notices.prepared_notifications(NotificationStatus.READY)] == [notification_id]
    sent_at = datetime.now(UTC)
    sent = notices.transition(notification_id, NotificationStatus.SENT, message="SES id 1", timestamp=sent_at)
    assert sent.sent_at == sent_at
    delivered = notices.transition(notification_id, NotificationStatus.DELIVERED, message="Delivery")
    assert delivered.status == "delivered"
    assert delivered.delivered_at is not None
    assert list(notices.prepared_notifications(NotificationStatus.READY)) == []
    journal = notices.journal_entries(notification_id)
    assert len(journal) == 3
    assert any("approved by test" in entry.comments for entry in journal)


def test_refused_transition_raises_with_the_plugin_reason(notices: NoticesApi, seeded: Seeded) -> None:
    notification_id = _draft_notification(notices, seeded)
    with pytest.raises(NetBoxValidationError) as refused:
        notices.transition(notification_id, NotificationStatus.SENT)
    assert refused.value.messages == {"status": ("Cannot transition from 'draft' to 'sent'. Valid: ready",)}


def test_ready_without_recipients_raises_with_the_plugin_reason(notices: NoticesApi, seeded: Seeded) -> None:
    notification_id = _draft_notification(notices, seeded, contacts=False)
    with pytest.raises(NetBoxValidationError) as refused:
        notices.transition(notification_id, NotificationStatus.READY)
    assert refused.value.messages == {
        "timestamp": ("Cannot approve notification with no recipients. Add contacts first.",)
    }


def test_transition_with_a_stale_etag_is_refused(notices: NoticesApi, seeded: Seeded) -> None:
    notification_id = _draft_notification(notices, seeded)
    read = notices.get_prepared_notification(notification_id)
    assert read.etag
    notices.transition(notification_id, NotificationStatus.READY, if_match=read.etag)
    with pytest.raises(NetBoxConflict) as refused:
        notices.transition(notification_id, NotificationStatus.SENT, if_match=read.etag)
    assert refused.value.status == 412


def test_journal_entries_are_added_and_listed_per_notification(notices: NoticesApi, seeded: Seeded) -> None:
    first = _draft_notification(notices, seeded)
    second = _draft_notification(notices, seeded)
    added = notices.add_journal_entry(first, "[SES Open] opened")
    notices.add_journal_entry(second, "[SES Click] clicked", kind="success")
    assert notices.journal_entries(first) == [added]
    assert added.kind == "info"


def test_listing_follows_pages_over_250_objects(nb_client: NetBoxClient) -> None:
    nb_client.post("/api/tenancy/contacts/", [{"name": f"Contact {n:03}"} for n in range(260)])
    names = [item["name"] for item in nb_client.iterate("/api/tenancy/contacts/", brief=True, page_size=100)]
    assert sorted(names) == [f"Contact {n:03}" for n in range(260)]


def test_object_type_ids_are_looked_up_once_per_client(nb_client: NetBoxClient) -> None:
    maintenance = nb_client.object_type_id("notices", "maintenance")
    circuit = nb_client.object_type_id("circuits", "circuit")
    assert maintenance != circuit
    assert nb_client.object_type_id("notices", "maintenance") == maintenance
    assert nb_client._object_types == {
        ("notices", "maintenance"): maintenance,
        ("circuits", "circuit"): circuit,
    }
