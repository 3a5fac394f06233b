"""The triage over the fakes (`FakeNotices`, `FakeObjectStore`), in seconds: each mail not applied leaves one
journal entry that says why and how to run it again, however often it comes back; an applied replay resolves
it; circuits NetBox lacks are listed too; a NetBox failure while writing the entry raises. The same against
the real NetBox: test_inbound_triage.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sesflow.mail import parse_mail
from sesflow.netbox.errors import NetBoxUnavailable
from sesflow.notices.inbound.replay import StoredMailKey, process_stored_mail, replay
from sesflow.notices.inbound.triage import TriageReason, row_of
from sesflow.notices.inbound.triage_netbox import OPEN_TAG, RESOLVED_TAG, TriageEntry, TriageRecords

from .builders import NOTICE, FakeInbox
from .conftest import BUCKET, PREFIX
from .triage_cases import CASES, LATER_SLUG, UNKNOWN_CIRCUITS, Case, check_waiting_entry, tags_of

pytestmark = pytest.mark.unit


def _waiting(inbox: FakeInbox) -> list[dict[str, object]]:
    return inbox.notices.find_journal_entries(tag=OPEN_TAG)


def _replay_first(inbox: FakeInbox) -> tuple[str, str]:
    """The operator's `replay s3://bucket/key --vouch` of the first delivery."""
    stored = StoredMailKey(BUCKET, f"{PREFIX}ses-0001", datetime.now(UTC))
    summary = replay([stored], inbox.deps, vouched=True)
    [(kind, reason, _)] = list(summary.rows())
    return kind, reason


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_mail_not_applied_waits_in_one_entry_that_says_why_and_how_to_replay(case: Case) -> None:
    inbox = FakeInbox(environ=case.environ)
    outcome = inbox.deliver(case.raw, **case.delivery)
    assert outcome.result == case.reason, outcome.detail
    provider_id = inbox.deps.netbox.provider_id(case.netbox_provider)
    assert provider_id is not None
    [entry] = _waiting(inbox)
    check_waiting_entry(case, entry, provider_id)

    inbox.counter -= 1  # SES delivers the same mail again
    inbox.deliver(case.raw, **case.delivery)
    if case.reason != "refused":  # a refused mail vouched for is applied: its entry is resolved
        _replay_first(inbox)
    assert _waiting(inbox) == [entry]  # nothing added, nothing rewritten
    assert len(inbox.notices.journal) == 1


def test_a_replay_that_applies_the_mail_resolves_its_entry() -> None:
    case = next(case for case in CASES if case.reason == "no_netbox_provider")
    inbox = FakeInbox(environ=case.environ)
    inbox.deliver(case.raw, **case.delivery)
    [waiting] = _waiting(inbox)
    inbox.notices.ensure_provider(LATER_SLUG, name="Zayo (later)", description="")  # the operator's fix

    assert _replay_first(inbox) == ("created", "")
    resolved = inbox.notices.find_journal_entries(tag=RESOLVED_TAG)
    assert [entry["id"] for entry in resolved] == [waiting["id"]]
    assert resolved[0]["kind"]["value"] == "success"
    assert tags_of(resolved[0]) == {RESOLVED_TAG}
    assert "**Resolved**: applied on " in resolved[0]["comments"]
    # The provider has none of zayo4's circuits: what waits now is those, on the maintenance.
    [circuits] = _waiting(inbox)
    assert circuits["assigned_object_type"] == "notices.maintenance"
    assert _replay_first(inbox) == ("unchanged", "already applied")
    assert len(inbox.notices.find_journal_entries(tag=RESOLVED_TAG)) == 1


def test_applying_the_file_an_s3_object_was_downloaded_to_resolves_the_objects_entry() -> None:
    """A download (`aws s3 cp`) keeps the object's name, SES's message id: `apply ./ses-0001` resolves what
    SES's delivery of that object left waiting."""
    case = next(case for case in CASES if case.reason == "no_netbox_provider")
    inbox = FakeInbox(environ=case.environ)
    inbox.deliver(case.raw, **case.delivery)
    [waiting] = _waiting(inbox)
    inbox.notices.ensure_provider(LATER_SLUG, name="Zayo (later)", description="")

    downloaded = "downloads/ses-0001"  # the operator's copy, as `aws s3 cp` names it
    outcome = process_stored_mail(
        "ses-0001", parse_mail(case.raw), inbox.deps, vouched=True, location=downloaded
    )
    assert outcome.result == "applied"
    resolved = inbox.notices.find_journal_entries(tag=RESOLVED_TAG)
    assert [entry["id"] for entry in resolved] == [waiting["id"]]


def test_a_file_that_only_shares_its_name_with_another_files_entry_does_not_resolve_it() -> None:
    case = next(case for case in CASES if case.reason == "no_netbox_provider")
    inbox = FakeInbox(environ=case.environ)
    first = process_stored_mail(
        "notice.eml", parse_mail(case.raw), inbox.deps, vouched=True, location="/a/notice.eml"
    )
    assert first.result == "no_netbox_provider"
    [waiting] = _waiting(inbox)
    inbox.notices.ensure_provider(LATER_SLUG, name="Zayo (later)", description="")

    other = process_stored_mail(
        "notice.eml", parse_mail(NOTICE), inbox.deps, vouched=True, location="/b/notice.eml"
    )
    assert other.result == "applied"
    # Unchanged (kind, tags, text), beside the entry for the circuits NetBox lacks that NOTICE names.
    assert waiting in _waiting(inbox)


def test_a_refused_mail_vouched_for_by_the_operator_is_applied_and_resolved() -> None:
    spoofed = next(case for case in CASES if case.name == "spoofed")
    inbox = FakeInbox()
    inbox.deliver(spoofed.raw, **spoofed.delivery)
    assert _replay_first(inbox) == ("created", "")
    assert _waiting(inbox) == []
    assert len(inbox.notices.find_journal_entries(tag=RESOLVED_TAG)) == 1


def test_circuits_netbox_lacks_are_listed_with_the_maintenance_and_tagged_once() -> None:
    inbox = FakeInbox()
    outcome = inbox.deliver(UNKNOWN_CIRCUITS, source="noc@noc.example.org")
    assert outcome.result == "applied"
    [entry] = _waiting(inbox)
    maintenance_id = outcome.applied[0].maintenance_id
    assert (entry["assigned_object_type"], entry["assigned_object_id"]) == (
        "notices.maintenance",
        maintenance_id,
    )
    row = row_of(TriageEntry.from_api(entry))
    assert row is not None and row.reason == TriageReason.UNKNOWN_CIRCUITS
    assert "NOT-IN-NETBOX-1" in row.subject and "TRIAGE-1" in row.provider
    inbox.counter -= 1
    inbox.deliver(UNKNOWN_CIRCUITS, source="noc@noc.example.org")
    assert _waiting(inbox) == [entry]


def test_a_mail_applied_on_its_first_delivery_costs_the_triage_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox = FakeInbox(environ={"NETBOX_PROVIDER_MAP": '{"zayo": "zayo"}'})
    asked: list[str] = []
    for name in ("find_journal_entries", "add_tagged_journal_entry", "update_journal_entry", "ensure_tag"):
        monkeypatch.setattr(inbox.notices, name, lambda *args, _name=name, **kwargs: asked.append(_name))
    assert inbox.deliver(NOTICE, source="noc@noc.example.org").result == "applied"
    assert asked == []


def test_a_netbox_failure_while_writing_the_entry_raises_so_the_mail_is_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = next(case for case in CASES if case.name == "unknown sender")
    inbox = FakeInbox()

    def down(*args: object, **kwargs: object) -> None:
        raise NetBoxUnavailable("POST /api/extras/journal-entries/: cannot connect to NetBox")

    monkeypatch.setattr(inbox.notices, "add_tagged_journal_entry", down)
    with pytest.raises(NetBoxUnavailable):
        inbox.deliver(case.raw, **case.delivery)
    monkeypatch.undo()
    inbox.counter -= 1  # Lambda's retry of the same event
    assert inbox.deliver(case.raw, **case.delivery).result == "unknown_provider"
    assert len(_waiting(inbox)) == 1


def test_the_records_list_what_waits_since_a_moment() -> None:
    inbox = FakeInbox()
    for case in CASES[:3]:
        inbox.deliver(case.raw, **case.delivery)
    records = TriageRecords(inbox.notices)  # type: ignore[arg-type]
    assert len(records.waiting()) == 3
    assert records.waiting(since=datetime(2999, 1, 1, tzinfo=UTC)) == []


def test_a_hostile_subject_and_sender_are_written_as_printable_text() -> None:
    """NetBox refuses a NUL in any text field (the fake too, held to it by the contract tests): a subject
    carrying one, or control and direction-override characters, must not keep the mail out of the triage."""
    case = next(case for case in CASES if case.reason == "unknown_provider")
    inbox = FakeInbox()
    hostile = {**case.delivery, "subject": "\x00nul\x00 \u202etxt.exe\x16 maintenance"}
    assert inbox.deliver(case.raw, **hostile).result == "unknown_provider"
    [entry] = _waiting(inbox)
    comments = str(entry["comments"])
    assert all(char.isprintable() for line in comments.splitlines() for char in line)
    assert "- subject: nul txt.exe maintenance" in comments
