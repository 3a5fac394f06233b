"""What the fakes offer beyond their port, for tests that drive the flows with them: SES failures on cue
(including an answer lost after SES took the message), a server clock that stands still, a NetBox that
answers like 4.5, and following a pre-signed link."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest

from sesflow.aws.ses import PermanentSendError, UncertainSendError
from sesflow.local.netbox.seed import DEMO_SEED
from sesflow.netbox.errors import NetBoxValidationError
from sesflow.netbox.records import NotificationStatus

from ..fakes.notices import FakeNotices
from ..fakes.object_store import FakeObjectStore
from ..fakes.ses import FakeSesSender

pytestmark = pytest.mark.unit

RAW = b"Subject: x\r\n\r\nbody\r\n"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def send(sender: FakeSesSender) -> str:
    return sender.send_raw(RAW, from_address="n@sesflow.example", recipients=["a@b.example"]).message_id


def test_a_lost_answer_is_uncertain_though_ses_took_the_message() -> None:
    sender = FakeSesSender()
    sender.lose_answers()
    with pytest.raises(UncertainSendError):
        send(sender)
    assert [message.raw for message in sender.sent] == [RAW]
    assert sender.calls == 1  # never resent


def test_a_permanent_failure_is_not_retried() -> None:
    sender = FakeSesSender()
    sender.fail_permanently("MessageRejected")
    with pytest.raises(PermanentSendError):
        send(sender)
    assert (sender.sent, sender.calls) == ([], 1)
    assert send(sender)  # the next send goes


def test_configuration_set_and_tags_are_kept() -> None:
    sender = FakeSesSender()
    sender.send_raw(
        RAW,
        from_address="n@sesflow.example",
        recipients=["a@b.example"],
        configuration_set="notices-tracking",
        tags={"notification_id": "7"},
    )
    [sent] = sender.sent
    assert (sent.configuration_set, dict(sent.tags)) == ("notices-tracking", {"notification_id": "7"})


def test_sends_from_many_threads_each_get_their_own_message_id() -> None:
    sender = FakeSesSender()
    threads = [threading.Thread(target=send, args=(sender,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({message.message_id for message in sender.sent}) == 8


def test_a_standing_clock_still_gives_every_write_a_new_etag() -> None:
    fake = FakeNotices(clock=lambda: NOW)
    seeded = fake.seed(DEMO_SEED)
    assert seeded.template is not None
    notification = fake.create_prepared_notification(
        template_id=seeded.template, subject="s", body_text="b", contact_ids=list(seeded.contacts.values())
    )
    first = fake.transition(notification.id, NotificationStatus.READY)
    second = fake.transition(notification.id, NotificationStatus.READY)
    assert first.approved_at == NOW and first.etag != second.etag
    with pytest.raises(NetBoxValidationError):
        fake.transition(notification.id, NotificationStatus.SENT, timestamp=NOW + timedelta(microseconds=1))


def test_a_netbox_45_sends_no_etags_and_ignores_if_match() -> None:
    fake = FakeNotices(etags=False)
    seeded = fake.seed(DEMO_SEED)
    assert seeded.template is not None
    notification = fake.create_prepared_notification(
        template_id=seeded.template, subject="s", body_text="b", contact_ids=list(seeded.contacts.values())
    )
    assert fake.honours_etags() is False
    assert fake.get_prepared_notification(notification.id).etag is None
    moved = fake.transition(notification.id, NotificationStatus.READY, if_match='W/"stale"')
    assert (moved.status, moved.etag) == ("ready", None)


def test_a_link_serves_the_object_until_it_is_deleted() -> None:
    store = FakeObjectStore("att")
    store.upload("att", "m1/1-report.csv", io.BytesIO(b"a,b"))
    url = store.presign_get("att", "m1/1-report.csv", 60)
    assert store.follow(url) == b"a,b"
    assert store.follow(url.replace("X-Amz-Signature", "X-Amz-Nothing")) is None
    store.delete("att", "m1/1-report.csv")
    assert store.follow(url) is None


def test_an_object_left_by_ses_reads_back() -> None:
    store = FakeObjectStore("inbound-mail")
    store.put_bytes("inbound-mail", "inbound/ses-0001", b"raw")
    assert store.open("inbound-mail", "inbound/ses-0001").body.read() == b"raw"
    assert store.read_start("inbound-mail", "inbound/ses-0001", 2) == b"ra"
