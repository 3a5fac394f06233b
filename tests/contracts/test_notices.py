"""The netbox-notices port: what `NoticesApi` does against the real NetBox 4.7 + netbox-notices, and what
`FakeNotices` must do the same way. Pinned: the prepared notification's state machine (each allowed and each
refused transition, with the plugin's reason), timestamps, If-Match, bulk marking all or nothing, the journal,
and the maintenance, impact and stored-mail writes the inbound flow makes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import DEMO_SEED, Seeded, seed_netbox
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxConflict, NetBoxNotFound, NetBoxServerError, NetBoxValidationError
from sesflow.netbox.notices import PLUGIN, ImpactTarget, NoticesApi
from sesflow.netbox.records import (
    ImpactLevel,
    MaintenanceDraft,
    MaintenanceStatus,
    NotificationStatus,
    PreparedNotification,
    etag_of,
)

from ..fakes.notices import FakeNotices
from ..netbox.no_etag_proxy import NoETagProxy

DRAFT, READY, SENT, DELIVERED, FAILED = (
    NotificationStatus.DRAFT,
    NotificationStatus.READY,
    NotificationStatus.SENT,
    NotificationStatus.DELIVERED,
    NotificationStatus.FAILED,
)
#: The allowed moves from `draft`, the way each status is reached.
PATH_TO = {
    DRAFT: (),
    READY: (READY,),
    SENT: (READY, SENT),
    DELIVERED: (READY, SENT, DELIVERED),
    FAILED: (READY, SENT, FAILED),
}
ALLOWED = [(DRAFT, READY), (READY, SENT), (SENT, DELIVERED), (SENT, FAILED), (FAILED, READY)]
REFUSED = [(a, b) for a in PATH_TO for b in PATH_TO if a != b and (a, b) not in ALLOWED]
PREVIOUS = {READY: DRAFT, SENT: READY, DELIVERED: SENT, FAILED: SENT}
VALID = {DRAFT: "ready", READY: "sent", SENT: "delivered, failed", FAILED: "ready", DELIVERED: "none"}
JOURNAL_KIND = {READY: "info", SENT: "info", DELIVERED: "success", FAILED: "warning"}
START = datetime(2031, 3, 1, 22, 0, tzinfo=UTC)
MISSING = 999999

Notices = NoticesApi | FakeNotices


@dataclass(frozen=True)
class Plugin:
    api: Notices
    seeded: Seeded

    def draft(self, *, contacts: bool = True) -> int:
        assert self.seeded.template is not None
        created = self.api.create_prepared_notification(
            template_id=self.seeded.template,
            subject="Planned maintenance",
            body_text="Work on ZAYO-0001",
            contact_ids=list(self.seeded.contacts.values()) if contacts else [],
        )
        return created.id

    def at(self, status: NotificationStatus) -> int:
        """A new notification moved (without messages) to `status`."""
        notification_id = self.draft()
        for step in PATH_TO[status]:
            self.api.transition(notification_id, step)
        return notification_id

    def get(self, notification_id: int) -> PreparedNotification:
        return self.api.get_prepared_notification(notification_id)

    def status(self, notification_id: int) -> str:
        return self.get(notification_id).status

    def maintenance(self, name: str = "ZAYO-MAINT-1", **changes: Any) -> int:
        fields: dict[str, Any] = {"provider_id": self.seeded.providers["zayo"]} | changes
        draft = MaintenanceDraft(
            name=name, summary="Fiber splice", start=START, end=START + timedelta(hours=4), **fields
        )
        return self.api.create_maintenance(draft).id

    def circuit(self, cid: str) -> int:
        return self.seeded.circuits[("zayo", cid)]


@pytest.fixture(
    params=[
        pytest.param("real", marks=[pytest.mark.netbox, pytest.mark.integration]),
        pytest.param("fake", marks=pytest.mark.unit),
    ]
)
def plugin(request: pytest.FixtureRequest) -> Plugin:
    if request.param == "real":
        client = request.getfixturevalue("nb_client")
        return Plugin(NoticesApi(client), seed_netbox(client, DEMO_SEED))
    fake = FakeNotices()
    return Plugin(fake, fake.seed(DEMO_SEED))


def refusal(raised: pytest.ExceptionInfo[NetBoxValidationError]) -> dict[str, tuple[str, ...]]:
    return raised.value.messages


# prepared notifications: creation and the state machine


def test_a_new_notification_is_a_draft_without_recipients_or_etag(plugin: Plugin) -> None:
    assert plugin.seeded.template is not None
    created = plugin.api.create_prepared_notification(
        template_id=plugin.seeded.template, subject="s", body_text="b", contact_ids=[]
    )
    assert (created.status, created.recipients, created.approved_at, created.etag) == (
        "draft",
        (),
        None,
        None,
    )


def test_a_notification_needs_a_body_and_a_known_template(plugin: Plugin) -> None:
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.create_prepared_notification(template_id=MISSING, subject="s", body_text="b")
    assert refusal(refused) == {"template_id": (f'Invalid pk "{MISSING}" - object does not exist.',)}
    assert plugin.seeded.template is not None
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.create_prepared_notification(template_id=plugin.seeded.template, subject="s", body_text="")
    assert refusal(refused) == {"body_text": ("This field may not be blank.",)}


@pytest.mark.parametrize(("before", "after"), ALLOWED, ids=[f"{a}-{b}" for a, b in ALLOWED])
def test_each_allowed_transition_moves_and_journals_its_message(
    plugin: Plugin, before: NotificationStatus, after: NotificationStatus
) -> None:
    notification_id = plugin.at(before)
    moved = plugin.api.transition(notification_id, after, message="why")
    assert moved.status == after == plugin.status(notification_id)
    newest = plugin.api.journal_entries(notification_id)[0]
    assert (newest.kind, newest.comments) == (JOURNAL_KIND[after], f"Status: {before} → {after}\n\nwhy")


@pytest.mark.parametrize(("before", "after"), REFUSED, ids=[f"{a}-{b}" for a, b in REFUSED])
def test_each_refused_transition_is_refused_with_the_plugin_reason(
    plugin: Plugin, before: NotificationStatus, after: NotificationStatus
) -> None:
    notification_id = plugin.at(before)
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.transition(notification_id, after, message="why")
    assert refusal(refused) == {
        "status": (f"Cannot transition from '{before}' to '{after}'. Valid: {VALID[before]}",)
    }
    assert plugin.status(notification_id) == before
    assert plugin.api.journal_entries(notification_id) == []


def test_approval_snapshots_the_contacts_and_stamps_server_time(plugin: Plugin) -> None:
    notification_id = plugin.draft()
    before = datetime.now(UTC) - timedelta(seconds=5)
    ready = plugin.api.transition(notification_id, READY, timestamp=datetime(2020, 1, 1, tzinfo=UTC))
    assert {recipient.email for recipient in ready.recipients} == set(plugin.seeded.contacts)
    assert {recipient.contact_id for recipient in ready.recipients} == set(plugin.seeded.contacts.values())
    assert ready.approved_at is not None and ready.approved_at > before  # not the timestamp given


def test_approving_without_recipients_is_refused_under_timestamp(plugin: Plugin) -> None:
    notification_id = plugin.draft(contacts=False)
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.transition(notification_id, READY)
    assert refusal(refused) == {
        "timestamp": ("Cannot approve notification with no recipients. Add contacts first.",)
    }
    assert plugin.status(notification_id) == "draft"


@pytest.mark.parametrize("status", [READY, SENT, DELIVERED, FAILED])
def test_a_timestamp_in_the_future_is_refused(plugin: Plugin, status: NotificationStatus) -> None:
    notification_id = plugin.at(PREVIOUS[status])
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.transition(notification_id, status, timestamp=datetime.now(UTC) + timedelta(hours=1))
    assert refusal(refused) == {"timestamp": ("timestamp cannot be in the future",)}


def test_sent_at_is_the_timestamp_given_and_never_before_the_approval(plugin: Plugin) -> None:
    notification_id = plugin.at(READY)
    approved_at = plugin.get(notification_id).approved_at
    assert approved_at is not None
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.transition(notification_id, SENT, timestamp=approved_at - timedelta(seconds=1))
    assert refusal(refused) == {"timestamp": ("sent_at cannot be before approved_at",)}
    sent = plugin.api.transition(notification_id, SENT, timestamp=approved_at)
    assert sent.sent_at == approved_at


def test_delivered_is_never_before_sent_and_failed_keeps_no_time(plugin: Plugin) -> None:
    notification_id = plugin.at(SENT)
    sent_at = plugin.get(notification_id).sent_at
    assert sent_at is not None
    early = sent_at - timedelta(milliseconds=1)
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.transition(notification_id, DELIVERED, timestamp=early)
    assert refusal(refused) == {"timestamp": ("delivered_at cannot be before sent_at",)}
    failed = plugin.api.transition(notification_id, FAILED, timestamp=early)
    assert (failed.status, failed.delivered_at) == ("failed", None)


def test_delivered_at_is_the_timestamp_given(plugin: Plugin) -> None:
    notification_id = plugin.at(SENT)
    sent_at = plugin.get(notification_id).sent_at
    assert sent_at is not None
    delivered = plugin.api.transition(notification_id, DELIVERED, timestamp=sent_at)
    assert delivered.delivered_at == sent_at


@pytest.mark.parametrize("status", [DRAFT, READY, SENT, DELIVERED, FAILED])
def test_the_same_status_again_is_a_saved_no_op_that_drops_the_message(
    plugin: Plugin, status: NotificationStatus
) -> None:
    notification_id = plugin.at(status)
    before = plugin.get(notification_id)
    again = plugin.api.transition(
        notification_id, status, message="again", timestamp=datetime.now(UTC) + timedelta(hours=1)
    )
    assert again == before  # the same fields (the ETag is not compared)
    assert again.etag != before.etag  # but saved: only If-Match tells a lost race from a repeat
    assert plugin.api.journal_entries(notification_id) == []


def test_failed_to_ready_approves_again_and_keeps_the_old_sent_at(plugin: Plugin) -> None:
    notification_id = plugin.at(FAILED)
    failed = plugin.get(notification_id)
    assert failed.approved_at is not None and failed.sent_at is not None
    again = plugin.api.transition(notification_id, READY)
    assert again.approved_at is not None and again.approved_at > failed.approved_at
    assert again.sent_at == failed.sent_at
    # The timestamp given is checked against the new approval, though `sent_at` stays the old one.
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.transition(notification_id, SENT, timestamp=failed.sent_at)
    assert refusal(refused) == {"timestamp": ("sent_at cannot be before approved_at",)}
    sent = plugin.api.transition(notification_id, SENT)
    assert (sent.status, sent.sent_at) == ("sent", failed.sent_at)


def test_a_missing_notification_is_not_found(plugin: Plugin) -> None:
    with pytest.raises(NetBoxNotFound):
        plugin.api.get_prepared_notification(MISSING)
    with pytest.raises(NetBoxNotFound):
        plugin.api.transition(MISSING, READY)


# If-Match


def test_the_etag_of_a_write_is_the_etag_of_the_next_read(plugin: Plugin) -> None:
    notification_id = plugin.draft()
    read = plugin.get(notification_id)
    assert read.etag
    moved = plugin.api.transition(notification_id, READY, if_match=read.etag)
    assert moved.etag and moved.etag != read.etag
    assert plugin.get(notification_id).etag == moved.etag


@pytest.mark.parametrize("target", [SENT, READY])
def test_a_stale_if_match_is_refused_and_changes_nothing(plugin: Plugin, target: NotificationStatus) -> None:
    notification_id = plugin.draft()
    stale = plugin.get(notification_id).etag
    plugin.api.transition(notification_id, READY)
    current = plugin.get(notification_id)
    with pytest.raises(NetBoxConflict) as refused:
        plugin.api.transition(notification_id, target, message="late", if_match=stale)
    assert refused.value.status == 412
    assert plugin.get(notification_id).etag == current.etag
    assert plugin.api.journal_entries(notification_id) == []


# bulk marking


def test_bulk_marking_sends_each_with_its_own_journal_entry_and_current_etag(plugin: Plugin) -> None:
    ids = [plugin.at(READY) for _ in range(3)]
    versions = plugin.api.mark_sent_many({number: f"Sent via SES ({number})" for number in ids})
    assert sorted(version.id for version in versions) == sorted(ids)
    for version in versions:
        read = plugin.get(version.id)
        assert (version.status, version.approved_at, version.etag) == ("sent", read.approved_at, read.etag)
        [entry] = plugin.api.journal_entries(version.id)
        assert entry.comments == f"Status: ready → sent\n\nSent via SES ({version.id})"


def test_bulk_marking_again_is_a_no_op_without_a_journal_entry(plugin: Plugin) -> None:
    ids = [plugin.at(READY) for _ in range(2)]
    plugin.api.mark_sent_many(dict.fromkeys(ids, "first"))
    again = plugin.api.mark_sent_many(dict.fromkeys(ids, "second"))
    assert {(version.id, version.status) for version in again} == {(number, "sent") for number in ids}
    for number in ids:
        assert [entry.comments for entry in plugin.api.journal_entries(number)] == [
            "Status: ready → sent\n\nfirst"
        ]


def test_a_refused_bulk_marking_moves_nothing_and_names_each_refused_id(plugin: Plugin) -> None:
    ready, draft, delivered, failed, other = (plugin.at(s) for s in (READY, DRAFT, DELIVERED, FAILED, READY))
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.mark_sent_many(dict.fromkeys((ready, draft, delivered, failed, other), "m"))
    assert sorted(refused.value.refused_ids) == sorted((draft, delivered, failed))
    assert isinstance(refused.value.body, dict)
    assert {item["id"]: item["errors"] for item in refused.value.body["errors"]} == {
        draft: {"status": ["Cannot transition from 'draft' to 'sent'. Valid: ready"]},
        delivered: {"status": ["Cannot transition from 'delivered' to 'sent'. Valid: none"]},
        failed: {"status": ["Cannot transition from 'failed' to 'sent'. Valid: ready"]},
    }
    for number in (ready, other):
        assert plugin.status(number) == "ready"
        assert plugin.api.journal_entries(number) == []


def test_a_bulk_marking_naming_a_missing_id_names_only_that_one(plugin: Plugin) -> None:
    ready, draft = plugin.at(READY), plugin.draft()
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.mark_sent_many({ready: "m", draft: "m", MISSING: "m"})
    assert refused.value.refused_ids == (MISSING,)
    assert plugin.status(ready) == "ready"


def test_bulk_marking_nothing_answers_nothing(plugin: Plugin) -> None:
    assert plugin.api.mark_sent_many({}) == []


# listing


def test_notifications_are_listed_newest_first_by_status(plugin: Plugin) -> None:
    draft, ready, sent = plugin.draft(), plugin.at(READY), plugin.at(SENT)
    assert [n.id for n in plugin.api.prepared_notifications()] == [sent, ready, draft]
    assert [n.id for n in plugin.api.prepared_notifications(READY)] == [ready]
    assert [n.id for n in plugin.api.prepared_notifications(READY, SENT)] == [sent, ready]


# the journal


def test_journal_entries_are_listed_newest_first_for_their_object_only(plugin: Plugin) -> None:
    first, second = plugin.draft(), plugin.draft()
    opened = plugin.api.add_journal_entry(first, "[SES Open] opened")
    plugin.api.add_journal_entry(second, "[SES Click] clicked")
    clicked = plugin.api.add_journal_entry(first, "[SES Click] clicked", kind="success")
    assert plugin.api.journal_entries(first) == [clicked, opened]
    assert (opened.kind, clicked.kind, opened.object_id) == ("info", "success", first)
    assert plugin.api.journal_entries(MISSING) == []


def test_a_journal_entry_needs_comments_a_known_kind_and_an_existing_object(plugin: Plugin) -> None:
    notification_id = plugin.draft()
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.add_journal_entry(notification_id, "")
    assert refusal(refused) == {"comments": ("This field may not be blank.",)}
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.add_journal_entry(notification_id, "text", kind="bogus")
    assert refusal(refused) == {"kind": ("bogus is not a valid choice.",)}
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.add_journal_entry(MISSING, "text")
    assert list(refusal(refused)) == ["__all__"]


def test_a_transition_without_a_message_leaves_no_journal_entry(plugin: Plugin) -> None:
    notification_id = plugin.at(DELIVERED)
    assert plugin.api.journal_entries(notification_id) == []


# maintenances, impacts and stored mails (the inbound flow's writes)


def test_the_newest_maintenance_of_a_name_and_provider_is_found(plugin: Plugin) -> None:
    plugin.maintenance()
    newest = plugin.maintenance()
    plugin.maintenance("ZAYO-MAINT-2")
    found = plugin.api.find_maintenance("ZAYO-MAINT-1", plugin.seeded.providers["zayo"])
    assert found is not None and found.id == newest
    assert found == plugin.api.get_maintenance(newest)
    assert found.start == START and found.status == "CONFIRMED"
    assert plugin.api.find_maintenance("ZAYO-MAINT-1", plugin.seeded.providers["lumen"]) is None


def test_a_maintenance_that_replaces_another_reschedules_it(plugin: Plugin) -> None:
    old = plugin.maintenance()
    plugin.maintenance(replaces=old)
    assert plugin.api.get_maintenance(old).status == "RE-SCHEDULED"


def test_a_maintenance_ending_before_it_starts_is_refused(plugin: Plugin) -> None:
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.create_maintenance(
            MaintenanceDraft("M", "s", plugin.seeded.providers["zayo"], START, START - timedelta(hours=1))
        )
    assert refusal(refused) == {"end": ("The end time must be after the start time.",)}


def test_a_maintenance_update_with_a_stale_if_match_is_refused(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    stale = _maintenance_etag(plugin, maintenance_id)
    updated = plugin.api.update_maintenance(maintenance_id, {"status": "CANCELLED"}, if_match=stale)
    assert updated.status == "CANCELLED"
    with pytest.raises(NetBoxConflict):
        plugin.api.update_maintenance(maintenance_id, {"status": "COMPLETED"}, if_match=stale)
    assert plugin.api.get_maintenance(maintenance_id).status == "CANCELLED"


def _maintenance_etag(plugin: Plugin, maintenance_id: int) -> str:
    """The ETag of the maintenance's detail read (NoticesApi reads maintenances without one)."""
    if isinstance(plugin.api, FakeNotices):
        etag = etag_of(plugin.api.maintenances[maintenance_id])
    else:
        etag = plugin.api.client.request("GET", f"{PLUGIN}/maintenance/{maintenance_id}/").etag
    assert etag is not None
    return etag


def test_a_missing_maintenance_is_not_found(plugin: Plugin) -> None:
    with pytest.raises(NetBoxNotFound):
        plugin.api.get_maintenance(MISSING)
    with pytest.raises(NetBoxNotFound):
        plugin.api.update_maintenance(MISSING, {"status": "CANCELLED"})


def test_impacts_are_created_together_and_listed_per_maintenance(plugin: Plugin) -> None:
    maintenance_id, other = plugin.maintenance(), plugin.maintenance("ZAYO-MAINT-2")
    targets = [
        ImpactTarget(plugin.circuit("ZAYO-0001"), ImpactLevel.OUTAGE),
        ImpactTarget(plugin.circuit("ZAYO-0002"), None),
    ]
    created = plugin.api.create_impacts(maintenance_id, targets)
    plugin.api.create_impacts(other, targets[:1])
    assert [(i.target_object_id, i.impact) for i in created] == [
        (targets[0].object_id, "OUTAGE"),
        (targets[1].object_id, None),
    ]
    # NetBox orders them by neither id nor creation; what the list holds is the contract, not its order.
    assert sorted(plugin.api.list_impacts(maintenance_id), key=lambda impact: impact.id) == created
    assert plugin.api.get_maintenance(maintenance_id).impact_count == 2
    assert plugin.api.create_impacts(maintenance_id, []) == []


def test_an_impact_on_a_missing_circuit_refuses_the_whole_request(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    targets = [ImpactTarget(plugin.circuit("ZAYO-0001"), None), ImpactTarget(MISSING, ImpactLevel.OUTAGE)]
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.create_impacts(maintenance_id, targets)
    assert refusal(refused)["errors[0].errors.target_object_id"] == (
        f"Related object not found using the provided value: {MISSING}.",
    )
    assert refusal(refused)["detail"] == ("1 of 2 objects could not be created.",)
    assert plugin.api.list_impacts(maintenance_id) == []


@pytest.mark.parametrize("status", [MaintenanceStatus.CANCELLED, MaintenanceStatus.COMPLETED])
def test_impacts_on_a_closed_maintenance_are_refused(plugin: Plugin, status: MaintenanceStatus) -> None:
    maintenance_id = plugin.maintenance(status=status)
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.create_impacts(maintenance_id, [ImpactTarget(plugin.circuit("ZAYO-0001"), None)])
    assert refusal(refused)["errors[0].errors.__all__"] == (
        "You cannot alter an impact once the event has completed.",
    )


def test_a_second_impact_on_the_same_circuit_is_a_server_error(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    target = ImpactTarget(plugin.circuit("ZAYO-0001"), None)
    plugin.api.create_impacts(maintenance_id, [target])
    with pytest.raises(NetBoxServerError):
        plugin.api.create_impacts(maintenance_id, [target])
    assert len(plugin.api.list_impacts(maintenance_id)) == 1


def test_impacts_as_answered_name_their_circuit(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    plugin.api.create_impacts(maintenance_id, [ImpactTarget(plugin.circuit("ZAYO-0001"), ImpactLevel.OUTAGE)])
    [impact] = plugin.api.impacts_data(maintenance_id)
    assert impact["target_object_id"] == plugin.circuit("ZAYO-0001")
    assert impact["target"]["cid"] == "ZAYO-0001"
    assert impact["target_content_type"] == plugin.api.circuit_type_id()
    assert impact["impact"] == "OUTAGE"


def test_impacts_are_deleted_together_and_one_gone_already_is_no_error(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    targets = [ImpactTarget(plugin.circuit(cid), None) for cid in ("ZAYO-0001", "ZAYO-0002")]
    first, second = plugin.api.create_impacts(maintenance_id, targets)
    plugin.api.delete_impacts([first.id, MISSING])
    assert [impact.id for impact in plugin.api.list_impacts(maintenance_id)] == [second.id]
    plugin.api.delete_impacts([first.id])  # repeated, as after a lost answer
    plugin.api.delete_impacts([])
    assert [impact.id for impact in plugin.api.list_impacts(maintenance_id)] == [second.id]


def test_a_maintenance_starts_unacknowledged_and_a_patch_sets_it(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    assert plugin.api.maintenance_data(maintenance_id)["acknowledged"] is False
    assert plugin.api.patch_maintenance(maintenance_id, {"acknowledged": True})["acknowledged"] is True
    [listed] = plugin.api.maintenances_named(["ZAYO-MAINT-1"], plugin.seeded.providers["zayo"])
    assert listed["acknowledged"] is True


def test_a_stored_mail_has_its_subject_cut_to_100_characters(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    received = datetime(2031, 2, 1, 9, 30, tzinfo=UTC)
    stored = plugin.api.create_event_notification(
        maintenance_id,
        subject="[Maintenance] " + "x" * 150,
        email_from="noc@zayo.example",
        email_received=received,
        email_body="Planned work on your circuits.",
    )
    assert (stored.subject, stored.event_object_id, stored.email_received) == (
        ("[Maintenance] " + "x" * 150)[:100],
        maintenance_id,
        received,
    )


def test_a_stored_mail_needs_a_body_and_an_existing_maintenance(plugin: Plugin) -> None:
    mail: dict[str, Any] = {"subject": "s", "email_from": "noc@zayo.example", "email_received": START}
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.create_event_notification(plugin.maintenance(), email_body="", **mail)
    assert refusal(refused) == {"email_body": ("This field may not be blank.",)}
    with pytest.raises(NetBoxValidationError) as refused:
        plugin.api.create_event_notification(MISSING, email_body="b", **mail)
    assert refusal(refused) == {
        "event_object_id": (f"Related object not found using the provided value: {MISSING}.",)
    }


# the reads and writes the flows make on the raw answers


def test_ready_notifications_are_listed_oldest_first_with_the_etag_of_their_version(plugin: Plugin) -> None:
    first, _, second, _ = plugin.at(READY), plugin.draft(), plugin.at(READY), plugin.at(SENT)
    listed = list(plugin.api.ready_notifications())
    assert [n.id for n in listed] == [first, second]
    assert [n.etag for n in listed] == [plugin.get(first).etag, plugin.get(second).etag]


def test_a_notification_answer_carries_its_etag_and_netbox_date(plugin: Plugin) -> None:
    notification_id = plugin.at(SENT)
    answer = plugin.api.prepared_notification_answer(notification_id)
    assert answer.data["status"] == "sent" and answer.data["id"] == notification_id
    assert answer.etag == plugin.get(notification_id).etag
    date = parsedate_to_datetime(answer.headers["Date"])
    assert abs(date - datetime.now(UTC)) < timedelta(minutes=1)


def test_etags_are_honoured(plugin: Plugin) -> None:
    assert plugin.api.honours_etags() is True


def test_maintenances_are_read_and_written_as_netbox_answers(plugin: Plugin) -> None:
    zayo = plugin.seeded.providers["zayo"]
    body = {
        "name": "ZAYO-MAINT-9",
        "summary": "Fiber splice",
        "provider": zayo,
        "start": START.isoformat(),
        "end": (START + timedelta(hours=2)).isoformat(),
        "status": "CONFIRMED",
        "comments": "applied notice ses-0001",
    }
    created = plugin.api.create_maintenance_data(body)
    assert created["provider"]["id"] == zayo and created["replaces"] is None
    assert datetime.fromisoformat(created["start"]) == START
    patched = plugin.api.patch_maintenance(created["id"], {"comments": "applied notice ses-0002"})
    assert patched["comments"] == "applied notice ses-0002"
    assert plugin.api.maintenance_data(created["id"])["comments"] == "applied notice ses-0002"
    later = plugin.api.create_maintenance_data(body | {"replaces": created["id"]})
    plugin.maintenance("ZAYO-MAINT-9", provider_id=plugin.seeded.providers["lumen"])
    named = plugin.api.maintenances_named(["ZAYO-MAINT-9", "ZAYO-MAINT-404"], zayo)
    assert [item["id"] for item in named] == [created["id"], later["id"]]
    assert [item["status"] for item in named] == ["RE-SCHEDULED", "CONFIRMED"]
    assert named[1]["replaces"] == created["id"]


def test_impact_levels_change_in_one_request(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    created = plugin.api.create_impacts(
        maintenance_id,
        [ImpactTarget(plugin.circuit("ZAYO-0001"), None), ImpactTarget(plugin.circuit("ZAYO-0002"), None)],
    )
    plugin.api.update_impact_levels([(created[0].id, "OUTAGE"), (created[1].id, "DEGRADED")])
    levels = {impact.id: impact.impact for impact in plugin.api.list_impacts(maintenance_id)}
    assert levels == {created[0].id: "OUTAGE", created[1].id: "DEGRADED"}
    assert {impact.target_content_type for impact in created} == {plugin.api.circuit_type_id()}


def test_impact_levels_of_a_closed_maintenance_are_refused(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    [impact] = plugin.api.create_impacts(maintenance_id, [ImpactTarget(plugin.circuit("ZAYO-0001"), None)])
    plugin.api.update_maintenance(maintenance_id, {"status": "COMPLETED"})
    with pytest.raises(NetBoxValidationError):
        plugin.api.update_impact_levels([(impact.id, "OUTAGE")])
    assert plugin.api.list_impacts(maintenance_id)[0].impact is None


def test_stored_mails_are_found_by_maintenance_and_arrival(plugin: Plugin) -> None:
    first, second, other = plugin.maintenance(), plugin.maintenance("ZAYO-MAINT-2"), plugin.maintenance("X")
    received = datetime(2031, 2, 1, 9, 30, tzinfo=UTC)
    mail: dict[str, Any] = {"subject": "s", "email_from": "noc@zayo.example", "email_body": "b"}
    stored = [
        plugin.api.create_event_notification(first, email_received=received, **mail),
        plugin.api.create_event_notification(second, email_received=received, **mail),
        plugin.api.create_event_notification(first, email_received=received + timedelta(seconds=1), **mail),
        plugin.api.create_event_notification(other, email_received=received, **mail),
    ]
    found = plugin.api.event_notifications_on([first, second], received)
    assert sorted(item["id"] for item in found) == [stored[0].id, stored[1].id]


# NetBox 4.5: no ETags, If-Match ignored (the real one is 4.7 behind a proxy that makes it 4.5)


@pytest.fixture(
    params=[
        pytest.param("real", marks=[pytest.mark.netbox, pytest.mark.integration]),
        pytest.param("fake", marks=pytest.mark.unit),
    ]
)
def plugin_45(request: pytest.FixtureRequest) -> Iterator[Plugin]:
    if request.param == "fake":
        fake = FakeNotices(etags=False)
        yield Plugin(fake, fake.seed(DEMO_SEED))
        return
    server: RunningNetBox = request.getfixturevalue("clean_netbox")
    seeded = seed_netbox(request.getfixturevalue("nb_client"), DEMO_SEED)
    proxy = NoETagProxy(int(server.url.rsplit(":", 1)[1]))
    try:
        yield Plugin(NoticesApi(NetBoxClient(proxy.url, server.tokens.admin)), seeded)
    finally:
        proxy.close()


def test_netbox_45_sends_no_etags_and_ignores_if_match(plugin_45: Plugin) -> None:
    notification_id = plugin_45.draft()
    assert plugin_45.get(notification_id).etag is None
    assert plugin_45.api.honours_etags() is False
    moved = plugin_45.api.transition(notification_id, READY, if_match='W/"2020-01-01T00:00:00+00:00"')
    assert (moved.status, moved.etag) == ("ready", None)
    answer = plugin_45.api.prepared_notification_answer(notification_id)
    assert answer.etag is None and "Date" in answer.headers


def test_a_maintenance_keeps_its_own_journal(plugin: Plugin) -> None:
    maintenance_id = plugin.maintenance()
    notification_id = plugin.draft()
    assert maintenance_id == notification_id  # the same number on two kinds of object
    entry = plugin.api.add_journal_entry(
        maintenance_id, "Parsed with warnings", kind="warning", object_type="notices.maintenance"
    )
    assert (entry.object_type, entry.object_id, entry.kind) == (
        "notices.maintenance",
        maintenance_id,
        "warning",
    )
    assert plugin.api.journal_entries(maintenance_id, "notices.maintenance") == [entry]
    assert plugin.api.journal_entries(notification_id) == []
