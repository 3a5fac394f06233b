"""Revoking links: deleting an attachment kills every pre-signed link to it at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class RevokedObject:
    key: str
    size: int
    last_modified: datetime


def _objects(s3: S3Client, bucket: str, prefix: str) -> Iterator[RevokedObject]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield RevokedObject(item["Key"], item["Size"], item["LastModified"])


def _delete(s3: S3Client, bucket: str, objects: list[RevokedObject]) -> None:
    for start in range(0, len(objects), 1000):  # DeleteObjects takes at most 1000 keys
        batch = objects[start : start + 1000]
        done = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": item.key} for item in batch], "Quiet": True}
        )
        if done.get("Errors"):
            failed = ", ".join(f"{error.get('Key')}: {error.get('Message')}" for error in done["Errors"])
            raise RuntimeError(f"some attachments were not deleted: {failed}")


def revoke_message(
    s3: S3Client, bucket: str, message_id: str, *, dry_run: bool = False
) -> list[RevokedObject]:
    """Delete every attachment stored for one relayed mail (`{messageId}/...`)."""
    if not message_id or "/" in message_id:
        raise ValueError(f"not a message id: {message_id!r}")
    objects = list(_objects(s3, bucket, f"{message_id}/"))
    if not dry_run:
        _delete(s3, bucket, objects)
    return objects


def revoke_older_than(
    s3: S3Client, bucket: str, cutoff: datetime, *, dry_run: bool = False
) -> list[RevokedObject]:
    """Delete every attachment stored before `cutoff`."""
    objects = [item for item in _objects(s3, bucket, "") if item.last_modified < cutoff]
    if not dry_run:
        _delete(s3, bucket, objects)
    return objects
