"""NetBox's webhook on a prepared notification going `ready`, delivered by the real RQ worker to a real HTTP
receiver, signed; only on the change to `ready` (NetBox 4.7's `changed` condition), not on later edits;
still delivered after the per-test reset, and not held back by a bulk write."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from tests.netbox.webhook_receiver import ReceivedHook, WebhookReceiver, worker_log

from sesflow.local.netbox import RunningNetBox
from sesflow.local.netbox.seed import CONTACTS, DEMO_SEED, seed_netbox, seed_ready_webhook
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.event_rules import READY_CHANGE, READY_STATE
from sesflow.netbox.notices import PLUGIN, NoticesApi
from sesflow.netbox.records import MaintenanceDraft, NotificationStatus
from sesflow.netbox.retry import RetryPolicy

pytestmark = [pytest.mark.netbox, pytest.mark.integration]

SECRET = "sesflow-webhook-test-secret"


DELIVERY_TIMEOUT = 15.0  # measured 0.2-0.6 s from PATCH to delivery; generous for a loaded CI machine
EXTRA_WAIT = 1.0  # long enough for a duplicate delivery to show up
START = datetime(2031, 3, 1, 22, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@dataclass(frozen=True)
class Draft:
    client: NetBoxClient
    notices: NoticesApi
    notification_id: int
    template: int = 0
    contact_ids: list[int] = field(default_factory=list)


def _draft_with_webhook(netbox: RunningNetBox, receiver: WebhookReceiver) -> Draft:
    """The demo seed, the webhook + event rule on `ready`, and a draft notification with contacts."""
    client = NetBoxClient(netbox.url, netbox.tokens.admin, retry=RetryPolicy(deadline=10))
    seeded = seed_netbox(client, DEMO_SEED)
    seed_ready_webhook(client, f"{receiver.url}/hook", SECRET)
    notices = NoticesApi(client)
    maintenance = notices.create_maintenance(
        MaintenanceDraft(
            "ZAYO-MAINT-1", "Splice", seeded.providers["zayo"], START, START + timedelta(hours=4)
        )
    )
    assert seeded.template is not None
    draft = notices.create_prepared_notification(
        template_id=seeded.template,
        subject="Planned maintenance",
        body_text="Work on ZAYO-0001",
        contact_ids=list(seeded.contacts.values()),
        maintenance_id=maintenance.id,
    )
    return Draft(client, notices, draft.id, seeded.template, list(seeded.contacts.values()))


def _approve_and_receive_one_hook(draft: Draft, receiver: WebhookReceiver, netbox: RunningNetBox) -> float:
    """PATCH draft → ready; exactly one signed `ready` event arrives. Returns the delivery time in seconds."""
    already = len(receiver.received)  # a created draft matches no rule: nothing is expected from it
    approved = time.monotonic()
    draft.notices.transition(draft.notification_id, NotificationStatus.READY, message="approved by test")
    hooks = receiver.wait_for(already + 1, DELIVERY_TIMEOUT)[already:]
    delivery = time.monotonic() - approved
    assert hooks, f"no webhook within {DELIVERY_TIMEOUT:.0f}s; RQ worker log:\n{worker_log(netbox)}"
    assert receiver.wait_for(already + 2, EXTRA_WAIT)[already:] == hooks  # exactly one
    _assert_signed_ready_event(hooks[0], draft.notification_id)
    return delivery


def _assert_signed_ready_event(hook: ReceivedHook, notification_id: int) -> None:
    assert (hook.method, hook.path) == ("POST", "/hook")
    assert hook.headers["Content-Type"] == "application/json"
    expected = hmac.new(SECRET.encode(), hook.body, hashlib.sha512).hexdigest()
    assert hook.headers["X-Hook-Signature"] == expected
    payload = json.loads(hook.body)
    assert payload["event"] == "updated"
    assert payload["object_type"] == "notices.preparednotification"
    assert "model" not in payload  # removed in NetBox 4.5
    assert payload["data"]["id"] == notification_id
    assert payload["data"]["status"] == "ready"  # the plugin's choices are plain strings
    assert payload["snapshots"]["prechange"]["status"] == "draft"


def test_ready_notification_fires_one_signed_webhook(
    clean_netbox: RunningNetBox, receiver: WebhookReceiver
) -> None:
    _approve_and_receive_one_hook(_draft_with_webhook(clean_netbox, receiver), receiver, clean_netbox)


def test_webhooks_still_fire_after_a_reset(clean_netbox: RunningNetBox, receiver: WebhookReceiver) -> None:
    _approve_and_receive_one_hook(_draft_with_webhook(clean_netbox, receiver), receiver, clean_netbox)
    clean_netbox.reset()
    _approve_and_receive_one_hook(_draft_with_webhook(clean_netbox, receiver), receiver, clean_netbox)


def test_a_worker_that_died_is_started_again_by_the_next_reset(
    clean_netbox: RunningNetBox, receiver: WebhookReceiver
) -> None:
    """The worker dies when it reaches for the database while a reset has it dropped; the reset that
    follows starts a new one, and webhooks flow again."""
    died = clean_netbox.worker
    os.killpg(died.pid, signal.SIGKILL)  # the worker and any job it had forked
    died.wait(timeout=10)
    clean_netbox.reset()
    assert clean_netbox.worker is not died and clean_netbox.worker.poll() is None
    _approve_and_receive_one_hook(_draft_with_webhook(clean_netbox, receiver), receiver, clean_netbox)


def test_a_webhook_is_not_held_back_by_a_bulk_write(
    clean_netbox: RunningNetBox, receiver: WebhookReceiver
) -> None:
    """300 contacts queue 300 search-index jobs (~30 s of the worker's time); the webhook goes first."""
    draft = _draft_with_webhook(clean_netbox, receiver)
    draft.client.post(CONTACTS, [{"name": f"Bulk {n:03}"} for n in range(300)])
    assert _approve_and_receive_one_hook(draft, receiver, clean_netbox) < 5.0


def test_editing_a_ready_notification_fires_nothing_approving_one_fires_once(
    clean_netbox: RunningNetBox, receiver: WebhookReceiver
) -> None:
    edited = _draft_with_webhook(clean_netbox, receiver)
    [rule] = edited.client.get("/api/extras/event-rules/")["results"]
    assert rule["conditions"] == READY_CHANGE
    _approve_and_receive_one_hook(edited, receiver, clean_netbox)
    seen = len(receiver.received)
    edited.client.patch(f"{PLUGIN}/prepared-notifications/{edited.notification_id}/", {"subject": "Edited"})
    # A second draft approved after the edit: its webhook is queued behind any the edit caused, and the one
    # RQ worker delivers them in order, so once it is here, the edit's would have been too.
    second = edited.notices.create_prepared_notification(
        template_id=edited.template, subject="Second", body_text="b", contact_ids=edited.contact_ids
    )
    _approve_and_receive_one_hook(Draft(edited.client, edited.notices, second.id), receiver, clean_netbox)
    assert len(receiver.received) == seen + 1


def test_the_condition_for_45_and_46_fires_again_on_an_edit(
    clean_netbox: RunningNetBox, receiver: WebhookReceiver
) -> None:
    """Why 4.7 gets the `changed` condition: without it, each edit of a ready notification calls outbound."""
    draft = _draft_with_webhook(clean_netbox, receiver)
    [rule] = draft.client.get("/api/extras/event-rules/")["results"]
    draft.client.patch(f"/api/extras/event-rules/{rule['id']}/", {"conditions": READY_STATE})
    _approve_and_receive_one_hook(draft, receiver, clean_netbox)
    seen = len(receiver.received)

    draft.client.patch(f"{PLUGIN}/prepared-notifications/{draft.notification_id}/", {"subject": "Edited"})

    [edit] = receiver.wait_for(seen + 1, DELIVERY_TIMEOUT)[seen:]
    payload = json.loads(edit.body)
    assert payload["data"]["subject"] == "Edited"
    assert (
        payload["snapshots"]["prechange"]["status"] == payload["snapshots"]["postchange"]["status"] == "ready"
    )
