"""Campaign 4: the fields sesflow copies — a device's subject and filenames, a NetBox notification's subject,
headers and CSS — cannot add a header or a recipient, cannot put active markup into an HTML body, cannot
move an attachment out of its prefix; the relay never sends outside ALLOWED_RECIPIENT_DOMAINS; and no
body or attachment content reaches a log, a fallback notice or an SES event."""

from __future__ import annotations

import base64
import time

import pytest

from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.errors import NetBoxError
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus

from .checks import (
    active_markup,
    attachment_keys,
    canary_sightings,
    everything_said,
    html_bodies,
    key_problems,
    parsed,
    relayed_mail_problems,
)
from .conftest import ALLOWED_DOMAIN, CANARY, Campaign, SmtpSession, table, wait_until, write_table

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netbox,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

DEVICE = "injector@iot.example.com"
VICTIM = "victim@attacker.example.org"
HOSTILE_NAMES = [
    "<script>alert(1)</script>.txt",
    '"><img src=x onerror=alert(1)>.pdf',
    "<svg/onload=alert(1)>.svg",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "a\r\nBcc: " + VICTIM + ".txt",
]


def device_mail(subject: bytes, listed: str, names: list[str], canary: str) -> bytes:
    parts = [
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nReadings.\r\nEmail_Rxers_Code:["
        + listed.encode()
        + b"]:Email_Rxers_Code:\r\n"
        + canary.encode()
        + b" body\r\n"
    ]
    for name in names:
        encoded = base64.b64encode(name.encode()).decode()
        parts.append(
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            + f'Content-Disposition: attachment; filename="=?utf-8?b?{encoded}?="\r\n\r\n'.encode()
            + base64.b64encode(f"{canary} attachment {name}".encode())
        )
    body = b"".join(b"--m\r\n" + part + b"\r\n" for part in parts) + b"--m--\r\n"
    return (
        f"From: Device <{DEVICE}>\r\nSubject: ".encode()
        + subject
        + b'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        + body
    )


def relay_one(campaign: Campaign, raw: bytes) -> tuple[str, dict[str, object]]:
    session = SmtpSession(campaign.stack)
    try:
        code, message_id = session.send(raw, DEVICE, [campaign.stack.options.relay_address])
    finally:
        session.close()
    assert code == 250, message_id
    assert wait_until(lambda: message_id in campaign.relay_outcomes(), timeout=60)
    return message_id, campaign.relay_outcomes()[message_id]


def test_device_fields_cannot_inject_headers_recipients_or_markup(campaign: Campaign) -> None:
    canary = f"{CANARY}inj1x"
    subject = b"=?utf-8?q?Readings=0D=0ABcc:_" + VICTIM.encode() + b"=0D=0A=0D=0A<script>alert(1)</script>?="
    raw = device_mail(subject, f"ops@{ALLOWED_DOMAIN}, {VICTIM}", HOSTILE_NAMES, canary)
    message_id, outcome = relay_one(campaign, raw)

    assert outcome["outcome"] == "relayed"
    [send_id] = outcome["sends"]
    [sent] = [mail for mail in campaign.stack.outbox.delivered if mail.message_id == send_id]
    assert sent.destinations == (f"ops@{ALLOWED_DOMAIN}",)
    assert relayed_mail_problems(sent) == []
    [html] = html_bodies(sent)
    assert active_markup(html) == []
    assert "onerror=alert(1)" in html  # the hostile name is shown, as text and not as an attribute
    keys = [key for key in attachment_keys(campaign) if key.startswith(message_id + "/")]
    assert len(keys) == len(HOSTILE_NAMES)
    assert [problem for key in keys for problem in key_problems(key, {message_id})] == []
    notices = [n for n in campaign.fallback.drain() if n.get("message_id") == message_id]
    assert [n["reason"] for n in notices] == ["some_recipients_not_relayed"]
    assert notices[0]["addresses"] == [VICTIM]
    said = everything_said(campaign)
    assert {where: canary_sightings(texts) for where, texts in said.items()} == {where: [] for where in said}


#: Ways to name a recipient outside the allowlist that a sloppy domain check would let through.
OUTSIDE = [
    VICTIM,
    f"ops@{ALLOWED_DOMAIN}.attacker.example.org",
    f"ops@attacker-{ALLOWED_DOMAIN}",
    f'"ops@{ALLOWED_DOMAIN}"@attacker.example.org',
    f"ops@attacker.example.org@{ALLOWED_DOMAIN}",
    f"ops@{ALLOWED_DOMAIN.upper()}.evil",
    f"ops%{ALLOWED_DOMAIN}@attacker.example.org",
    "ops@[127.0.0.1]",
    "ops@pl\u0430nt.example.com",  # a Cyrillic a: a homograph of the allowed domain
    f"<ops@attacker.example.org> ops@{ALLOWED_DOMAIN}",
]


def test_the_relay_is_not_open(campaign: Campaign) -> None:
    rows: list[tuple[str, object]] = []
    outside_sends = []
    for number, listed in enumerate(OUTSIDE):
        raw = device_mail(b"Readings", listed, [], f"{CANARY}open{number}x")
        _, outcome = relay_one(campaign, raw)
        sent = [m for m in campaign.stack.outbox.delivered if m.message_id in outcome.get("sends", [])]
        destinations = [address for mail in sent for address in mail.destinations]
        outside_sends += [a for a in destinations if not a.lower().endswith("@" + ALLOWED_DOMAIN)]
        rows.append(
            (listed, f"{outcome['outcome']} {outcome.get('reason', '')} → {destinations or 'nobody'}")
        )
    write_table("open-relay", table("Recipients outside ALLOWED_RECIPIENT_DOMAINS", rows))
    assert outside_sends == []


def test_netbox_fields_cannot_inject_headers_recipients_or_markup(campaign: Campaign) -> None:
    stack = campaign.stack
    assert stack.netbox is not None and stack.seeded is not None and stack.seeded.template is not None
    client = NetBoxClient(stack.netbox.url, stack.netbox.token)
    notices = NoticesApi(client)
    address = "injection-target@customer.example"
    contact = client.post("/api/tenancy/contacts/", {"name": f"Target\r\nBcc: {VICTIM}", "email": address})
    notification = notices.create_prepared_notification(
        template_id=stack.seeded.template,
        subject=f"Planned work\r\nBcc: {VICTIM}",
        body_text="Planned work on your circuit.",
        body_html="<p>Planned work on your circuit.</p>",
        contact_ids=[int(contact["id"])],
    )
    hostile = {
        "headers": {
            "Bcc": VICTIM,
            "X-Evil": f"a\r\nBcc: {VICTIM}",
            "X-Campaign": "kept",
        },
        "css": "p { color: red } </style><script>alert(1)</script><style>",
    }
    try:
        client.patch(f"/api/plugins/notices/prepared-notifications/{notification.id}/", hostile)
    except NetBoxError as error:  # NetBox may refuse some values itself; that is a pass for that field
        pytest.fail(f"NetBox refused the hostile fields: {error}")
    notices.transition(notification.id, NotificationStatus.READY)  # NetBox's webhook sends it
    assert wait_until(lambda: any(address in m.destinations for m in stack.outbox.delivered), timeout=60)
    time.sleep(1.0)
    [sent] = [m for m in stack.outbox.delivered if address in m.destinations]
    message = parsed(sent)
    assert sent.destinations == (address,)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert [name for name in message if name.lower() in {"bcc", "cc"}] == []
    assert message["X-Campaign"] == "kept"  # a harmless template header is applied: the check has teeth
    assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
    for html in html_bodies(sent):
        assert active_markup(html) == [], html[:500]
