"""Storing attachments on real S3 (SeaweedFS): several attachments are decoded and sent at the same time,
and still land whole, in document order; an upload that fails fails the mail, leaves no half-written
object behind, and nothing is sent until every attachment is stored."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sesflow.aws.store import MIN_PART_SIZE, ObjectStore
from sesflow.local.seaweedfs import SeaweedS3
from sesflow.mail import parse_mail
from sesflow.relay.distribute import Relayed, process_message
from sesflow.relay.offload import AttachmentTarget, offload_attachments

from .conftest import RelayWorld, drop_bucket

pytestmark = pytest.mark.integration

PART = MIN_PART_SIZE  # a small part size, so that a few MB already go up in several parts


def device_mail(*payloads: bytes) -> bytes:
    lines = [
        b"From: sensor-gw@iot.example.com",
        b"Subject: dumps",
        b'Content-Type: multipart/mixed; boundary="b"',
        b"",
        b"--b",
        b"Content-Type: text/plain",
        b"",
        b"Email_Rxers_Code:[ops@example.com]:Email_Rxers_Code:",
    ]
    for number, payload in enumerate(payloads, start=1):
        lines += [
            b"--b",
            b"Content-Type: application/octet-stream",
            b"Content-Transfer-Encoding: base64",
            b'Content-Disposition: attachment; filename="dump-%d.bin"' % number,
            b"",
            base64.encodebytes(payload).replace(b"\n", b"\r\n").rstrip(b"\r\n"),
        ]
    lines.append(b"--b--")
    return b"\r\n".join(lines) + b"\r\n"


def fail_uploads_of(store: ObjectStore, key_suffix: str) -> Callable[[], None]:
    """Every write (part or whole object) of a key ending in `key_suffix` fails as a 503 would, until the
    returned function is called."""

    def fail(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].endswith(key_suffix):
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}}, "UploadPart")

    events = [f"before-parameter-build.s3.{operation}" for operation in ("UploadPart", "PutObject")]
    for event in events:
        store.s3.meta.events.register(event, fail)

    def heal() -> None:
        for event in events:
            store.s3.meta.events.unregister(event, fail)

    return heal


@pytest.fixture
def bucket(seaweed: SeaweedS3) -> Iterator[tuple[ObjectStore, str]]:
    s3 = seaweed.clients()
    name = f"att-{uuid.uuid4().hex[:10]}"
    s3.s3.create_bucket(Bucket=name)
    yield ObjectStore(s3.s3, part_size=PART), name
    drop_bucket(s3, name)


def object_bytes(store: ObjectStore, bucket: str, key: str) -> bytes:
    return store.s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.mark.parametrize("workers", [1, 3])
def test_attachments_land_whole_and_in_document_order(bucket: tuple[ObjectStore, str], workers: int) -> None:
    store, name = bucket
    payloads = [os.urandom(2 * PART + 12_345), b"small", os.urandom(PART + 1), os.urandom(300_000)]
    mail = parse_mail(device_mail(*payloads))
    result = offload_attachments(
        mail, store, AttachmentTarget(name, "m1", "incoming/m1"), max_inline_bytes=0, workers=workers
    )
    assert [stored.key for stored in result.stored] == [f"m1/{n}-dump-{n}.bin" for n in range(1, 5)]
    assert [stored.size for stored in result.stored] == [len(payload) for payload in payloads]
    assert [object_bytes(store, name, stored.key) for stored in result.stored] == payloads


def test_a_failed_upload_raises_and_leaves_no_half_written_object(bucket: tuple[ObjectStore, str]) -> None:
    store, name = bucket
    payloads = [os.urandom(2 * PART), os.urandom(2 * PART), os.urandom(2 * PART)]
    fail_uploads_of(store, "2-dump-2.bin")
    mail = parse_mail(device_mail(*payloads))
    with pytest.raises(ClientError, match="injected"):
        offload_attachments(
            mail, store, AttachmentTarget(name, "m2", "incoming/m2"), max_inline_bytes=0, workers=2
        )
    assert not store.exists(name, "m2/2-dump-2.bin")
    assert store.s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_mail_with_a_failed_upload_is_not_sent_and_is_relayed_whole_on_retry(world: RelayWorld) -> None:
    payloads = [os.urandom(PART + 1), os.urandom(PART + 2), os.urandom(1_000)]
    body = world.s3_event(world.put_mail(device_mail(*payloads)))
    heal = fail_uploads_of(world.deps.store, "3-dump-3.bin")
    with pytest.raises(ClientError, match="injected"):
        process_message(body, world.deps)
    assert world.sent() == []
    assert world.fallback_notices() == []  # a transient failure: SQS retries, no notice

    heal()
    [outcome] = process_message(body, world.deps)
    assert isinstance(outcome, Relayed)
    assert outcome.attachments == 3
    assert len(world.sent()) == 1
    stored = sorted(world.deps.store.list_keys(world.attachments))
    assert [object_bytes(world.deps.store, world.attachments, key) for key in stored] == payloads
