"""S3 as an object store: streamed reads and writes (multipart when large), SigV4 links, deletes."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO, Final, Self, TypedDict, Unpack
from urllib.parse import quote

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        CreateMultipartUploadRequestTypeDef,
        PutObjectRequestTypeDef,
    )

MIB: Final = 1024 * 1024
#: S3 refuses multipart parts under 5 MiB (all but the last).
MIN_PART_SIZE: Final = 5 * MIB
DEFAULT_PART_SIZE: Final = 8 * MIB
MAX_PRESIGN_SECONDS: Final = 7 * 24 * 3600
_METADATA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PLAIN_METADATA = re.compile(r"^[\x20-\x7e]*$")


class PresignExpiryError(ValueError):
    """A pre-signed link was asked for with a lifetime S3's SigV4 cannot give."""


class ObjectMissing(LookupError):
    """The object is not there (never stored, or deleted since): S3 answered 404."""

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__(f"s3://{bucket}/{key} does not exist")
        self.bucket = bucket
        self.key = key


class ObjectUnreadable(Exception):
    """S3 refused to read the object; `code` is its error code (NoSuchKey, AccessDenied, ...)."""

    def __init__(self, bucket: str, key: str, code: str) -> None:
        super().__init__(f"s3://{bucket}/{key} not readable: {code}")
        self.code = code


class ObjectHeaders(TypedDict, total=False):
    """What an object is stored with besides its bytes."""

    content_type: str
    metadata: Mapping[str, str] | None
    content_disposition: str | None


@dataclass(frozen=True)
class StoredObject:
    """An object being read: its body is a stream, read it in chunks."""

    bucket: str
    key: str
    body: BinaryIO
    size: int
    content_type: str
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str


def encode_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """S3 user metadata travels in HTTP headers: anything but printable ASCII goes as RFC 2047."""
    encoded: dict[str, str] = {}
    for name, value in metadata.items():
        if not _METADATA_NAME.match(name):
            raise ValueError(f"S3 metadata name {name!r} must be letters, digits, '-' or '_'")
        if _PLAIN_METADATA.match(value):
            encoded[name] = value
        else:
            encoded[name] = f"=?UTF-8?B?{base64.b64encode(value.encode()).decode('ascii')}?="
    return encoded


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """RFC 6266 value with an ASCII fallback and the exact UTF-8 name."""
    fallback = re.sub(r'[^\x20-\x7e]|["\\]', "_", filename)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@dataclass
class ObjectWriter:
    """A writable sink that lands in S3: one PUT when small, a multipart upload past one part.

    Holds at most one part in memory. Use it as a context manager: an exception aborts the upload,
    so no half-written object or orphaned parts remain.
    """

    s3: S3Client
    bucket: str
    key: str
    content_type: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_disposition: str | None = None
    part_size: int = DEFAULT_PART_SIZE
    _buffer: bytearray = field(default_factory=bytearray, init=False)
    _upload_id: str | None = field(default=None, init=False)
    _parts: list[CompletedPartTypeDef] = field(default_factory=list, init=False)
    _size: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self._encoded_metadata = encode_metadata(self.metadata)

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError(f"writer for s3://{self.bucket}/{self.key} is closed")
        self._buffer += data
        self._size += len(data)
        while len(self._buffer) > self.part_size:
            self._upload_part(bytes(memoryview(self._buffer)[: self.part_size]))  # one copy, not two
            del self._buffer[: self.part_size]
        return len(data)

    def _upload_part(self, chunk: bytes) -> None:
        if self._upload_id is None:
            create: CreateMultipartUploadRequestTypeDef = {
                "Bucket": self.bucket,
                "Key": self.key,
                "ContentType": self.content_type,
                "Metadata": self._encoded_metadata,
            }
            if self.content_disposition:
                create["ContentDisposition"] = self.content_disposition
            self._upload_id = self.s3.create_multipart_upload(**create)["UploadId"]
        number = len(self._parts) + 1
        part = self.s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=chunk,
        )
        self._parts.append({"ETag": part["ETag"], "PartNumber": number})

    def close(self) -> ObjectInfo:
        """Finish the object; returns what was stored."""
        self._closed = True
        if self._upload_id is None:
            put: PutObjectRequestTypeDef = {
                "Bucket": self.bucket,
                "Key": self.key,
                # Sent as it is (botocore takes a bytearray as a blob; the stubs say bytes): a copy of a
                # 16 MiB part costs as much as decoding it.
                "Body": self._buffer,  # type: ignore[typeddict-item]
                "ContentType": self.content_type,
                "Metadata": self._encoded_metadata,
            }
            if self.content_disposition:
                put["ContentDisposition"] = self.content_disposition
            etag = self.s3.put_object(**put)["ETag"]
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            done = self.s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            etag = done.get("ETag", "")
        self._buffer.clear()
        return ObjectInfo(self.bucket, self.key, self._size, etag)

    def abort(self) -> None:
        self._closed = True
        self._buffer.clear()
        if self._upload_id is not None:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)

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


class ObjectStore:
    """The S3 operations the flows need, over one SigV4 client."""

    def __init__(self, s3: S3Client, *, part_size: int = DEFAULT_PART_SIZE) -> None:
        # SigV2 links are refused by newer regions and carry no X-Amz-Expires limit.
        if getattr(s3.meta.config, "signature_version", None) != "s3v4":
            raise ValueError("ObjectStore needs an S3 client with Config(signature_version='s3v4')")
        self.s3 = s3
        self.part_size = part_size

    def open(self, bucket: str, key: str) -> StoredObject:
        """Start reading an object; the body streams, nothing is buffered here. Raises `ObjectMissing`
        when there is no such object."""
        try:
            got = self.s3.get_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                raise ObjectMissing(bucket, key) from error
            raise
        return StoredObject(
            bucket=bucket,
            key=key,
            body=got["Body"],  # type: ignore[arg-type]
            size=got["ContentLength"],
            content_type=got.get("ContentType", "application/octet-stream"),
            metadata=got.get("Metadata", {}),
        )

    def read_start(self, bucket: str, key: str, length: int) -> bytes:
        """The object's first `length` bytes (all of a smaller one); raises `ObjectUnreadable`."""
        try:
            got = self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}")
        except ClientError as error:
            raise ObjectUnreadable(
                bucket, key, error.response.get("Error", {}).get("Code", "error")
            ) from error
        return got["Body"].read()

    def writer(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        content_disposition: str | None = None,
        part_size: int | None = None,
    ) -> ObjectWriter:
        """A sink for one object; `part_size` (default: the store's) is also the largest object sent in
        one PUT, and what the writer holds in memory."""
        return ObjectWriter(
            self.s3,
            bucket,
            key,
            content_type,
            metadata or {},
            content_disposition,
            part_size or self.part_size,
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
        """Copy a readable stream into S3, one chunk at a time."""
        with self.writer(bucket, key, **headers) as sink:
            while chunk := stream.read(chunk_size):
                sink.write(chunk)
            return sink.close()

    def presign_get(
        self,
        bucket: str,
        key: str,
        expires_in: int | timedelta,
        *,
        download_name: str | None = None,
    ) -> str:
        """A SigV4 GET link; deleting the object revokes it, and it dies with its credentials."""
        seconds = int(expires_in.total_seconds()) if isinstance(expires_in, timedelta) else expires_in
        if not 1 <= seconds <= MAX_PRESIGN_SECONDS:
            raise PresignExpiryError(
                f"a SigV4 link lives 1 to {MAX_PRESIGN_SECONDS} seconds (7 days), not {seconds}"
            )
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        if download_name is not None:
            params["ResponseContentDisposition"] = content_disposition(download_name)
        return self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def move(self, bucket: str, key: str, new_key: str) -> None:
        """Copy within the bucket (metadata kept), then delete the original."""
        self.s3.copy_object(
            Bucket=bucket, Key=new_key, CopySource={"Bucket": bucket, "Key": key}, MetadataDirective="COPY"
        )
        self.delete(bucket, key)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                return False
            raise
        return True

    def delete(self, bucket: str, key: str) -> None:
        self.s3.delete_object(Bucket=bucket, Key=key)

    def list_keys(self, bucket: str, prefix: str = "") -> Iterator[str]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]


def _is_missing(error: ClientError) -> bool:
    # GET answers NoSuchKey; HEAD has no body, so only its status tells.
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}
