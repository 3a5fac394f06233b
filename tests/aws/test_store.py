"""The object store against real S3 servers: SeaweedFS checks signatures and expiry, moto the API."""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from sesflow.aws.clients import AwsClients
from sesflow.aws.store import (
    MIB,
    ObjectMissing,
    ObjectStore,
    ObjectUnreadable,
    PresignExpiryError,
    encode_metadata,
)
from sesflow.local.seaweedfs import SeaweedS3

pytestmark = pytest.mark.integration


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def bucket(seaweed: SeaweedS3) -> str:
    name = f"att-{uuid.uuid4().hex[:12]}"
    seaweed.clients().s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def store(seaweed: SeaweedS3) -> ObjectStore:
    return ObjectStore(seaweed.clients().s3)


def test_presigned_link_serves_the_object(store: ObjectStore, bucket: str) -> None:
    store.upload(bucket, "m1/1-report.csv", io.BytesIO(b"a,b\n1,2\n"), content_type="text/csv")
    status, body = fetch(store.presign_get(bucket, "m1/1-report.csv", 60))
    assert (status, body) == (200, b"a,b\n1,2\n")


def test_presigned_link_is_sigv4_with_its_expiry(store: ObjectStore, bucket: str) -> None:
    query = parse_qs(urlsplit(store.presign_get(bucket, "k", timedelta(hours=36))).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["129600"]
    assert "AWSAccessKeyId" not in query and "Signature" not in query


def test_presigned_link_is_refused_after_expiry(store: ObjectStore, bucket: str) -> None:
    store.upload(bucket, "short", io.BytesIO(b"soon gone"))
    url = store.presign_get(bucket, "short", 1)
    assert fetch(url)[0] == 200
    time.sleep(2.1)
    assert fetch(url)[0] == 403


def test_tampered_link_is_refused(store: ObjectStore, bucket: str) -> None:
    store.upload(bucket, "secret", io.BytesIO(b"x"))
    url = store.presign_get(bucket, "secret", 60)
    assert fetch(url.replace("/secret?", "/other?"))[0] == 403
    signature = parse_qs(urlsplit(url).query)["X-Amz-Signature"][0]
    assert fetch(url.replace(signature, signature[::-1]))[0] == 403


def test_deleting_the_object_revokes_its_links(store: ObjectStore, bucket: str) -> None:
    store.upload(bucket, "revoked", io.BytesIO(b"private"))
    url = store.presign_get(bucket, "revoked", 600)
    assert fetch(url) == (200, b"private")
    store.delete(bucket, "revoked")
    # AWS answers 403 here when the signer may not list the bucket; SeaweedFS always answers 404.
    status, body = fetch(url)
    assert status in {403, 404}
    assert b"private" not in body


@pytest.mark.parametrize("seconds", [0, -5, 604_801, 10**9])
def test_presign_expiry_outside_sigv4_range_is_refused(store: ObjectStore, seconds: int) -> None:
    with pytest.raises(PresignExpiryError, match="1 to 604800 seconds"):
        store.presign_get("b", "k", seconds)


def test_seven_days_is_the_longest_link(store: ObjectStore) -> None:
    url = store.presign_get("b", "k", timedelta(days=7))
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["604800"]


def test_store_refuses_a_sigv2_client() -> None:
    sigv2 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3"))
    with pytest.raises(ValueError, match="s3v4"):
        ObjectStore(sigv2)


def test_default_clients_sign_s3_with_sigv4(aws: AwsClients) -> None:
    url = ObjectStore(aws.s3).presign_get("b", "k", 60)
    assert "X-Amz-Signature=" in url and "&Signature=" not in url


def test_large_upload_goes_multipart_and_round_trips(store: ObjectStore, bucket: str) -> None:
    payload = bytes(range(256)) * (12 * MIB // 256 + 7)
    store.part_size = 5 * MIB
    with store.writer(bucket, "big.bin", content_type="application/pdf", metadata={"n": "1"}) as sink:
        for start in range(0, len(payload), 300_000):
            sink.write(payload[start : start + 300_000])
    head = store.s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 5 + 5 + the rest
    assert head["ContentType"] == "application/pdf"
    opened = store.open(bucket, "big.bin")
    assert opened.size == len(payload)
    assert opened.body.read() == payload


def test_small_upload_is_one_put_with_metadata(store: ObjectStore, bucket: str) -> None:
    info = store.upload(
        bucket,
        "m/1-résumé.txt",
        io.BytesIO(b"hello"),
        content_type="text/plain",
        metadata={"original-filename": "résumé.txt", "source-key": "incoming/abc"},
        content_disposition='attachment; filename="resume.txt"',
    )
    assert info.size == 5 and "-" not in info.etag.strip('"')
    opened = store.open(bucket, "m/1-résumé.txt")
    assert opened.metadata == encode_metadata(
        {"original-filename": "résumé.txt", "source-key": "incoming/abc"}
    )
    assert opened.metadata["original-filename"] == "=?UTF-8?B?csOpc3Vtw6kudHh0?="
    assert opened.body.read() == b"hello"


def test_failed_write_leaves_no_object_and_no_parts(store: ObjectStore, bucket: str) -> None:
    store.part_size = 5 * MIB
    with pytest.raises(RuntimeError, match="decoder broke"), store.writer(bucket, "half") as sink:
        sink.write(b"\0" * (6 * MIB))
        raise RuntimeError("decoder broke")
    assert list(store.list_keys(bucket)) == []
    assert store.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_missing_object_is_reported_as_missing_not_as_an_aws_error(store: ObjectStore, bucket: str) -> None:
    with pytest.raises(ObjectMissing, match="does not exist") as missing:
        store.open(bucket, "incoming/gone")
    assert (missing.value.bucket, missing.value.key) == (bucket, "incoming/gone")
    assert not store.exists(bucket, "incoming/gone")
    with pytest.raises(ObjectUnreadable) as unreadable:
        store.read_start(bucket, "incoming/gone", 10)
    assert unreadable.value.code == "NoSuchKey"


def test_read_start_reads_only_the_first_bytes(store: ObjectStore, bucket: str) -> None:
    store.upload(bucket, "mail", io.BytesIO(b"From: a@b.example\r\n\r\nbody"))
    assert store.read_start(bucket, "mail", 7) == b"From: a"
    assert store.read_start(bucket, "mail", 1000) == b"From: a@b.example\r\n\r\nbody"


def test_list_keys_follows_pages_and_prefix(aws: AwsClients) -> None:
    aws.s3.create_bucket(Bucket="incoming")
    store = ObjectStore(aws.s3)
    for n in range(1005):
        aws.s3.put_object(Bucket="incoming", Key=f"incoming/{n:04d}", Body=b"")
    aws.s3.put_object(Bucket="incoming", Key="quarantine/x", Body=b"")
    keys = list(store.list_keys("incoming", "incoming/"))
    assert len(keys) == 1005 and keys[0] == "incoming/0000" and keys[-1] == "incoming/1004"


def test_metadata_names_are_checked() -> None:
    with pytest.raises(ValueError, match="metadata name"):
        encode_metadata({"bad name\n": "x"})
