"""The object-store port: what `ObjectStore` does on moto's S3, and what `FakeObjectStore` must do the same
way. Pinned: what a read gives back, a missing object, copy then delete = move, listing by prefix, a writer
that fails stores nothing, and the links' shape and lifetime."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sesflow.aws.store import (
    MIB,
    MIN_PART_SIZE,
    ObjectMissing,
    ObjectStore,
    ObjectUnreadable,
    PresignExpiryError,
    encode_metadata,
)

from ..fakes.object_store import FakeObjectStore

BUCKET = "contract-mail"

Store = ObjectStore | FakeObjectStore


@pytest.fixture(
    params=[pytest.param("real", marks=pytest.mark.integration), pytest.param("fake", marks=pytest.mark.unit)]
)
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "real":
        aws = request.getfixturevalue("aws")
        aws.s3.create_bucket(Bucket=BUCKET)
        return ObjectStore(aws.s3)
    return FakeObjectStore(BUCKET)


def read(store: Store, key: str) -> bytes:
    return store.open(BUCKET, key).body.read()


def test_a_stored_object_reads_back_with_its_type_and_metadata(store: Store) -> None:
    metadata = {"sender": "noc@zayo.example", "subject": "Wartung Glasfaserstrecke Süd"}
    info = store.upload(
        BUCKET, "inbound/m1", io.BytesIO(b"raw mail"), content_type="message/rfc822", metadata=metadata
    )
    assert (info.bucket, info.key, info.size) == (BUCKET, "inbound/m1", 8)
    assert info.etag == f'"{hashlib.md5(b"raw mail").hexdigest()}"'
    got = store.open(BUCKET, "inbound/m1")
    assert (got.body.read(), got.size, got.content_type) == (b"raw mail", 8, "message/rfc822")
    assert dict(got.metadata) == encode_metadata(metadata)  # as S3 keeps it: non-ASCII stays RFC 2047


def test_a_missing_object_is_missing(store: Store) -> None:
    with pytest.raises(ObjectMissing) as missing:
        store.open(BUCKET, "inbound/nothing")
    assert (missing.value.bucket, missing.value.key) == (BUCKET, "inbound/nothing")
    assert store.exists(BUCKET, "inbound/nothing") is False


def test_the_start_of_an_object_is_its_first_bytes_or_all_of_a_smaller_one(store: Store) -> None:
    store.upload(BUCKET, "dlq/m1", io.BytesIO(b"Received: from a\r\nSubject: x\r\n\r\nbody"))
    assert store.read_start(BUCKET, "dlq/m1", 10) == b"Received: "
    assert store.read_start(BUCKET, "dlq/m1", 4096) == b"Received: from a\r\nSubject: x\r\n\r\nbody"


def test_the_start_of_a_missing_or_empty_object_is_unreadable_with_s3s_code(store: Store) -> None:
    with pytest.raises(ObjectUnreadable) as unreadable:
        store.read_start(BUCKET, "dlq/nothing", 10)
    assert unreadable.value.code == "NoSuchKey"
    store.upload(BUCKET, "dlq/empty", io.BytesIO(b""))
    with pytest.raises(ObjectUnreadable) as unreadable:
        store.read_start(BUCKET, "dlq/empty", 10)
    assert unreadable.value.code == "InvalidRange"


def test_exists_after_a_write_and_not_after_a_delete(store: Store) -> None:
    store.upload(BUCKET, "k", io.BytesIO(b"x"))
    assert store.exists(BUCKET, "k") is True
    store.delete(BUCKET, "k")
    assert store.exists(BUCKET, "k") is False
    store.delete(BUCKET, "k")  # deleting what is gone succeeds


def test_move_is_copy_then_delete_keeping_type_and_metadata(store: Store) -> None:
    store.upload(
        BUCKET, "inbound/m1", io.BytesIO(b"mail"), content_type="message/rfc822", metadata={"a": "1"}
    )
    store.move(BUCKET, "inbound/m1", "done/m1")
    assert store.exists(BUCKET, "inbound/m1") is False
    moved = store.open(BUCKET, "done/m1")
    assert (moved.body.read(), moved.content_type, dict(moved.metadata)) == (
        b"mail",
        "message/rfc822",
        {"a": "1"},
    )


def test_keys_are_listed_by_prefix_in_byte_order(store: Store) -> None:
    for key in ("inbound/b", "inbound/a/2", "inbound/a/10", "done/a", "inbound/Z", "inbound/é"):
        store.upload(BUCKET, key, io.BytesIO(b"."))
    assert list(store.list_keys(BUCKET, "inbound/")) == [
        "inbound/Z",
        "inbound/a/10",
        "inbound/a/2",
        "inbound/b",
        "inbound/é",
    ]
    assert list(store.list_keys(BUCKET, "nothing/")) == []


def test_a_writer_that_fails_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.writer(BUCKET, "att/1", part_size=MIN_PART_SIZE) as sink:
        sink.write(b"x" * (MIN_PART_SIZE + 1))  # one part already sent
        raise RuntimeError("the mail broke off")
    assert store.exists(BUCKET, "att/1") is False
    assert list(store.list_keys(BUCKET)) == []


def test_a_large_object_goes_in_parts_and_reads_back_whole(store: Store) -> None:
    data = bytes(range(256)) * (MIN_PART_SIZE // 256) + b"tail"  # one whole part and a last, short one
    with store.writer(BUCKET, "att/big", part_size=MIN_PART_SIZE, content_type="text/csv") as sink:
        for start in range(0, len(data), MIB):
            sink.write(data[start : start + MIB])
        info = sink.close()
    assert info.size == len(data) and info.etag.endswith('-2"')
    assert read(store, "att/big") == data


def test_a_writer_closed_without_writing_stores_an_empty_object(store: Store) -> None:
    with store.writer(BUCKET, "empty") as sink:
        pass
    assert sink is not None and read(store, "empty") == b""


def test_a_link_names_the_object_and_its_lifetime(store: Store) -> None:
    store.upload(BUCKET, "att/m1/1-report.csv", io.BytesIO(b"a,b"))
    url = store.presign_get(BUCKET, "att/m1/1-report.csv", timedelta(hours=36), download_name="Bericht ä.csv")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert unquote(parts.path).endswith("att/m1/1-report.csv")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["129600"]
    assert query["response-content-disposition"] == [
        "attachment; filename=\"Bericht _.csv\"; filename*=UTF-8''Bericht%20%C3%A4.csv"
    ]


@pytest.mark.parametrize("seconds", [0, 7 * 24 * 3600 + 1])
def test_a_link_outside_sigv4_lifetimes_is_refused(store: Store, seconds: int) -> None:
    with pytest.raises(PresignExpiryError):
        store.presign_get(BUCKET, "k", seconds)
