"""The inbound flow's hardest cases over the fakes (`FakeNotices`, `FakeObjectStore`), in seconds: a
maintenance's notices in every order end as in order (statuses, windows, `replaces` links, impacts, stored
mails), and a run stopped after each step, then retried or replayed, ends as one clean run. The same cases
against the real NetBox: test_inbound_flow.py and test_inbound_kill_points.py."""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from typing import Any

import pytest

from sesflow.netbox.errors import NetBoxUnavailable
from sesflow.notices.inbound import writes
from sesflow.notices.inbound.parser import provider_organizers
from sesflow.pipeline import StopAfter, StopRun, extra_hooks

from .builders import (
    CANCEL,
    COLT_NOTICES,
    IN_TIME,
    LATE,
    NOTICE,
    RESCHEDULE,
    SAME_STAMP,
    SECOND_RESCHEDULE,
    STEPS,
    ZAYO4,
    FakeInbox,
    colt,
    colt_state,
    final_state,
    maintenances,
    objects,
)
from .conftest import corpus_path

pytestmark = pytest.mark.unit

BCOP_SOURCE = "noc@noc.example.org"
ZAYO_MAP = {"NETBOX_PROVIDER_MAP": '{"zayo": "zayo"}'}
COLT, CROWNCASTLE = provider_organizers()["colt"], provider_organizers()["crowncastle"]


# a maintenance's notices in any order


@pytest.mark.parametrize("order", ["in_order", "reversed"])
def test_notice_reschedule_cancel_in_any_order_end_in_the_same_state(order: str) -> None:
    inbox = FakeInbox(environ=ZAYO_MAP)
    mails = [NOTICE, RESCHEDULE, CANCEL]
    for raw in mails if order == "in_order" else mails[::-1]:
        outcome = inbox.deliver(raw, source=BCOP_SOURCE)
        assert (outcome.result, outcome.provider) == ("applied", "genericprovider"), outcome.detail
    retired, cancelled = final_state(inbox.notices)
    assert retired[1:5] == ("RE-SCHEDULED", "2031-03-01T22:00:00Z", "2031-03-02T04:00:00Z", None)
    assert cancelled[1:5] == ("CANCELLED", "2031-03-08T22:00:00Z", "2031-03-09T04:00:00Z", retired[2])
    assert retired[5] == cancelled[5] != []
    assert (retired[6], cancelled[6]) == (1, 2)  # every mail kept, with the window it describes


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_two_reschedules_in_any_order_chain_as_in_order(order: tuple[int, ...]) -> None:
    inbox = FakeInbox(environ=ZAYO_MAP)
    mails = [NOTICE, RESCHEDULE, SECOND_RESCHEDULE]
    for index in order:
        outcome = inbox.deliver(mails[index], source=BCOP_SOURCE)
        assert outcome.result == "applied", outcome.detail
    first, second, third = final_state(inbox.notices)
    assert [row[1] for row in (first, second, third)] == ["RE-SCHEDULED", "RE-SCHEDULED", "CONFIRMED"]
    assert [row[4] for row in (first, second, third)] == [None, first[2], second[2]]
    assert [row[6] for row in (first, second, third)] == [1, 1, 1]


def test_colt_notice_then_completion_then_cancellations_keep_history() -> None:
    inbox = FakeInbox()
    for name in ("colt3.eml", "colt4.eml", "colt5.eml", "colt6.eml"):
        assert inbox.deliver(colt(name), source="plannedworks@colt.net").result == "applied"
    found = maintenances(inbox.notices)
    assert [m["status"] for m in found] == ["RE-SCHEDULED", "COMPLETED", "CANCELLED", "CANCELLED"]
    assert found[1]["replaces"] == found[0]["id"]
    assert len(inbox.notices.event_notifications) == 4


@pytest.mark.parametrize("names", list(itertools.permutations(COLT_NOTICES)))
def test_an_older_notice_never_overwrites_a_newer_one(names: tuple[str, ...]) -> None:
    inbox = FakeInbox()
    for name in names:
        assert inbox.deliver(colt(name), source="plannedworks@colt.net").result == "applied"
    assert colt_state(inbox.notices) == [
        ("CANCELLED", "2021-12-07T23:00:00Z", None),
        ("COMPLETED", "2021-10-31T00:00:00Z", "2021-08-06T22:00:00Z"),
        ("RE-SCHEDULED", "2021-08-06T22:00:00Z", None),
    ]
    assert len(inbox.notices.event_notifications) == 3  # every mail kept


def test_windows_sharing_an_id_stay_apart() -> None:
    inbox = FakeInbox()
    raw = corpus_path("zayo", "zayo5.eml").read_bytes()
    assert inbox.deliver(raw, source="mr@zayo.com").result == "applied"
    windows = maintenances(inbox.notices)
    assert [w["name"] for w in windows] == [f"TTN-0003456789 [{n}/3]" for n in (1, 2, 3)]
    assert len({(w["start"], w["end"]) for w in windows}) == 3
    assert all(len(inbox.notices.list_impacts(w["id"])) == 2 for w in windows)


def test_unknown_circuits_are_recorded_on_the_maintenance() -> None:
    inbox = FakeInbox()
    del inbox.notices.circuits[inbox.seeded.circuits[("zayo", "/OGYX/123456/   /ZYO /")]]
    outcome = inbox.deliver(ZAYO4.read_bytes(), source="mr@zayo.com")
    assert outcome.plans[0].unknown_circuits == ("/OGYX/123456/   /ZYO /",)
    [maintenance] = maintenances(inbox.notices)
    [entry] = inbox.notices.journal_entries(maintenance["id"], "notices.maintenance")
    assert "/OGYX/123456/   /ZYO /" in entry.comments
    inbox.counter -= 1
    inbox.deliver(ZAYO4.read_bytes(), source="mr@zayo.com")
    assert len(inbox.notices.journal_entries(maintenance["id"], "notices.maintenance")) == 1


def test_a_failure_part_way_is_finished_by_the_retry_without_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox = FakeInbox(environ=ZAYO_MAP)
    inbox.deliver(NOTICE, source=BCOP_SOURCE)

    def fail(*args: Any) -> None:
        raise NetBoxUnavailable("NetBox went away")

    with monkeypatch.context() as patch:
        patch.setattr(writes, "_write_impacts", fail)
        with pytest.raises(NetBoxUnavailable):  # after the new window was created, before its impacts
            inbox.deliver(RESCHEDULE, source=BCOP_SOURCE)
    inbox.counter -= 1  # Lambda's retry: the same event again
    assert inbox.deliver(RESCHEDULE, source=BCOP_SOURCE).result == "applied"
    retired, current = maintenances(inbox.notices)
    assert (retired["status"], current["status"], current["replaces"]) == (
        "RE-SCHEDULED",
        "CONFIRMED",
        retired["id"],
    )
    assert len(inbox.notices.list_impacts(current["id"])) == 1
    assert len(inbox.notices.event_notifications) == 2


# a run stopped after each step, then retried or replayed


def stopped_after(step: str, inbox: FakeInbox, raw: bytes, source: str) -> None:
    """The delivery stopped once `step` is done, as a Lambda container dying there."""
    with extra_hooks(StopAfter(step)), pytest.raises(StopRun) as stopped:
        inbox.deliver(raw, source=source)
    assert str(stopped.value) == f"inbound.{step}"


def deliver_all(inbox: FakeInbox, names: tuple[str, ...], *, kill_last_at: str | None = None) -> None:
    for number, name in enumerate(names):
        if kill_last_at is not None and number == len(names) - 1:
            stopped_after(kill_last_at, inbox, colt(name), COLT)
            inbox.counter -= 1  # Lambda's retry: the same event again
        assert inbox.deliver(colt(name), source=COLT).result == "applied"


@functools.cache
def clean_run(names: tuple[str, ...]) -> Counter[tuple[Any, ...]]:
    inbox = FakeInbox()
    deliver_all(inbox, names)
    return objects(inbox.notices)


@pytest.mark.parametrize("names", [IN_TIME, LATE], ids=["in-time", "late"])
@pytest.mark.parametrize("step", STEPS)
def test_a_retry_after_a_kill_at_any_step_leaves_netbox_as_one_clean_run(
    names: tuple[str, ...], step: str
) -> None:
    clean = clean_run(names)
    assert clean[next(iter(clean))] >= 1
    inbox = FakeInbox()
    deliver_all(inbox, names, kill_last_at=step)
    assert objects(inbox.notices) == clean


def deliver_numbered(inbox: FakeInbox, number: int, name: str) -> Any:
    """SES's delivery number `number` of the corpus mail `name` (the same number again is Lambda's retry)."""
    inbox.counter = number - 1
    return inbox.deliver(corpus_path("crowncastle", name).read_bytes(), source=CROWNCASTLE)


@functools.cache
def same_stamp_in_order() -> Counter[tuple[Any, ...]]:
    inbox = FakeInbox()
    for number, name in enumerate(SAME_STAMP, start=1):
        assert deliver_numbered(inbox, number, name).result == "applied"
    return objects(inbox.notices)


def test_notices_with_one_sequence_and_stamp_in_order_keep_both_windows_unlinked() -> None:
    in_order = same_stamp_in_order()
    assert sorted(key[2:] for key in in_order if key[0] == "maintenance") == [
        ("COMPLETED", None),
        ("CONFIRMED", None),
    ]
    assert sum(1 for key in in_order if key[0] == "impact") == 2  # crowncastle1's two circuits


@pytest.mark.parametrize("finish", ["retry", "replay"])
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("names", [SAME_STAMP, SAME_STAMP[::-1]], ids=["completed-first", "next-first"])
def test_a_killed_notice_overtaken_by_one_with_the_same_stamp_ends_as_in_order(
    names: tuple[str, str], step: str, finish: str
) -> None:
    in_order = same_stamp_in_order()
    inbox = FakeInbox()
    first, second = names
    stopped_after(step, inbox, corpus_path("crowncastle", first).read_bytes(), CROWNCASTLE)
    assert deliver_numbered(inbox, 2, second).result == "applied"  # overtakes the killed one
    if finish == "retry":
        assert deliver_numbered(inbox, 1, first).result == "applied"
    else:
        assert inbox.replay(1)[0] in {"created", "updated", "unchanged"}
    assert objects(inbox.notices) == in_order

    # The operator replays both afterwards: each is recognised as applied, and nothing changes.
    assert [inbox.replay(1), inbox.replay(2)] == [("unchanged", "already applied")] * 2
    assert objects(inbox.notices) == in_order
