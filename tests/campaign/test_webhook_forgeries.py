"""Campaign 3: forged webhook requests against the stack's real HTTP port. A `ready` notification waits in
NetBox (NetBox's own event rule is switched off meanwhile, so nothing else sends it); every forgery names it,
and every forgery must be refused with nothing sent. Then the genuine request sends it exactly once, and a
replay of that genuine request sends nothing more."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from sesflow.local.netbox.seed import EVENT_RULES
from sesflow.netbox.client import NetBoxClient
from sesflow.netbox.notices import NoticesApi
from sesflow.netbox.records import NotificationStatus

from .conftest import FULL, Campaign, table, wait_until, write_table

pytestmark = [
    pytest.mark.integration,
    pytest.mark.netbox,
    pytest.mark.filterwarnings("ignore:No application metrics to publish"),
]

SIGNATURE = "X-Hook-Signature"
CONTACT = "forgery-target@customer.example"


@dataclass(frozen=True)
class Forgery:
    kind: str
    body: bytes
    headers: dict[str, str]
    method: str = "POST"


def netbox_event(notification_id: int, **changes: object) -> bytes:
    """A body as NetBox 4.7 sends it for a notification updated to `ready`."""
    payload: dict[str, object] = {
        "event": "updated",
        "timestamp": datetime.now(UTC).isoformat(),
        "object_type": "notices.preparednotification",
        "username": "admin",
        "request_id": "9f0d3c2e-5b1a-4c7e-8d9f-0a1b2c3d4e5f",
        "data": {"id": notification_id, "status": "ready", "subject": "Planned work"},
        "snapshots": {"prechange": {"status": "draft"}, "postchange": {"status": "ready"}},
    }
    payload.update(changes)
    return json.dumps(payload).encode()


def sign(body: bytes, secret: str, digest: str = "sha512") -> str:
    return hmac.new(secret.encode(), body, getattr(hashlib, digest)).hexdigest()


def forgeries(target: int, secret: str, old_genuine: list[tuple[bytes, str]], rounds: int) -> list[Forgery]:
    """Requests without a valid signature over their exact body, of every kind we could think of."""
    rng = random.Random(2026)
    json_type = {"Content-Type": "application/json"}
    body = netbox_event(target)
    valid = sign(body, secret)
    found: list[Forgery] = []
    for round_ in range(rounds):
        fresh = netbox_event(target, request_id=f"forged-{round_}")
        found += [
            Forgery("missing signature", fresh, json_type),
            Forgery("empty signature", fresh, json_type | {SIGNATURE: ""}),
            Forgery("signature in another header", fresh, json_type | {"X-Signature": sign(fresh, secret)}),
            Forgery(
                "truncated signature",
                fresh,
                json_type | {SIGNATURE: sign(fresh, secret)[: rng.randrange(1, 128)]},
            ),
            Forgery("other secret", fresh, json_type | {SIGNATURE: sign(fresh, f"guess-{rng.random()}")}),
            Forgery(
                "secret with a trailing newline", fresh, json_type | {SIGNATURE: sign(fresh, secret + "\n")}
            ),
            Forgery("empty secret", fresh, json_type | {SIGNATURE: sign(fresh, "")}),
            Forgery("sha256 with the secret", fresh, json_type | {SIGNATURE: sign(fresh, secret, "sha256")}),
            Forgery(
                "prefixed signature", fresh, json_type | {SIGNATURE: "sha512=" + sign(fresh, secret)[:100]}
            ),
            Forgery(
                "body changed after signing: id",
                netbox_event(target + 1000 + round_),
                json_type | {SIGNATURE: valid},
            ),
            Forgery("body changed after signing: whitespace", body + b" ", json_type | {SIGNATURE: valid}),
            Forgery(
                "body changed after signing: field", body[:-1] + b', "x": 1}', json_type | {SIGNATURE: valid}
            ),
            Forgery(
                "body changed after signing: one byte",
                _flip(body, rng),
                json_type | {SIGNATURE: valid},
            ),
            Forgery("non-hex signature", fresh, json_type | {SIGNATURE: "z" * 128}),
            Forgery(
                "form-encoded body, JSON's signature",
                b"payload=" + fresh,
                {"Content-Type": "application/x-www-form-urlencoded", SIGNATURE: sign(fresh, secret)},
            ),
            Forgery("text/plain, no signature", fresh, {"Content-Type": "text/plain"}),
            Forgery(
                "multipart body, JSON's signature",
                _multipart(fresh),
                {"Content-Type": "multipart/form-data; boundary=f", SIGNATURE: sign(fresh, secret)},
            ),
        ]
        if old_genuine:
            old_body, old_signature = old_genuine[round_ % len(old_genuine)]
            replayed = json.loads(old_body)
            replayed["data"]["id"] = target
            found.append(
                Forgery(
                    "old valid request replayed with a changed body",
                    json.dumps(replayed).encode(),
                    json_type | {SIGNATURE: old_signature},
                )
            )
    huge = (
        b'{"event": "updated", "object_type": "notices.preparednotification", "data": {"id": %d}, "pad": "'
        % target
    )
    huge += b"x" * (6 * 1024 * 1024) + b'"}'
    found += [
        Forgery("huge body, bad signature", huge, json_type | {SIGNATURE: "0" * 128}),
        Forgery("huge body, the small body's signature", huge, json_type | {SIGNATURE: valid}),
        Forgery("GET with a valid signature", body, json_type | {SIGNATURE: valid}, method="GET"),
        Forgery("PUT with a valid signature", body, json_type | {SIGNATURE: valid}, method="PUT"),
    ]
    return found


def _flip(body: bytes, rng: random.Random) -> bytes:
    data = bytearray(body)
    spot = rng.randrange(len(data))
    data[spot] = (data[spot] + 1) % 256
    return bytes(data)


def _multipart(body: bytes) -> bytes:
    return b'--f\r\nContent-Disposition: form-data; name="payload"\r\n\r\n' + body + b"\r\n--f--\r\n"


def post(url: str, forgery: Forgery) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    try:
        connection.request(forgery.method, parts.path, body=forgery.body, headers=forgery.headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.fixture
def netbox_rule_off(campaign: Campaign) -> Iterator[NetBoxClient]:
    """NetBox's own `ready` webhook switched off: the forged requests are the only ones the route sees."""
    assert campaign.stack.netbox is not None
    client = NetBoxClient(campaign.stack.netbox.url, campaign.stack.netbox.token)
    rules = [rule for rule in client.get(EVENT_RULES)["results"] if rule["enabled"]]
    for rule in rules:
        client.patch(f"{EVENT_RULES}{rule['id']}/", {"enabled": False})
    yield client
    for rule in rules:
        client.patch(f"{EVENT_RULES}{rule['id']}/", {"enabled": True})


def test_forged_webhook_requests_are_all_refused_and_send_nothing(
    campaign: Campaign, netbox_rule_off: NetBoxClient
) -> None:
    stack = campaign.stack
    assert stack.seeded is not None and stack.seeded.template is not None
    notices = NoticesApi(netbox_rule_off)
    contact = netbox_rule_off.post("/api/tenancy/contacts/", {"name": "forgery target", "email": CONTACT})
    notification = notices.create_prepared_notification(
        template_id=stack.seeded.template,
        subject="Planned work (forgery target)",
        body_text="Planned work on your circuit.",
        contact_ids=[int(contact["id"])],
    )
    notices.transition(notification.id, NotificationStatus.READY)
    secret = stack.options.webhook_secret
    # Genuine requests NetBox sent earlier for other notifications, kept by someone who wants to reuse them.
    others = range(notification.id + 1, notification.id + 6)
    old_genuine = [(body, sign(body, secret)) for body in (netbox_event(n) for n in others)]
    forged = forgeries(notification.id, secret, old_genuine, rounds=20 if FULL else 12)
    assert len(forged) >= 200

    sent_before = len(stack.outbox.delivered)
    statuses: Counter[str] = Counter()
    accepted: list[str] = []
    started = time.monotonic()
    for forgery in forged:
        status, answer = post(stack.webhook_url, forgery)
        statuses[f"{forgery.kind}: {status}"] += 1
        if 200 <= status < 300:
            accepted.append(f"{forgery.kind}: {status} {answer[:100]!r}")
    forged_in = time.monotonic() - started
    # Anything a forgery set off would be in the outbox by now.
    time.sleep(1.0)
    forged_sends = len(stack.outbox.delivered) - sent_before
    still_ready = notices.get_prepared_notification(notification.id).status == NotificationStatus.READY

    # The control: NetBox's genuine request is served, sends once, and its replay sends nothing more.
    genuine = Forgery("genuine", netbox_event(notification.id), {"Content-Type": "application/json"})
    genuine = Forgery("genuine", genuine.body, genuine.headers | {SIGNATURE: sign(genuine.body, secret)})
    genuine_status, genuine_answer = post(stack.webhook_url, genuine)
    delivered = wait_until(lambda: any(CONTACT in m.destinations for m in stack.outbox.delivered), timeout=30)
    replay_status, _ = post(stack.webhook_url, genuine)
    time.sleep(1.0)
    to_target = sum(CONTACT in m.destinations for m in stack.outbox.delivered)

    kinds = Counter(forgery.kind for forgery in forged)
    by_status = Counter(key.rpartition(": ")[2] for key in statuses.elements())
    write_table(
        "webhook-forgeries",
        table(
            "Forged webhook requests against the HTTP API",
            [
                ("forgeries", f"{len(forged)} of {len(kinds)} kinds"),
                ("answers", dict(sorted(by_status.items()))),
                ("accepted (2xx)", len(accepted)),
                ("sends while forging", forged_sends),
                ("notification still ready after", still_ready),
                (
                    "genuine request / its replay",
                    f"{genuine_status} {genuine_answer.decode()} / {replay_status}",
                ),
                ("mails to the target in the end", to_target),
                ("forged in (s)", f"{forged_in:.1f}"),
            ],
        ),
    )
    assert not accepted, accepted[:5]
    assert forged_sends == 0 and still_ready
    assert genuine_status == 202 and json.loads(genuine_answer)["result"] == "sent", genuine_answer
    assert delivered and to_target == 1
    assert replay_status == 202
