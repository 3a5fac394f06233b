"""Inbound killed after each of its named steps (`sesflow.faults`), then invoked again with the same event as
Lambda's retry does: NetBox ends up exactly as after one run that was never killed — also for a notice that
arrives late and is filed as history (its retry once found the half-written window "stale" and left it
TENTATIVE, without its impacts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from sesflow import faults
from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import corpus_seed, seed_netbox
from sesflow.mail import parse_mail
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.notices.inbound.parser import provider_organizers
from sesflow.notices.inbound.replay import classify, process_stored_mail

from .builders import IN_TIME, LATE, SAME_STAMP, STEPS
from .conftest import BUCKET, CORPUS, PREFIX, Inbox, corpus_path

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


@pytest.fixture(autouse=True)
def no_kills(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(faults.KILL_AT, raising=False)
    faults.reset()
    yield
    faults.reset()


def objects(client: NetBoxClient) -> Counter[tuple[Any, ...]]:
    """Maintenances, impacts and stored mails, keyed by window (no database ids)."""
    cids = {int(c["id"]): c["cid"] for c in client.iterate("/api/circuits/circuits/")}
    found = {int(m["id"]): m for m in client.iterate(f"{PLUGIN}/maintenance/")}

    def window(maintenance_id: Any) -> tuple[str, str, str] | None:
        if maintenance_id is None:
            return None
        item = found[int(maintenance_id["id"] if isinstance(maintenance_id, dict) else maintenance_id)]
        return item["name"], item["start"], item["end"]

    items: Counter[tuple[Any, ...]] = Counter()
    for item in found.values():
        items[("maintenance", window(item["id"]), item["status"], window(item.get("replaces")))] += 1
    for impact in client.iterate(f"{PLUGIN}/impact/"):
        target = cids.get(int(impact["target_object_id"]))
        items[("impact", window(impact["event_object_id"]), target, impact["impact"])] += 1
    for mail in client.iterate(f"{PLUGIN}/eventnotification/"):
        items[("mail", window(mail["event_object_id"]), mail["subject"])] += 1
    return items


def deliver_all(inbox: Inbox, names: tuple[str, ...], *, kill_last_at: str | None = None) -> None:
    source = provider_organizers()["colt"]
    for number, name in enumerate(names):
        raw = corpus_path("colt", name).read_bytes()
        if kill_last_at is not None and number == len(names) - 1:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(faults.KILL_AT, f"inbound.{kill_last_at}")
                faults.reset()
                with pytest.raises(faults.Killed):
                    inbox.deliver(raw, source=source)
                assert faults.kills() == {f"inbound.{kill_last_at}": 1}
            faults.reset()
            inbox.counter -= 1  # Lambda's retry: the same event again
        assert inbox.deliver(raw, source=source).result == "applied"


@pytest.mark.parametrize("names", [IN_TIME, LATE], ids=["in-time", "late"])
@pytest.mark.parametrize("step", STEPS)
def test_a_retry_after_a_kill_at_any_step_leaves_netbox_as_one_clean_run(
    make_inbox: Any,
    clean_netbox: RunningNetBox,
    nb_client: NetBoxClient,
    names: tuple[str, ...],
    step: str,
) -> None:
    deliver_all(make_inbox(), names)
    clean = objects(nb_client)
    assert clean[next(iter(clean))] >= 1

    clean_netbox.reset()
    seed_netbox(nb_client, corpus_seed(CORPUS))
    deliver_all(make_inbox(), names, kill_last_at=step)
    assert objects(nb_client) == clean


#: crowncastle7 completes the 2 December window and crowncastle1 announces 3 January under the same id; both
#: mails carry one sequence and one Date. A retry that let the second overtake the first once left NetBox
#: as that arrival order would (the January window retiring nothing, or retired by the completed one).
SOURCE = provider_organizers()["crowncastle"]


def deliver_numbered(inbox: Inbox, number: int, name: str) -> Any:
    """SES's delivery number `number` of the corpus mail `name` (the same number again is Lambda's retry)."""
    inbox.counter = number - 1
    return inbox.deliver(corpus_path("crowncastle", name).read_bytes(), source=SOURCE)


def replay_numbered(inbox: Inbox, number: int, name: str) -> tuple[str, str]:
    """The operator's replay of delivery `number` from the bucket (vouched: the test mail has no verdicts)."""
    raw = inbox.aws.s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}ses-{number:04d}")["Body"].read()
    assert raw == corpus_path("crowncastle", name).read_bytes()
    return classify(process_stored_mail(f"ses-{number:04d}", parse_mail(raw), inbox.deps, vouched=True))


#: NetBox after the two mails in corpus order, once per session: every order and kill must end there.
_IN_ORDER: list[Counter[tuple[Any, ...]]] = []


def same_stamp_in_order(
    make_inbox: Any, clean_netbox: RunningNetBox, nb_client: NetBoxClient
) -> Counter[tuple[Any, ...]]:
    if not _IN_ORDER:
        inbox = make_inbox()
        for number, name in enumerate(SAME_STAMP, start=1):
            assert deliver_numbered(inbox, number, name).result == "applied"
        _IN_ORDER.append(objects(nb_client))
        clean_netbox.reset()
        seed_netbox(nb_client, corpus_seed(CORPUS))
    return _IN_ORDER[0]


def test_notices_with_one_sequence_and_stamp_in_order_keep_both_windows_unlinked(
    make_inbox: Any, clean_netbox: RunningNetBox, nb_client: NetBoxClient
) -> None:
    in_order = same_stamp_in_order(make_inbox, clean_netbox, nb_client)
    # The completed window, and the next one as a new occurrence: neither replaces the other.
    assert sorted(key[2:] for key in in_order if key[0] == "maintenance") == [
        ("COMPLETED", None),
        ("CONFIRMED", None),
    ]
    assert sum(1 for key in in_order if key[0] == "impact") == 2  # crowncastle1's two circuits


@pytest.mark.parametrize("finish", ["retry", "replay"])
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("names", [SAME_STAMP, SAME_STAMP[::-1]], ids=["completed-first", "next-first"])
def test_a_killed_notice_overtaken_by_one_with_the_same_stamp_ends_as_in_order(
    make_inbox: Any,
    clean_netbox: RunningNetBox,
    nb_client: NetBoxClient,
    names: tuple[str, str],
    step: str,
    finish: str,
) -> None:
    in_order = same_stamp_in_order(make_inbox, clean_netbox, nb_client)
    inbox = make_inbox()
    first, second = names
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(faults.KILL_AT, f"inbound.{step}")
        faults.reset()
        with pytest.raises(faults.Killed):
            deliver_numbered(inbox, 1, first)
    faults.reset()
    assert deliver_numbered(inbox, 2, second).result == "applied"  # overtakes the killed one
    if finish == "retry":
        assert deliver_numbered(inbox, 1, first).result == "applied"
    else:
        assert replay_numbered(inbox, 1, first)[0] in {"created", "updated", "unchanged"}
    assert objects(nb_client) == in_order

    # The operator replays both afterwards: each is recognised as applied, and nothing changes.
    assert [replay_numbered(inbox, n, name) for n, name in ((1, first), (2, second))] == [
        ("unchanged", "already applied")
    ] * 2
    assert objects(nb_client) == in_order
