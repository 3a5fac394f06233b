"""An in-memory `ObjectStore`: buckets of bytes with S3's answers for what the flows do (write in one PUT or
in parts, read, copy then delete, list by prefix, pre-signed links). tests/contracts/test_object_store.py
holds it to the real one on moto's S3."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import BinaryIO, Self, Unpack
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from sesflow.aws.store import (
    DEFAULT_PART_SIZE,
    MAX_PRESIGN_SECONDS,
    MIB,
    MIN_PART_SIZE,
    ObjectHeaders,
    ObjectInfo,
    ObjectMissing,
    ObjectUnreadable,
    PresignExpiryError,
    StoredObject,
    content_disposition,
    encode_metadata,
)

LINK_HOST = "s3.fake.invalid"


@dataclass(frozen=True)
class FakeObject:
    data: bytes
    content_type: str
    metadata: Mapping[str, str]
    content_disposition: str | None
    etag: str


def _etag(parts: list[bytes]) -> str:
    """S3's ETag: the MD5 of a single PUT, or the MD5 of the parts' MD5s and their count."""
    if len(parts) == 1:
        return f'"{hashlib.md5(parts[0]).hexdigest()}"'
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


@dataclass
class FakeObjectWriter:
    """Like `ObjectWriter`: nothing is visible until `close`; an exception inside `with` stores nothing."""

    store: FakeObjectStore
    bucket: str
    key: str
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_disposition: str | None = None
    part_size: int = DEFAULT_PART_SIZE
    _parts: list[bytes] = field(default_factory=list, init=False)
    _buffer: bytearray = field(default_factory=bytearray, init=False)
    _closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self._metadata = encode_metadata(self.metadata)

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError(f"writer for s3://{self.bucket}/{self.key} is closed")
        self._buffer += data
        while len(self._buffer) > self.part_size:
            self._parts.append(bytes(self._buffer[: self.part_size]))
            del self._buffer[: self.part_size]
        return len(data)

    def close(self) -> ObjectInfo:
        self._closed = True
        if self._buffer or not self._parts:
            self._parts.append(bytes(self._buffer))
        self._buffer.clear()
        data = b"".join(self._parts)
        stored = FakeObject(
            data, self.content_type, self._metadata, self.content_disposition, _etag(self._parts)
        )
        self.store.put(self.bucket, self.key, stored)
        return ObjectInfo(self.bucket, self.key, len(data), stored.etag)

    def abort(self) -> None:
        self._closed = True
        self._parts.clear()
        self._buffer.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()


class FakeObjectStore:
    """Buckets of bytes. Buckets exist once created (`create_bucket`, or `buckets=` at construction)."""

    def __init__(self, *buckets: str, part_size: int = DEFAULT_PART_SIZE) -> None:
        self.part_size = part_size
        self.buckets: dict[str, dict[str, FakeObject]] = {name: {} for name in buckets}
        self._lock = threading.Lock()

    def create_bucket(self, name: str) -> None:
        with self._lock:
            self.buckets.setdefault(name, {})

    def put(self, bucket: str, key: str, stored: FakeObject) -> None:
        with self._lock:
            self._bucket(bucket)[key] = stored

    def put_bytes(
        self, bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None:
        """An object as SES's receipt rule (or another writer outside the flows) leaves it."""
        self.put(bucket, key, FakeObject(data, content_type, {}, None, _etag([data])))

    def get(self, bucket: str, key: str) -> FakeObject:
        with self._lock:
            found = self._bucket(bucket).get(key)
        if found is None:
            raise ObjectMissing(bucket, key)
        return found

    # the ObjectStore surface
    def open(self, bucket: str, key: str) -> StoredObject:
        stored = self.get(bucket, key)
        body: BinaryIO = io.BytesIO(stored.data)
        return StoredObject(bucket, key, body, len(stored.data), stored.content_type, dict(stored.metadata))

    def read_start(self, bucket: str, key: str, length: int) -> bytes:
        """The first `length` bytes (all of a smaller object); S3's code when it cannot read them."""
        try:
            data = self.get(bucket, key).data
        except ObjectMissing as missing:
            raise ObjectUnreadable(bucket, key, "NoSuchKey") from missing
        if not data:
            raise ObjectUnreadable(bucket, key, "InvalidRange")  # a range of an empty object: S3's 416
        return data[:length]

    def writer(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        content_disposition: str | None = None,
        part_size: int | None = None,
    ) -> FakeObjectWriter:
        return FakeObjectWriter(
            self, bucket, key, content_type, metadata or {}, content_disposition, part_size or self.part_size
        )

    def upload(
        self,
        bucket: str,
        key: str,
        stream: BinaryIO,
        *,
        chunk_size: int = MIB,
        **headers: Unpack[ObjectHeaders],
    ) -> ObjectInfo:
        with self.writer(bucket, key, **headers) as sink:
            while chunk := stream.read(chunk_size):
                sink.write(chunk)
            return sink.close()

    def presign_get(
        self, bucket: str, key: str, expires_in: int | timedelta, *, download_name: str | None = None
    ) -> str:
        """A link shaped like a SigV4 one; `follow` gives what it would serve."""
        seconds = int(expires_in.total_seconds()) if isinstance(expires_in, timedelta) else expires_in
        if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
            raise PresignExpiryError(
                f"a SigV4 link lives 1 to {MAX_PRESIGN_SECONDS} seconds (7 days), not {seconds}"
            )
        query = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Expires": str(seconds)}
        if download_name is not None:
            query["response-content-disposition"] = content_disposition(download_name)
        query["X-Amz-Signature"] = hashlib.sha256(f"{bucket}/{key}/{seconds}".encode()).hexdigest()
        return f"https://{bucket}.{LINK_HOST}/{quote(key)}?{urlencode(query)}"

    def follow(self, url: str) -> bytes | None:
        """What a pre-signed link serves now: the object's bytes, or None once it is gone (S3's 403/404)."""
        parts = urlsplit(url)
        bucket = parts.hostname.removesuffix(f".{LINK_HOST}") if parts.hostname else ""
        if "X-Amz-Signature" not in parse_qs(parts.query):
            return None
        try:
            return self.get(bucket, unquote(parts.path.removeprefix("/"))).data
        except LookupError:  # no such bucket or object
            return None

    def move(self, bucket: str, key: str, new_key: str) -> None:
        """Copy (metadata kept) then delete, as the real store does."""
        self.put(bucket, new_key, self.get(bucket, key))
        self.delete(bucket, key)

    def exists(self, bucket: str, key: str) -> bool:
        with self._lock:
            return key in self._bucket(bucket)

    def delete(self, bucket: str, key: str) -> None:
        """Deleting what is not there succeeds, as in S3."""
        with self._lock:
            self._bucket(bucket).pop(key, None)

    def list_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        """In S3's order: by the key's UTF-8 bytes."""
        with self._lock:
            keys = [key for key in self._bucket(bucket) if key.startswith(prefix)]
        return iter(sorted(keys, key=lambda key: key.encode()))

    def _bucket(self, bucket: str) -> dict[str, FakeObject]:
        if bucket not in self.buckets:
            raise LookupError(f"no bucket {bucket!r} (NoSuchBucket)")
        return self.buckets[bucket]
