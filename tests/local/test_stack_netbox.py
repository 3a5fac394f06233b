"""The local stack with the real NetBox + netbox-notices: provider notices mailed over SMTP end as NetBox
objects, and NetBox's own webhook drives a prepared notification to `delivered` (or `failed`)."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes, policy
from email.utils import parseaddr

import pytest

from sesflow.local.netbox import RunningNetBox
from sesflow.local.smtp_ingress import IngressSettings
from sesflow.local.stack import NetBoxTarget, Stack, StackOptions, start_stack
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus

from ..conftest import CORPUS
from ..netbox.conftest import netbox  # noqa: F401 - the session's real NetBox
from .conftest import CREDENTIALS, submit, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netbox,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, netbox: RunningNetBox) -> Iterator[Stack]:  # noqa: F811
    netbox.reset()  # once: the stack seeds providers, circuits and the webhook, and the tests share them
    options = StackOptions(
        workdir=tmp_path_factory.mktemp("stack"),
        smtp=IngressSettings(credentials=CREDENTIALS),
        netbox=NetBoxTarget(netbox.url, netbox.tokens.admin),
        outbound_poll_seconds=3600,  # the webhook must do it alone
        log_level="WARNING",
    )
    running = start_stack(options)
    yield running
    running.stop()


def client_for(stack: Stack) -> NetBoxClient:
    assert stack.netbox is not None
    return NetBoxClient(stack.netbox.url, stack.netbox.token)


def test_a_provider_notice_mailed_over_smtp_ends_in_netbox(stack: Stack) -> None:
    raw = (CORPUS / "zayo" / "zayo4.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    sender = parseaddr(str(message_from_bytes(raw, policy=policy.default)["From"]))[1]
    before = len(stack.inbound.results)
    message_id = submit(stack, raw, sender, stack.options.notices_address)
    assert stack.inbound.wait_idle(60)
    [result] = stack.inbound.results[before:]
    assert result == {"results": [{"message_id": message_id, "result": "applied"}]}
    client = client_for(stack)
    [maintenance] = client.get("/api/plugins/notices/maintenance/", {"provider": "zayo"})["results"]
    assert maintenance["name"] == "TTN-0002345678"
    impacts = client.get("/api/plugins/notices/impact/", {"event_id": maintenance["id"]})["results"]
    assert impacts
    stored = client.get("/api/plugins/notices/eventnotification/", None)["results"]
    assert any(item["email_from"] == sender for item in stored)


@pytest.mark.parametrize(
    ("address", "final"),
    [
        ("noc@customer.example", NotificationStatus.DELIVERED),
        ("bounce@simulator.amazonses.com", NotificationStatus.FAILED),
    ],
)
def test_netbox_webhook_drives_a_notification_to_its_ses_outcome(
    stack: Stack, address: str, final: NotificationStatus
) -> None:
    assert stack.seeded is not None and stack.seeded.template is not None
    client = client_for(stack)
    notices = NoticesApi(client)
    contact = client.post("/api/tenancy/contacts/", {"name": address, "email": address})
    notification = notices.create_prepared_notification(
        template_id=stack.seeded.template,
        subject=f"Planned work for {address}",
        body_text="Planned work on your circuit, 02:00-04:00 UTC.",
        contact_ids=[int(contact["id"])],
    )
    notices.transition(notification.id, NotificationStatus.READY)
    reached = wait_for(
        lambda: True if notices.get_prepared_notification(notification.id).status == final else None,
        timeout=60,
        every=0.5,
    )
    assert reached, notices.get_prepared_notification(notification.id).status
    sent = [m for m in stack.outbox.delivered if address in m.destinations]
    assert len(sent) == 1  # webhook and any retry together: one mail
    assert sent[0].tags.get("notification_id") == str(notification.id)
    assert stack.api.requests_served >= 1
