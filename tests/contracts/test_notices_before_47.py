"""A refused bulk PATCH on NetBox before 4.7: all or none as on 4.7, but the answer is the first refused
object's field errors, naming no id (the bulk update validates object by object and raises at the first).
No NetBox before 4.7 runs here, so this pins `FakeNotices(names_refused=False)` alone; the 4.7 answer, naming
each refused id, is held to the real NetBox in test_notices.py."""

from __future__ import annotations

import pytest

from sesflow.local.netbox.seed import DEMO_SEED
from sesflow.netbox.errors import NetBoxValidationError
from sesflow.netbox.records import NotificationStatus

from ..fakes.notices import FakeNotices

pytestmark = pytest.mark.unit


def test_a_refused_bulk_marking_moves_nothing_and_names_no_id() -> None:
    fake = FakeNotices(names_refused=False)
    seeded = fake.seed(DEMO_SEED)
    assert seeded.template is not None
    ids = [
        fake.create_prepared_notification(
            template_id=seeded.template,
            subject="Planned maintenance",
            body_text="Work on ZAYO-0001",
            contact_ids=list(seeded.contacts.values()),
        ).id
        for _ in range(3)
    ]
    for number in ids:
        fake.transition(number, NotificationStatus.READY)
    for status in (NotificationStatus.SENT, NotificationStatus.DELIVERED):
        fake.transition(ids[1], status)

    with pytest.raises(NetBoxValidationError) as refused:
        fake.mark_sent_many(dict.fromkeys(ids, "m"))

    assert refused.value.refused_ids == ()
    assert refused.value.body == {"status": ["Cannot transition from 'delivered' to 'sent'. Valid: none"]}
    for number in (ids[0], ids[2]):
        assert fake.get_prepared_notification(number).status == "ready"
        assert all("→ sent" not in entry.comments for entry in fake.journal_entries(number))
