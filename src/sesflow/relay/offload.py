"""Step 5, store attachments: each attachment is decoded in chunks straight into an S3 upload.

Small inline images that the HTML body shows by `cid:` stay in the mail; everything else is offloaded and
becomes a link. The attachments bucket then holds the only copy (its lifecycle rule expires them).

A large base64 attachment starts on its way while the rest of the mail is still read and parsed
(`EarlyOffload`): the upload and the parse then overlap, instead of following each other.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from email import errors
from email.message import EmailMessage

from sesflow.aws.store import ObjectStore, ObjectWriter, content_disposition
from sesflow.mail import Attachment, ParsedMail, iter_attachments, write_payload
from sesflow.mail.attachments import early_attachment, same_attachment, write_body_run
from sesflow.mail.parse import BodyRun

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class _Uploaded:
    stored: StoredAttachment
    defects: list[errors.MessageDefect]


@dataclass(frozen=True)
class _EarlyUpload:
    run_index: int
    guess: Attachment
    key: str
    future: Future[_Uploaded]


@dataclass
class EarlyOffload:
    """Attachments sent while the rest of the mail is still downloaded and parsed.

    The parser hands out each long body run as soon as it has read it (`parse_mail(on_body_run=...)`).
    When the run's part looks like an attachment that will be offloaded (`early_attachment`; not an image
    that may stay inline) and `admits` accepts the mail's top-level headers (the gate: no upload for a
    refused sender or a virus), the run is decoded into its S3 object at once, in a worker.
    `store_attachments` takes such an upload only where the parsed mail agrees (the run is the part's
    whole body, with the same index, name and type); `close` deletes whatever was not taken.
    """

    store: ObjectStore
    bucket: str
    message_id: str
    source_key: str
    admits: Callable[[EmailMessage], bool]
    workers: int = UPLOAD_WORKERS
    _uploads: dict[int, _EarlyUpload] = field(default_factory=dict, init=False)  # by id(part)
    _unwanted: list[_EarlyUpload] = field(default_factory=list, init=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False)

    def on_body_run(self, run: BodyRun) -> None:
        guess = early_attachment(run)
        if guess is None or (guess.content_id is not None and guess.content_type.startswith("image/")):
            return
        if not self.admits(run.preceding[0] if run.preceding else run.part):
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="early-offload")
        key = attachment_key(self.message_id, guess)
        future = self._pool.submit(self._upload, run, guess, key)
        self._uploads[id(run.part)] = _EarlyUpload(run.index, guess, key, future)

    def _upload(self, run: BodyRun, guess: Attachment, key: str) -> _Uploaded:
        with _writer(self.store, self.bucket, key, guess, {"source-key": self.source_key}) as sink:
            size, defects = write_body_run(run, sink, DECODE_CHUNK_SIZE)
        stored = StoredAttachment(guess.filename, guess.original_filename, guess.content_type, size, key)
        return _Uploaded(stored, defects)

    def take(self, attachment: Attachment, mail: ParsedMail) -> StoredAttachment | None:
        """The early upload of this attachment, when the parsed mail confirms it (waiting for it to finish;
        its error is raised, as the attachment's own upload would); None when there is none to take."""
        upload = self._uploads.pop(id(attachment.part), None)
        if upload is None:
            return None
        if not (
            mail.whole_body_runs.get(upload.run_index) is attachment.part
            and same_attachment(upload.guess, attachment)
        ):
            self._unwanted.append(upload)
            return None
        done = upload.future.result()
        attachment.part.defects.extend(done.defects)
        vars(attachment).setdefault("size", done.stored.size)  # what `Attachment.size` would decode for
        attachment.part.set_payload("")  # S3 holds it now, as after `store_attachment`
        return done.stored

    def settle(self, key: str) -> None:
        """Before `key` is written by the ordinary path: let an unwanted early upload to the same key finish
        first (so the right bytes land last) and keep it from being deleted."""
        for upload in [u for u in (*self._unwanted, *self._uploads.values()) if u.key == key]:
            wait([upload.future])
            self._forget(upload)

    def close(self) -> None:
        """Delete what was sent early and not taken: a wrong guess, or the attachments of a mail that was
        refused or failed after they had started."""
        unwanted = [*self._unwanted, *self._uploads.values()]
        self._unwanted.clear()
        self._uploads.clear()
        for upload in unwanted:
            try:
                done = upload.future.result()
            except Exception as error:  # noqa: BLE001 - not needed: a failed upload leaves no object
                logger.warning("unneeded early upload failed", extra={"key": upload.key, "error": str(error)})
                continue
            try:
                self.store.delete(self.bucket, done.stored.key)
            except Exception as error:  # noqa: BLE001 - the mail's outcome does not depend on it
                logger.warning(
                    "unneeded early upload left for the bucket's lifecycle rule",
                    extra={"key": done.stored.key, "error": str(error)},
                )
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> EarlyOffload:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _forget(self, upload: _EarlyUpload) -> None:
        if upload in self._unwanted:
            self._unwanted.remove(upload)
        for part_id, known in list(self._uploads.items()):
            if known is upload:
                del self._uploads[part_id]


def store_attachments(
    mail: ParsedMail,
    *,
    store: ObjectStore,
    bucket: str,
    message_id: str,
    source_key: str,
    max_inline_bytes: int,
    workers: int = UPLOAD_WORKERS,
    early: EarlyOffload | None = None,
) -> OffloadResult:
    """Offload every attachment that does not stay inline; raises the first upload error, after the other
    uploads have finished or been aborted (a multipart upload that fails is aborted, never left half done).
    Attachments `early` already sent, and the parsed mail confirms, are not sent again."""
    referenced = referenced_content_ids(mail.html_body())
    offloaded: list[Attachment] = []
    inline: list[Attachment] = []
    for attachment in iter_attachments(mail):
        (inline if stays_inline(attachment, referenced, max_inline_bytes) else offloaded).append(attachment)
    taken: dict[int, StoredAttachment] = {}
    if early is not None:
        for attachment in offloaded:
            if (stored := early.take(attachment, mail)) is not None:
                taken[attachment.index] = stored
        for attachment in offloaded:
            if attachment.index not in taken:
                early.settle(attachment_key(message_id, attachment))
    rest = [attachment for attachment in offloaded if attachment.index not in taken]
    result = _store_all(rest, store, bucket, message_id, source_key, workers)
    by_index = {
        **taken,
        **{attachment.index: stored for attachment, stored in zip(rest, result, strict=True)},
    }
    return OffloadResult(tuple(by_index[a.index] for a in offloaded), tuple(inline))


def _store_all(
    offloaded: list[Attachment],
    store: ObjectStore,
    bucket: str,
    message_id: str,
    source_key: str,
    workers: int,
) -> list[StoredAttachment]:
    metadata = {"source-key": source_key}
    if len(offloaded) <= 1 or workers <= 1:
        return [store_attachment(attachment, store, bucket, message_id, metadata) for attachment in offloaded]
    # Decoding holds the interpreter, sending waits on the network: a worker decodes the next attachment
    # while another one's bytes are on their way. One decodes at a time, so the first upload starts as
    # soon as one attachment is decoded, not when all workers are.
    decoding = threading.Lock()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="offload") as pool:
        futures = [
            pool.submit(store_attachment, attachment, store, bucket, message_id, metadata, decoding)
            for attachment in offloaded
        ]
        if wait(futures, return_when=FIRST_EXCEPTION).not_done:
            # One failed, so the mail fails: attachments not yet started are not worth sending.
            for future in futures:
                future.cancel()
        # The first failure in document order is raised; leaving the pool waits for the running uploads.
        return [future.result() for future in futures]


def store_attachment(
    attachment: Attachment,
    store: ObjectStore,
    bucket: str,
    message_id: str,
    metadata: Mapping[str, str],
    decoding: AbstractContextManager[object] | None = None,
) -> StoredAttachment:
    """Decode one attachment straight into its S3 object (holding `decoding` while it decodes)."""
    key = attachment_key(message_id, attachment)
    with _writer(store, bucket, key, attachment, metadata) as sink, decoding or nullcontext():
        # `decoding` is left first: the writer then sends what it holds (the whole object, up to PART_SIZE).
        size = write_payload(attachment, sink, DECODE_CHUNK_SIZE)
    # S3 now holds the only copy we need; dropping it here keeps one copy of the mail in memory.
    attachment.part.set_payload("")
    return StoredAttachment(
        attachment.filename, attachment.original_filename, attachment.content_type, size, key
    )


def _writer(
    store: ObjectStore, bucket: str, key: str, attachment: Attachment, metadata: Mapping[str, str]
) -> ObjectWriter:
    return store.writer(
        bucket,
        key,
        content_type=attachment.content_type,
        metadata={**metadata, "original-filename": attachment.original_filename or ""},
        content_disposition=content_disposition(attachment.filename),
        part_size=PART_SIZE,
    )
