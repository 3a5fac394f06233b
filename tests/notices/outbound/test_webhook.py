"""The webhook: NetBox's own signed webhook, on a real port through the HTTP API, sends the notification
that went `ready`; forged, missing and replayed-with-another-body signatures get 403 and send nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from sesflow.local.http_api import HttpApi, Route, api_event
from sesflow.local.netbox.seed import seed_ready_webhook
from sesflow.netbox.records import NotificationStatus
from sesflow.notices.outbound.webhook import WEBHOOK_PATH, WebhookAnswer, resolver_for, webhook_resolver

from ...netbox.webhook_receiver import worker_log
from .conftest import SECRET, Outbound, sent_mails, sent_notification_ids

DELIVERY_TIMEOUT = 20.0


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def payload(notification_id: int, **extra: Any) -> bytes:
    """A NetBox 4.7 event body: `object_type`, no `model`, the plugin's status a plain string."""
    return json.dumps(
        {
            "event": "updated",
            "timestamp": "2026-11-23T21:00:00+00:00",
            "object_type": "notices.preparednotification",
            "data": {"id": notification_id, "status": "ready"},
            "snapshots": {"prechange": {"status": "draft"}, "postchange": {"status": "ready"}},
            **extra,
        }
    ).encode()


# --- the resolver alone (no NetBox): what is answered before anything is sent -----------------------------


class Recorder:
    def __init__(self) -> None:
        self.sent: list[int] = []

    def __call__(self, notification_id: int) -> WebhookAnswer:
        self.sent.append(notification_id)
        return WebhookAnswer(notification_id, "sent")


def call(
    secret: str | None,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = WEBHOOK_PATH,
    base64_body: bool = False,
) -> tuple[int, list[int]]:
    recorder = Recorder()
    event = api_event(method, path, {"content-type": "application/json", **(headers or {})}, body)
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    answer = webhook_resolver(secret, recorder).resolve(event, None)  # type: ignore[arg-type]
    return int(answer["statusCode"]), recorder.sent


@pytest.mark.unit
def test_signed_event_is_sent() -> None:
    body = payload(7)
    assert call(SECRET, body, headers={"X-Hook-Signature": sign(body)}) == (202, [7])


@pytest.mark.unit
def test_base64_body_is_verified_on_its_decoded_bytes() -> None:
    body = payload(8)
    assert call(SECRET, body, headers={"x-hook-signature": sign(body)}, base64_body=True) == (202, [8])


@pytest.mark.unit
@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Hook-Signature": ""}, {"X-Hook-Signature": "0" * 128}, {"X-Hook-Signature": sign(b"{}")}],
    ids=["missing", "empty", "forged", "other-body"],
)
def test_bad_signature_is_forbidden_before_the_body_is_read(headers: dict[str, str]) -> None:
    assert call(SECRET, payload(7), headers=headers) == (403, [])
    assert call(SECRET, b"not json", headers=headers) == (403, [])


@pytest.mark.unit
def test_signature_with_another_secret_is_forbidden() -> None:
    body = payload(7)
    assert call(SECRET, body, headers={"X-Hook-Signature": sign(body, "other")}) == (403, [])


@pytest.mark.unit
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1]",
        json.dumps({"event": "updated", "object_type": "dcim.site", "data": {"id": 1}}).encode(),
        json.dumps(
            {"event": "deleted", "object_type": "notices.preparednotification", "data": {"id": 1}}
        ).encode(),
        json.dumps({"event": "updated", "object_type": "notices.preparednotification", "data": {}}).encode(),
        json.dumps(
            {"event": "updated", "object_type": "notices.preparednotification", "data": {"id": "1"}}
        ).encode(),
    ],
    ids=["not-json", "not-object", "other-type", "deleted", "no-id", "string-id"],
)
def test_signed_body_that_is_no_notification_event_is_a_bad_request(body: bytes) -> None:
    assert call(SECRET, body, headers={"X-Hook-Signature": sign(body)}) == (400, [])


@pytest.mark.unit
def test_older_payload_with_model_and_status_dict_is_accepted() -> None:
    body = json.dumps(
        {"event": "updated", "model": "preparednotification", "data": {"id": 9, "status": {"value": "ready"}}}
    ).encode()
    assert call(SECRET, body, headers={"X-Hook-Signature": sign(body)}) == (202, [9])


@pytest.mark.unit
def test_wrong_path_and_method_are_not_found_and_not_allowed() -> None:
    body = payload(7)
    signed = {"X-Hook-Signature": sign(body)}
    assert call(SECRET, body, headers=signed, path="/webhook/other") == (404, [])
    assert call(SECRET, body, headers=signed, method="GET") == (405, [])
    assert call(SECRET, body, headers=signed, method="PUT") == (405, [])


@pytest.mark.unit
def test_without_a_secret_the_webhook_does_not_exist() -> None:
    body = payload(7)
    assert call(None, body, headers={"X-Hook-Signature": sign(body)}) == (404, [])


# --- NetBox's own webhook to a real port --------------------------------------------------------------------


@pytest.fixture
def api(outbound: Outbound) -> Iterator[HttpApi]:
    handler = resolver_for(outbound.deps()).resolve
    running = HttpApi(
        [Route("POST", WEBHOOK_PATH, handler), Route("GET", WEBHOOK_PATH, handler)]  # type: ignore[arg-type]
    )
    running.start()
    yield running
    running.stop()


def wait_for_mails(count: int, timeout: float = DELIVERY_TIMEOUT) -> int:
    deadline = time.monotonic() + timeout
    while len(sent_mails()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(sent_mails())


@pytest.mark.netbox
@pytest.mark.integration
def test_netbox_webhook_on_ready_sends_the_notification(outbound: Outbound, api: HttpApi) -> None:
    seed_ready_webhook(outbound.client, f"{api.url}{WEBHOOK_PATH}", SECRET)
    assert outbound.seeded.template is not None
    draft = outbound.notices.create_prepared_notification(
        template_id=outbound.seeded.template,
        subject="Planned maintenance",
        body_text="Work on ZAYO-0001",
        contact_ids=list(outbound.seeded.contacts.values()),
    )
    assert wait_for_mails(1, timeout=0.5) == 0  # a draft is not sent

    outbound.notices.transition(draft.id, NotificationStatus.READY)

    mails = wait_for_mails(1)
    assert mails == 1, f"{api.requests_served} webhook requests served;\n{worker_log(outbound.server)}"
    assert sent_notification_ids() == [draft.id]
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while outbound.status(draft.id) != "sent" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbound.status(draft.id) == "sent"
    assert sent_mails()[0].id in outbound.journal(draft.id)
    assert wait_for_mails(2, timeout=1.0) == 1  # the `sent` update matches no rule: nothing more


@pytest.mark.netbox
@pytest.mark.integration
def test_forged_missing_and_replayed_signatures_are_refused_over_http(
    outbound: Outbound, api: HttpApi
) -> None:
    [notification_id] = outbound.ready()
    http = urllib3.PoolManager()
    url = f"{api.url}{WEBHOOK_PATH}"
    genuine = payload(notification_id - 1000)
    replayed = payload(notification_id)  # the genuine signature over a body naming another notification
    for headers, body in [
        ({}, replayed),
        ({"X-Hook-Signature": "f" * 128}, replayed),
        ({"X-Hook-Signature": sign(genuine)}, replayed),
        ({"X-Hook-Signature": sign(replayed, "guessed-secret")}, replayed),
    ]:
        answer = http.request("POST", url, body=body, headers={"Content-Type": "application/json", **headers})
        assert answer.status == 403
        assert answer.data in {b"{}", b""}  # no detail
    assert http.request("GET", url).status == 405
    assert sent_mails() == []
    assert outbound.status(notification_id) == "ready"

    answer = http.request(
        "POST",
        url,
        body=replayed,
        headers={"Content-Type": "application/json", "X-Hook-Signature": sign(replayed)},
    )
    assert answer.status == 202
    assert json.loads(answer.data) == {"notification_id": notification_id, "result": "sent"}
    answer = http.request(  # the same signed delivery again: the claim says it is done
        "POST",
        url,
        body=replayed,
        headers={"Content-Type": "application/json", "X-Hook-Signature": sign(replayed)},
    )
    assert answer.status == 202
    assert json.loads(answer.data)["result"] in {"not_ready", "done"}
    assert len(sent_mails()) == 1
