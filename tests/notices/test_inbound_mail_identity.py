"""A mail is recognised as already applied by what NetBox keeps of it. Two different notices sent in the same
second whose subjects differ only past the plugin's 100 characters (seaborn1 and seaborn2: one per circuit)
are two mails: each adds its circuit's impact, in either order, and a replay of either changes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import PLUGIN
from sesflow.notices.inbound.parser import provider_organizers

from .conftest import Inbox, corpus_path

pytestmark = [pytest.mark.netbox, pytest.mark.integration]


def impacted(client: NetBoxClient) -> Counter[str]:
    cids = {int(c["id"]): c["cid"] for c in client.iterate("/api/circuits/circuits/")}
    return Counter(cids[int(item["target_object_id"])] for item in client.iterate(f"{PLUGIN}/impact/"))


@pytest.mark.parametrize("order", [("seaborn1", "seaborn2"), ("seaborn2", "seaborn1")])
def test_same_second_notices_with_one_subject_prefix_are_both_applied(
    make_inbox: Callable[..., Inbox], nb_client: NetBoxClient, order: tuple[str, str]
) -> None:
    inbox = make_inbox()
    mails = [corpus_path("seaborn", f"{name}.eml").read_bytes() for name in order]
    source = provider_organizers()["seaborn"]
    for raw in mails:
        assert inbox.deliver(raw, source=source).result == "applied"
    both = {"A-AAAAA-AAAAA-AAA1-00000-00": 1, "AAA-AAAAA-AAAAA-AAAA-0000-00": 1}
    assert impacted(nb_client) == both
    stored = nb_client.get(f"{PLUGIN}/eventnotification/", {"limit": 1})["count"]
    assert stored == 2

    inbox.counter = 0  # a replay of both deliveries
    for raw in mails:
        again = inbox.deliver(raw, source=source)
        assert [applied.changed for applied in again.applied] == [[]]
    assert impacted(nb_client) == both
    assert nb_client.get(f"{PLUGIN}/eventnotification/", {"limit": 1})["count"] == stored
