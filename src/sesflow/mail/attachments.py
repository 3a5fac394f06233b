"""Attachments and inline parts of a parsed mail: what they are, a name safe to store them under, and
their decoded bytes streamed into a sink in chunks (never one big bytes object)."""

import binascii
import mimetypes
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email import errors
from email.generator import BytesGenerator
from email.message import EmailMessage
from functools import cached_property
from typing import Literal, Protocol

from sesflow.mail.base64_lines import decode_lines
from sesflow.mail.defects import (
    AttachedMessageWriteDefect,
    Base64DataAfterPaddingDefect,
    PartPath,
    UndecodableUuencodeLineDefect,
    UnknownTransferEncodingDefect,
)
from sesflow.mail.parse import (
    HEADER_PARSE_ERRORS,
    MAIL_POLICY,
    ParsedMail,
    header_text,
    iter_parts,
    raw_payload,
    safe_content_type,
)
from sesflow.mail.text import decode_encoded_words, normalize_text

DEFAULT_CHUNK_SIZE = 64 * 1024
MAX_FILENAME_BYTES = 200
MAX_EXTENSION_BYTES = 16

Disposition = Literal["attachment", "inline"]

_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})
_UUENCODE_ENCODINGS = frozenset({"uuencode", "x-uuencode", "uue", "x-uue"})
_SERIALIZE_POLICY = MAIL_POLICY.clone(linesep="\r\n", refold_source="none")
# Built-in table only: the system's mime.types differs between machines and Lambda.
_BUILTIN_MIME_TYPES = mimetypes.MimeTypes()
_SERIALIZE_ERRORS: tuple[type[BaseException], ...] = (errors.MessageError, *HEADER_PARSE_ERRORS)


class ByteSink(Protocol):
    """Where decoded bytes go: a file opened "wb", `io.BytesIO`, an S3 multipart upload writer."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class Attachment:
    """One attachment or inline part. `index` is 1-based in document order; `filename` is safe to use
    in a path or object key, `original_filename` is the name as the mail declares it (decoded)."""

    index: int
    filename: str
    original_filename: str | None
    content_type: str
    disposition: Disposition
    content_id: str | None
    part_path: PartPath
    part: EmailMessage = field(repr=False, compare=False)

    @cached_property
    def size(self) -> int:
        """The exact decoded size in bytes. Counting means decoding, so it happens on first read
        only, or not at all when `write_payload` of this attachment ran first (it stores its count).
        Read it before replacing the part's payload, as the relay does once it has stored it."""
        # cached_property writes the instance __dict__ directly, so the frozen dataclass allows it;
        # not a field, so repr and == never decode.
        return write_payload(self.part, _ByteCounter())


def iter_attachments(mail: ParsedMail) -> Iterator[Attachment]:
    """The mail's attachments and inline parts, in document order.

    A part counts when it has a filename, a Content-Disposition of attachment or inline, or is
    non-text data; the chosen text and HTML bodies never count. An attached message (message/*)
    is one attachment; its own parts are not listed.
    """
    bodies = {id(part) for part in (mail.text_part, mail.html_part) if part is not None}
    index = 0
    for item in iter_parts(mail.message, into_attached_messages=False):
        part = item.message
        if id(part) in bodies or not _is_attachment_part(part, is_root=item.parent is None):
            continue
        index += 1
        content_type = safe_content_type(part)
        original = _declared_filename(part)
        yield Attachment(
            index=index,
            filename=safe_filename(original, fallback_filename(index, content_type)),
            original_filename=original,
            content_type=content_type,
            disposition=_disposition(part),
            content_id=_content_id(part),
            part_path=item.path,
            part=part,
        )


def _is_attachment_part(part: EmailMessage, *, is_root: bool) -> bool:
    maintype = safe_content_type(part).split("/", 1)[0]
    if maintype == "message":
        return not is_root
    if maintype == "multipart":
        return False
    if _declared_filename(part) is not None or _disposition_value(part) in ("attachment", "inline"):
        return True
    return maintype != "text" and _has_payload(part)


def _has_payload(part: EmailMessage) -> bool:
    payload = raw_payload(part)
    return bool(payload.strip()) if isinstance(payload, str | bytes) else False


def _declared_filename(part: EmailMessage) -> str | None:
    try:
        name = part.get_filename()
    except HEADER_PARSE_ERRORS:
        return None
    return None if name is None else normalize_text(name)


def _disposition_value(part: EmailMessage) -> str:
    value = header_text(part, "Content-Disposition") or ""
    return value.split(";", 1)[0].strip().lower()


def _disposition(part: EmailMessage) -> Disposition:
    value = _disposition_value(part)
    if value == "inline":
        return "inline"
    if value == "attachment":
        return "attachment"
    # No usable disposition: a part with a Content-ID is referenced from the HTML body.
    return "inline" if _content_id(part) else "attachment"


def _content_id(part: EmailMessage) -> str | None:
    value = header_text(part, "Content-ID")
    if value is None:
        return None
    bare = value.strip().removeprefix("<").removesuffix(">").strip()
    return bare or None


# --- safe names -------------------------------------------------------------------------------

_WHITESPACE_CONTROLS = dict.fromkeys(map(ord, "\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029"), " ")
_RESERVED_CHARACTERS = re.compile(r'[<>:"|?*]')
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")
_RUNS_OF_WHITESPACE = re.compile(r"\s+")


def safe_filename(name: str | None, fallback: str, max_len: int = MAX_FILENAME_BYTES) -> str:
    """A file name safe for a path or an S3 key: no directories or drive, no control characters,
    no leading dots, whitespace collapsed, encoded words decoded, at most `max_len` UTF-8 bytes
    (the extension kept). An empty result gives the (equally cleaned) `fallback`."""
    if max_len < 1:
        raise ValueError(f"max_len must be positive, not {max_len}")
    cleaned = _clean_filename(name) if name else ""
    if not cleaned:
        cleaned = _clean_filename(fallback) or "attachment"
    return _cap_utf8_length(cleaned, max_len)


def fallback_filename(index: int, content_type: str) -> str:
    """`attachment-{index}` with the extension the content type suggests, e.g. `attachment-2.pdf`."""
    extension = _BUILTIN_MIME_TYPES.guess_extension(content_type.lower()) or ""
    return f"attachment-{index}{extension}"


def _clean_filename(name: str) -> str:
    text = normalize_text(decode_encoded_words(name)).translate(_WHITESPACE_CONTROLS)
    # Other control, format (e.g. right-to-left override), surrogate and unassigned characters go.
    text = "".join(char for char in text if not unicodedata.category(char).startswith("C"))
    components = [component for component in re.split(r"[/\\]", text) if component.strip()]
    text = components[-1] if components else ""
    text = _DRIVE_PREFIX.sub("", text)
    text = _RESERVED_CHARACTERS.sub("_", text)
    text = _RUNS_OF_WHITESPACE.sub(" ", text).strip()
    return text.lstrip(". ").rstrip(". ")


def _cap_utf8_length(name: str, max_len: int) -> str:
    if len(name.encode()) <= max_len:
        return name
    stem, _, extension = name.rpartition(".")
    keeps_extension = (
        bool(stem) and 0 < len(extension.encode()) <= MAX_EXTENSION_BYTES and " " not in extension
    )
    suffix = f".{extension}" if keeps_extension else ""
    short = _utf8_prefix(stem if keeps_extension else name, max_len - len(suffix.encode()))
    short = short.rstrip(". ")
    return short + suffix if short else _utf8_prefix(name, max_len)


def _utf8_prefix(text: str, max_bytes: int) -> str:
    # "ignore" drops a character cut in half at the end.
    return text.encode()[: max(max_bytes, 0)].decode(errors="ignore")


# --- payload decoding -------------------------------------------------------------------------


def transfer_encoding(part: EmailMessage) -> str:
    """The part's Content-Transfer-Encoding, lower case, "7bit" when absent."""
    value = header_text(part, "Content-Transfer-Encoding") or ""
    tokens = re.split(r"[\s;(]+", value.strip().lower(), maxsplit=1)
    return tokens[0] or "7bit"


def payload_size(source: "Attachment | EmailMessage") -> int:
    """The decoded size of a part's payload in bytes, counted by decoding it chunk by chunk (once
    per `Attachment`: see `Attachment.size`)."""
    return source.size if isinstance(source, Attachment) else write_payload(source, _ByteCounter())


def write_payload(
    source: "Attachment | EmailMessage", sink: ByteSink, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Decode a part's payload (base64, quoted-printable, 7bit/8bit/binary, uuencode) into `sink`,
    in writes of at most `chunk_size` bytes; return the number of bytes written.

    An attached message (message/*) is written as its serialized message. Decoding problems (invalid
    base64 characters, bad padding, an unknown transfer encoding) are recorded on the part's
    `defects` and decoding goes on; only a multipart container, which has no single payload, raises.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    part = source.part if isinstance(source, Attachment) else source
    writer = _ChunkedWriter(sink, chunk_size)
    payload = raw_payload(part)
    if isinstance(payload, list):
        if not safe_content_type(part).startswith("message/"):
            raise ValueError("a multipart container has no single payload; write its parts")
        _write_attached_message(part, payload, writer)
    elif isinstance(payload, str | bytes):
        _decode_into(part, payload, writer, chunk_size)
    written = writer.close()
    if isinstance(source, Attachment):
        # The same count `size` would decode the whole payload again for.
        vars(source).setdefault("size", written)
    return written


def _decode_into(part: EmailMessage, payload: str | bytes, writer: "_ChunkedWriter", chunk_size: int) -> None:
    def report(defect: errors.MessageDefect) -> None:
        _record_defect(part, defect)

    encoding = transfer_encoding(part)
    if isinstance(payload, bytes):
        # Only set programmatically: the bytes are the content already.
        _write_text_slices(payload, writer, chunk_size)
    elif encoding == "base64":
        _write_base64(payload, writer, chunk_size, report)
    elif encoding == "quoted-printable":
        _write_quoted_printable(payload, writer, chunk_size)
    elif encoding in _UUENCODE_ENCODINGS:
        _write_uuencoded(payload, writer, chunk_size, report)
    else:
        if encoding not in _IDENTITY_ENCODINGS:
            report(UnknownTransferEncodingDefect(f"{encoding!r}: copied undecoded"))
        _write_text_slices(payload, writer, chunk_size)


def _record_defect(part: EmailMessage, defect: errors.MessageDefect) -> None:
    # A payload may be decoded more than once (e.g. size, then content); one record per kind is enough.
    if not any(type(known) is type(defect) for known in part.defects):
        part.defects.append(defect)


def _as_bytes(text: str | bytes) -> bytes:
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace")


def _write_text_slices(payload: str | bytes, writer: "_ChunkedWriter", chunk_size: int) -> None:
    for start in range(0, len(payload), chunk_size):
        writer.write(_as_bytes(payload[start : start + chunk_size]))


# base64 ---------------------------------------------------------------------------------------

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_BASE64_WHITESPACE = b" \t\r\n"
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(_BASE64_ALPHABET)))
_PAD = ord("=")


class _Base64Decoder:
    """Decodes base64 fed in pieces of any size, exactly as `binascii.a2b_base64` (non-strict)
    decodes the whole: characters outside the alphabet are skipped, an "=" that does not end a
    quad is ignored, and the data ends at the first padding that completes a quad."""

    def __init__(self) -> None:
        self._pending = b""  # data characters after the last whole quad (fewer than four)
        self._half_padded = False  # "=" after two characters of a quad; one more "=" ends the data
        self.finished = False
        self.saw_junk = False
        self.saw_data_after_padding = False
        self.saw_bad_padding = False
        self.saw_bad_length = False

    def feed(self, text: str) -> bytes:
        if self.finished:
            self.saw_data_after_padding = self.saw_data_after_padding or bool(text.strip())
            return b""
        if not self._pending and not self._half_padded and (decoded := self._whole_quads(text)) is not None:
            return decoded
        cleaned = self._strip(text)
        if not cleaned:
            return b""
        if self._half_padded:
            self._half_padded = False
            if cleaned[0] == _PAD:
                return self._finish([self._pending], cleaned[1:])
        return self._decode_cleaned(cleaned)

    def _decode_cleaned(self, cleaned: bytes) -> bytes:
        """Alphabet characters and "=" after what is pending: decoded up to the last whole quad, or to the
        padding that ends the data."""
        pieces = [self._pending]
        count = len(self._pending)
        position = 0
        while (pad := cleaned.find(b"=", position)) >= 0:
            pieces.append(cleaned[position:pad])
            count += pad - position
            position = pad + 1
            quad_position = count % 4
            if quad_position == 3:
                return self._finish(pieces, cleaned[position:])
            if quad_position == 2:
                if position == len(cleaned):
                    self._half_padded = True
                elif cleaned[position] == _PAD:
                    return self._finish(pieces, cleaned[position + 1 :])
        pieces.append(cleaned[position:])
        data = b"".join(pieces)
        whole = len(data) - len(data) % 4
        self._pending = data[whole:]
        return binascii.a2b_base64(data[:whole]) if whole else b""

    @staticmethod
    def _whole_quads(text: str) -> bytes | None:
        """The common piece, decoded in one pass: whole lines of whole quads, nothing but the alphabet and
        line breaks, no padding. None for any other piece, which the general path takes."""
        if not text.isascii():
            return None
        return decode_lines(text.encode("ascii"))

    def _strip(self, text: str) -> bytes:
        """The alphabet characters of `text` (with "="), noting whether anything but them and
        space, tab, CR and LF was there."""
        # bytes.translate runs in C over the whole piece; a regular expression was most of the cost.
        if text.isascii():
            raw = text.encode("ascii")
        else:
            # Nothing outside ASCII is in the alphabet ("ignore" also drops surrogate escapes).
            self.saw_junk = True
            raw = text.encode("ascii", errors="ignore")
        cleaned = raw.translate(None, _BASE64_WHITESPACE)
        if cleaned.translate(None, _BASE64_ALPHABET):
            self.saw_junk = True
            cleaned = cleaned.translate(None, _NOT_BASE64)
        return cleaned

    def _finish(self, pieces: list[bytes], rest: bytes) -> bytes:
        self.finished = True
        self.saw_data_after_padding = bool(rest)
        data = b"".join(pieces)
        whole = len(data) - len(data) % 4
        tail = data[whole:]
        self._pending = b""
        decoded = binascii.a2b_base64(data[:whole]) if whole else b""
        if tail:
            decoded += binascii.a2b_base64(tail + b"=" * (4 - len(tail)))
        return decoded

    def close(self) -> bytes:
        tail, self._pending = self._pending, b""
        if self.finished or not tail:
            return b""
        if len(tail) == 1:
            # One character cannot encode a byte; binascii refuses the whole input here.
            self.saw_bad_length = True
            return b""
        self.saw_bad_padding = True
        return binascii.a2b_base64(tail + b"=" * (4 - len(tail)))


def _write_base64(
    payload: str,
    writer: "_ChunkedWriter",
    chunk_size: int,
    report: Callable[[errors.MessageDefect], None],
) -> None:
    decoder = _Base64Decoder()
    start = 0
    while start < len(payload):
        # Pieces end at a line break where there is one, so that they hold whole lines (whole quads).
        end = start + chunk_size
        if end < len(payload) and (line_end := payload.rfind("\n", start, end)) > start:
            end = line_end + 1
        writer.write(decoder.feed(payload[start:end]))
        start = end
    writer.write(decoder.close())
    if decoder.saw_junk:
        report(errors.InvalidBase64CharactersDefect("characters outside base64 skipped"))
    if decoder.saw_bad_padding:
        report(errors.InvalidBase64PaddingDefect("missing padding added"))
    if decoder.saw_bad_length:
        report(errors.InvalidBase64LengthDefect("a last lone character dropped"))
    if decoder.saw_data_after_padding:
        report(Base64DataAfterPaddingDefect("data after the padding ignored"))


# quoted-printable ------------------------------------------------------------------------------


def _write_quoted_printable(payload: str, writer: "_ChunkedWriter", chunk_size: int) -> None:
    start = 0
    while start < len(payload):
        end = _quoted_printable_cut(payload, start, start + chunk_size)
        writer.write(binascii.a2b_qp(_as_bytes(payload[start:end])))
        start = end


def _quoted_printable_cut(text: str, start: int, end: int) -> int:
    """Where a piece may end without splitting an escape (`=XX`) or a soft line break.

    binascii reads "=" + CR as a soft break that runs to the next LF, so no cut may fall inside one.
    """
    if end >= len(text):
        return len(text)
    newline = text.rfind("\n", start, end)
    if newline >= 0:
        return newline + 1
    soft_break = text.find("=\r", start, end)
    cut = end if soft_break < 0 else soft_break
    while cut > start and "=" in text[max(start, cut - 2) : cut]:
        cut -= 1
    if cut > start:
        return cut
    newline = text.find("\n", end)
    return len(text) if newline < 0 else newline + 1


# uuencode --------------------------------------------------------------------------------------


def _iter_lines(text: str) -> Iterator[str]:
    start = 0
    while start < len(text):
        newline = text.find("\n", start)
        end = len(text) if newline < 0 else newline + 1
        yield text[start:end]
        start = end


def _write_uuencoded(
    payload: str,
    writer: "_ChunkedWriter",
    chunk_size: int,
    report: Callable[[errors.MessageDefect], None],
) -> None:
    started = False
    for raw_line in _iter_lines(payload):
        line = raw_line.rstrip("\r\n")
        if not started:
            started = line.startswith("begin ")
            continue
        if line.strip() == "end":
            return
        if line.strip():
            writer.write(_decode_uu_line(line, report))
    if not started:
        report(UndecodableUuencodeLineDefect("no 'begin' line; copied undecoded"))
        _write_text_slices(payload, writer, chunk_size)


def _decode_uu_line(line: str, report: Callable[[errors.MessageDefect], None]) -> bytes:
    try:
        return binascii.a2b_uu(line)
    except ValueError:  # binascii.Error, or non-ASCII text
        pass
    try:
        # Some encoders pad lines past their declared length; decode only what it declares.
        declared = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
        return binascii.a2b_uu(line[:declared])
    except ValueError:
        report(UndecodableUuencodeLineDefect("a line could not be decoded; skipped"))
        return b""


# attached messages ----------------------------------------------------------------------------


def _write_attached_message(part: EmailMessage, payload: Sequence[object], writer: "_ChunkedWriter") -> None:
    generator = BytesGenerator(writer, mangle_from_=False, policy=_SERIALIZE_POLICY)
    blocks = [block for block in payload if isinstance(block, EmailMessage)]
    try:
        for number, block in enumerate(blocks):
            if number:  # message/delivery-status holds several header blocks
                writer.write(b"\r\n")
            generator.flatten(block, linesep="\r\n")
    except _SERIALIZE_ERRORS as error:
        _record_defect(part, AttachedMessageWriteDefect(f"written up to the error: {error}"))


# sinks -----------------------------------------------------------------------------------------


class _ChunkedWriter:
    """Collects small writes and passes them on in writes of exactly `chunk_size` (the last shorter)."""

    def __init__(self, sink: ByteSink, chunk_size: int) -> None:
        self._sink = sink
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._written = 0

    def write(self, data: bytes, /) -> int:
        self._buffer += data
        if len(self._buffer) >= self._chunk_size:
            whole = len(self._buffer) - len(self._buffer) % self._chunk_size
            with memoryview(self._buffer) as view:
                for start in range(0, whole, self._chunk_size):
                    self._sink.write(bytes(view[start : start + self._chunk_size]))
            del self._buffer[:whole]
            self._written += whole
        return len(data)

    def close(self) -> int:
        if self._buffer:
            self._sink.write(bytes(self._buffer))
            self._written += len(self._buffer)
            self._buffer.clear()
        return self._written


class _ByteCounter:
    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes, /) -> int:
        self.count += len(data)
        return len(data)
