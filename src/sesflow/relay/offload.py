"""Step 5, store attachments: each attachment is decoded in chunks straight into an S3 upload.

Small inline images that the HTML body shows by `cid:` stay in the mail; everything else is offloaded and
becomes a link. The attachments bucket then holds the only copy (its lifecycle rule expires them).
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from sesflow.aws.store import content_disposition
from sesflow.mail import Attachment, ParsedMail, iter_attachments, write_payload
from sesflow.relay.ports import MailStore

UPLOAD_WORKERS = 2
"""Attachments decoded and sent at the same time; each holds at most one part (`PART_SIZE`) in memory."""
DECODE_CHUNK_SIZE = 1024 * 1024
"""Decoded bytes per write: large enough that decoding runs in C, not in per-chunk Python."""
PART_SIZE = 16 * 1024 * 1024
"""An attachment of a 40 MB mail is at most about 29 MiB: up to 16 MiB it goes in one PUT, not in a
multipart upload of three requests or more; a larger one in two parts."""

_CID_REFERENCE = re.compile(r"""cid:([^"'\s>)]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class StoredAttachment:
    filename: str
    original_filename: str | None
    content_type: str
    size: int
    key: str


@dataclass(frozen=True)
class AttachmentTarget:
    """Where one mail's attachments go: `{message_id}/{n}-{name}` in `bucket`, each naming its mail."""

    bucket: str
    message_id: str
    source_key: str


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


def offload_attachments(
    mail: ParsedMail,
    store: MailStore,
    target: AttachmentTarget,
    *,
    max_inline_bytes: int,
    workers: int = UPLOAD_WORKERS,
) -> OffloadResult:
    """Offload every attachment that does not stay inline; raises the first upload error, after the other
    uploads have finished or been aborted (a multipart upload that fails is aborted, never left half done)."""
    referenced = referenced_content_ids(mail.html_body())
    offloaded: list[Attachment] = []
    inline: list[Attachment] = []
    for attachment in iter_attachments(mail):
        (inline if stays_inline(attachment, referenced, max_inline_bytes) else offloaded).append(attachment)
    if len(offloaded) <= 1 or workers <= 1:
        stored = [store_attachment(attachment, store, target) for attachment in offloaded]
        return OffloadResult(tuple(stored), tuple(inline))
    # Decoding holds the interpreter, sending waits on the network: a worker decodes the next attachment
    # while another one's bytes are on their way. One decodes at a time, so the first upload starts as
    # soon as one attachment is decoded, not when all workers are.
    decoding = threading.Lock()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="offload") as pool:
        futures = [
            pool.submit(store_attachment, attachment, store, target, decoding) for attachment in offloaded
        ]
        if wait(futures, return_when=FIRST_EXCEPTION).not_done:
            # One failed, so the mail fails: attachments not yet started are not worth sending.
            for future in futures:
                future.cancel()
        # The first failure in document order is raised; leaving the pool waits for the running uploads.
        stored = [future.result() for future in futures]
    return OffloadResult(tuple(stored), tuple(inline))


def store_attachment(
    attachment: Attachment,
    store: MailStore,
    target: AttachmentTarget,
    decoding: AbstractContextManager[object] | None = None,
) -> StoredAttachment:
    """Decode one attachment straight into its S3 object (holding `decoding` while it decodes)."""
    key = attachment_key(target.message_id, attachment)
    with (
        store.writer(
            target.bucket,
            key,
            content_type=attachment.content_type,
            metadata={
                "source-key": target.source_key,
                "original-filename": attachment.original_filename or "",
            },
            content_disposition=content_disposition(attachment.filename),
            part_size=PART_SIZE,
        ) as sink,
        decoding or nullcontext(),
    ):
        # `decoding` is left first: the writer then sends what it holds (the whole object, up to PART_SIZE).
        size = write_payload(attachment, sink, DECODE_CHUNK_SIZE)
    # S3 now holds the only copy we need; dropping it here keeps one copy of the mail in memory.
    attachment.part.set_payload("")
    return StoredAttachment(
        attachment.filename, attachment.original_filename, attachment.content_type, size, key
    )
