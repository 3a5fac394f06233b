"""Step 5, store attachments: each attachment is decoded in chunks straight into an S3 upload.

Small inline images that the HTML body shows by `cid:` stay in the mail; everything else is offloaded and
becomes a link. The attachments bucket then holds the only copy (its lifecycle rule expires them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sesflow.aws.store import ObjectStore, content_disposition
from sesflow.mail import Attachment, ParsedMail, iter_attachments, write_payload

_CID_REFERENCE = re.compile(r"""cid:([^"'\s>)]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class StoredAttachment:
    filename: str
    original_filename: str | None
    content_type: str
    size: int
    key: str


@dataclass(frozen=True)
class OffloadResult:
    stored: tuple[StoredAttachment, ...]
    kept_inline: tuple[Attachment, ...]


def attachment_key(message_id: str, attachment: Attachment) -> str:
    return f"{message_id}/{attachment.index}-{attachment.filename}"


def referenced_content_ids(html: str | None) -> set[str]:
    return {match.strip("<>").casefold() for match in _CID_REFERENCE.findall(html or "")}


def stays_inline(attachment: Attachment, referenced: set[str], max_inline_bytes: int) -> bool:
    return (
        attachment.content_id is not None
        and attachment.content_id.strip("<>").casefold() in referenced
        and attachment.content_type.startswith("image/")
        and attachment.size <= max_inline_bytes
    )


def store_attachments(
    mail: ParsedMail,
    *,
    store: ObjectStore,
    bucket: str,
    message_id: str,
    source_key: str,
    max_inline_bytes: int,
) -> OffloadResult:
    referenced = referenced_content_ids(mail.html_body())
    stored: list[StoredAttachment] = []
    inline: list[Attachment] = []
    for attachment in iter_attachments(mail):
        if stays_inline(attachment, referenced, max_inline_bytes):
            inline.append(attachment)
            continue
        key = attachment_key(message_id, attachment)
        metadata = {"source-key": source_key, "original-filename": attachment.original_filename or ""}
        with store.writer(
            bucket,
            key,
            content_type=attachment.content_type,
            metadata=metadata,
            content_disposition=content_disposition(attachment.filename),
        ) as sink:
            size = write_payload(attachment, sink)
        # S3 now holds the only copy we need; dropping it here keeps one copy of the mail in memory.
        attachment.part.set_payload("")
        stored.append(
            StoredAttachment(
                attachment.filename, attachment.original_filename, attachment.content_type, size, key
            )
        )
    return OffloadResult(tuple(stored), tuple(inline))
