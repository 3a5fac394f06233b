"""The inbound pipeline's decisions against the real NetBox: the gate, forwarding, fallbacks, the order of
notices, unknown circuits, and the Lambda handler."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from sesflow.local.netbox.seed import Seeded
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN, NoticesApi

from .builders import (
    CANCEL,
    COLT_NOTICES,
    NOTICE,
    RESCHEDULE,
    SECOND_RESCHEDULE,
    ZAYO4,
    LambdaContext,
    colt,
    count,
    forwarded,
)
from .conftest import BUCKET, PREFIX, Inbox, corpus_path, inbound_settings_for, receipt_event

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def _maintenances(client: NetBoxClient) -> list[dict[str, Any]]:
    return sorted(client.iterate(f"{PLUGIN}/maintenance/"), key=lambda item: int(item["id"]))


def test_mail_from_a_trusted_forwarder_is_judged_by_the_forwarded_original(
    make_inbox: Callable[..., Inbox], nb_client: NetBoxClient
) -> None:
    inbox = make_inbox(INBOUND_TRUSTED_FORWARDERS="@corp.example")
    outcome = inbox.deliver(forwarded("ops@corp.example"), source="ops@corp.example")
    assert (outcome.result, outcome.provider) == ("applied", "zayo")
    [maintenance] = _maintenances(nb_client)
    assert maintenance["name"] == "TTN-0002345678"


def test_unknown_sender_with_icalendar_is_read_by_the_generic_provider(
    make_inbox: Callable[..., Inbox], nb_client: NetBoxClient
) -> None:
    inbox = make_inbox(NETBOX_PROVIDER_MAP='{"euNetworks.com": "eunetworks"}')
    raw = corpus_path("eunetworks", "eunetworks_cancel.eml").read_bytes()
    raw = raw.replace(b"maintenance@eunetworks.com", b"maintenance@unlisted.example")
    outcome = inbox.deliver(raw, source="maintenance@unlisted.example")
    assert (outcome.result, outcome.provider) == ("applied", "genericprovider")
    [maintenance] = _maintenances(nb_client)
    assert (maintenance["name"], maintenance["status"]) == ("02345678", "CANCELLED")


def test_unknown_circuits_are_recorded_on_the_maintenance(
    inbox: Inbox, nb_client: NetBoxClient, notices: NoticesApi, corpus_seeded: Seeded
) -> None:
    circuit = corpus_seeded.circuits[("zayo", "/OGYX/123456/   /ZYO /")]
    nb_client.request("DELETE", f"/api/circuits/circuits/{circuit}/")
    outcome = inbox.deliver(ZAYO4.read_bytes(), source="mr@zayo.com")
    assert outcome.plans[0].unknown_circuits == ("/OGYX/123456/   /ZYO /",)
    [maintenance] = _maintenances(nb_client)
    [entry] = notices.journal_entries(maintenance["id"], "notices.maintenance")
    assert "/OGYX/123456/   /ZYO /" in entry.comments
    inbox.counter -= 1
    inbox.deliver(ZAYO4.read_bytes(), source="mr@zayo.com")
    assert len(notices.journal_entries(maintenance["id"], "notices.maintenance")) == 1


def test_windows_sharing_an_id_stay_apart(inbox: Inbox, nb_client: NetBoxClient, notices: NoticesApi) -> None:
    raw = corpus_path("zayo", "zayo5.eml").read_bytes()
    assert inbox.deliver(raw, source="mr@zayo.com").result == "applied"
    windows = _maintenances(nb_client)
    assert [w["name"] for w in windows] == [f"TTN-0003456789 [{n}/3]" for n in (1, 2, 3)]
    assert len({(w["start"], w["end"]) for w in windows}) == 3
    assert all(len(notices.list_impacts(w["id"])) == 2 for w in windows)


def _final_state(client: NetBoxClient, notices: NoticesApi) -> list[tuple[Any, ...]]:
    by_id = {m["id"]: m for m in _maintenances(client)}
    state = []
    for item in by_id.values():
        replaced = by_id[item["replaces"]]["start"] if item["replaces"] else None
        impacts = sorted((i.target_object_id, i.impact) for i in notices.list_impacts(item["id"]))
        mails = client.get(
            f"{PLUGIN}/eventnotification/",
            {"event_content_type": "notices.maintenance", "event_object_id": item["id"], "limit": 1},
        )["count"]
        state.append((item["name"], item["status"], item["start"], item["end"], replaced, impacts, mails))
    return sorted(state, key=lambda row: row[2])


@pytest.mark.parametrize("order", ["in_order", "reversed"])
def test_notice_reschedule_cancel_in_any_order_end_in_the_same_state(
    order: str, make_inbox: Callable[..., Inbox], nb_client: NetBoxClient, notices: NoticesApi
) -> None:
    inbox = make_inbox(NETBOX_PROVIDER_MAP='{"zayo": "zayo"}')
    mails = [NOTICE, RESCHEDULE, CANCEL]
    for raw in mails if order == "in_order" else mails[::-1]:
        outcome = inbox.deliver(raw, source="noc@noc.example.org")
        assert (outcome.result, outcome.provider) == ("applied", "genericprovider"), outcome.detail
    retired, cancelled = _final_state(nb_client, notices)
    assert retired[1:5] == ("RE-SCHEDULED", "2031-03-01T22:00:00Z", "2031-03-02T04:00:00Z", None)
    assert cancelled[1:5] == ("CANCELLED", "2031-03-08T22:00:00Z", "2031-03-09T04:00:00Z", retired[2])
    assert retired[5] == cancelled[5] != []
    assert (retired[6], cancelled[6]) == (1, 2)  # every mail kept, with the window it describes


def test_colt_notice_then_completion_then_cancellations_keep_history(
    inbox: Inbox, nb_client: NetBoxClient
) -> None:
    for name in ("colt3.eml", "colt4.eml", "colt5.eml", "colt6.eml"):
        assert inbox.deliver(colt(name), source="plannedworks@colt.net").result == "applied"
    maintenances = _maintenances(nb_client)
    # colt4 completes the work on another date than colt3 announced (colt3's window is retired);
    # colt5 and colt6 then cancel two further windows under the same reference.
    assert [m["status"] for m in maintenances] == ["RE-SCHEDULED", "COMPLETED", "CANCELLED", "CANCELLED"]
    assert maintenances[1]["replaces"] == maintenances[0]["id"]
    assert count(nb_client, "eventnotification") == 4


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_two_reschedules_in_any_order_chain_as_in_order(
    order: tuple[int, ...], make_inbox: Callable[..., Inbox], nb_client: NetBoxClient, notices: NoticesApi
) -> None:
    """Notice, reschedule, reschedule again: whatever order the mails come in, each window replaces the one
    before it, as they would have in order (a window filed late goes between its neighbours)."""
    inbox = make_inbox(NETBOX_PROVIDER_MAP='{"zayo": "zayo"}')
    mails = [NOTICE, RESCHEDULE, SECOND_RESCHEDULE]
    for index in order:
        outcome = inbox.deliver(mails[index], source="noc@noc.example.org")
        assert outcome.result == "applied", outcome.detail
    first, second, third = _final_state(nb_client, notices)
    assert [row[1] for row in (first, second, third)] == ["RE-SCHEDULED", "RE-SCHEDULED", "CONFIRMED"]
    assert [row[4] for row in (first, second, third)] == [None, first[2], second[2]]
    assert [row[6] for row in (first, second, third)] == [1, 1, 1]


def _colt_state(client: NetBoxClient) -> list[tuple[Any, ...]]:
    by_id = {m["id"]: m for m in _maintenances(client)}
    return sorted(
        (m["status"], m["start"], by_id[m["replaces"]]["start"] if m["replaces"] else None)
        for m in by_id.values()
    )


@pytest.mark.parametrize("names", list(itertools.permutations(COLT_NOTICES)))
def test_an_older_notice_never_overwrites_a_newer_one(
    names: tuple[str, ...], inbox: Inbox, nb_client: NetBoxClient
) -> None:
    for name in names:
        assert inbox.deliver(colt(name), source="plannedworks@colt.net").result == "applied"
    # The same whatever the order: colt3's window retired by colt4's completed one, colt5's cancelled (a new
    # occurrence after a completed event, replacing nothing).
    assert _colt_state(nb_client) == [
        ("CANCELLED", "2021-12-07T23:00:00Z", None),
        ("COMPLETED", "2021-10-31T00:00:00Z", "2021-08-06T22:00:00Z"),
        ("RE-SCHEDULED", "2021-08-06T22:00:00Z", None),
    ]
    assert count(nb_client, "eventnotification") == 3  # every mail kept


def test_handler_runs_the_pipeline_from_the_environment(
    inbox: Inbox, nb_client: NetBoxClient, monkeypatch: pytest.MonkeyPatch, clean_netbox: Any
) -> None:
    from sesflow.notices.inbound import lambda_handler as inbound

    settings = inbound_settings_for(clean_netbox.url, clean_netbox.tokens.admin)
    monkeypatch.setattr(inbound, "default_deps", lambda: inbox.deps)
    assert settings.bucket == inbox.deps.settings.bucket
    inbox.aws.s3.put_object(Bucket=BUCKET, Key=PREFIX + "h-1", Body=ZAYO4.read_bytes())
    event = receipt_event("h-1", source="mr@zayo.com", received=datetime(2026, 11, 23, 13, tzinfo=UTC))
    answer = inbound.handler(event, LambdaContext())
    assert answer == {"results": [{"message_id": "h-1", "result": "applied"}]}
    assert count(nb_client, "maintenance") == 1


def test_a_failure_part_way_is_finished_by_the_retry_without_duplicates(
    make_inbox: Callable[..., Inbox],
    nb_client: NetBoxClient,
    notices: NoticesApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sesflow.netbox.errors import NetBoxUnavailable
    from sesflow.notices.inbound import writes

    inbox = make_inbox(NETBOX_PROVIDER_MAP='{"zayo": "zayo"}')
    inbox.deliver(NOTICE, source="noc@noc.example.org")
    real_write = writes._write_impacts

    def fail(*args: Any) -> None:
        raise NetBoxUnavailable("NetBox went away")

    monkeypatch.setattr(writes, "_write_impacts", fail)
    with pytest.raises(NetBoxUnavailable):  # after the new window was created, before its impacts
        inbox.deliver(RESCHEDULE, source="noc@noc.example.org")
    monkeypatch.setattr(writes, "_write_impacts", real_write)
    inbox.counter -= 1  # Lambda's retry: the same event again
    assert inbox.deliver(RESCHEDULE, source="noc@noc.example.org").result == "applied"
    retired, current = _maintenances(nb_client)
    assert (retired["status"], current["status"], current["replaces"]) == (
        "RE-SCHEDULED",
        "CONFIRMED",
        retired["id"],
    )
    assert len(notices.list_impacts(current["id"])) == 1
    assert count(nb_client, "eventnotification") == 2
