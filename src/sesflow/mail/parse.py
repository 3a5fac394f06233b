"""Parse a mail from bytes or a binary stream into an `EmailMessage`, keeping every defect, never raising.

The standard parser with `email.policy.default` does the work. Around it: input is fed in chunks (an S3
stream is never copied whole), header parsing is bounded (the stdlib's header parser is superlinear on huge
headers), nesting is capped (the parser and `get_body()` recurse once per level), body lines that a
device sent without the blank line after the part headers are given back to the body, and long runs of
body lines (base64 attachments) skip the parser's per-line work, with the very same result.
"""

import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email import errors
from email.message import EmailMessage, Message
from email.parser import BytesFeedParser
from email.policy import EmailPolicy
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from sesflow.mail.base64_lines import is_base64_lines
from sesflow.mail.defects import (
    BodyLinesInHeaderBlockDefect,
    MailDefect,
    NestingTooDeepDefect,
    OversizedHeaderDefect,
    PartPath,
    RecursionLimitDefect,
    UnparseableHeaderDefect,
)
from sesflow.mail.text import decode_bytes, repair_surrogates

READ_CHUNK_SIZE = 64 * 1024
MIN_CONDENSED_RUN = 64 * 1024
"""Runs of plain body lines shorter than this go to the parser line by line (see `_RunCondenser`)."""
MAX_NESTING_DEPTH = 50
"""Containers (multipart/*, message/*) deeper than this are kept as opaque bodies, not parsed."""
MAX_PARSED_HEADER_CHARS = 8 * 1024
"""Longer headers are parsed only up to here; their accessors give the raw text instead."""
MAX_DEFECT_DETAIL_CHARS = 200

HEADER_PARSE_ERRORS: tuple[type[BaseException], ...] = (
    errors.HeaderParseError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    AssertionError,
    RecursionError,
)
"""What the stdlib header parser is known to raise on hostile input (IndexError, nested comments, ...)."""

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_MIME_PART_HEADER = re.compile(r"content-|mime-version$|x-", re.IGNORECASE)


if TYPE_CHECKING:
    _DefaultPolicy = EmailPolicy[EmailMessage]
else:  # EmailPolicy is generic only in the type stubs
    _DefaultPolicy = EmailPolicy


class ReadableBytes(Protocol):
    """A binary stream: a file opened "rb", `io.BytesIO`, botocore's `StreamingBody`."""

    def read(self, size: int, /) -> bytes: ...


class _BoundedHeaderPolicy(_DefaultPolicy):
    """`email.policy.default`, except that a header is never parsed past `MAX_PARSED_HEADER_CHARS`
    and a header the parser chokes on comes back as its raw, unfolded text."""

    def header_fetch_parse(self, name: str, value: str) -> Any:  # noqa: ANN401 - a str or a header object
        if hasattr(value, "name"):
            return value
        bounded = value[:MAX_PARSED_HEADER_CHARS]
        try:
            # Content-Type is asked for several times per part (by the parser, the walk, the relay):
            # each value is parsed once. What `email.policy.default` does, with the parse cached.
            return _parse_header(self.header_factory, name, _unfold(bounded))
        except HEADER_PARSE_ERRORS:
            return _unfold(bounded)


@lru_cache(maxsize=256)
def _parse_header(factory: Callable[[str, str], Any], name: str, value: str) -> Any:  # noqa: ANN401
    # Header objects are immutable, so one parsed object can be handed out many times.
    return factory(name, value)


MAIL_POLICY = _BoundedHeaderPolicy()
"""The policy every parsed mail carries: `email.policy.default` with bounded header parsing."""


class _ParsingSession:
    """Builds the parser's messages; knows whether parsing is under way and which message is the root."""

    def __init__(self) -> None:
        self.active = False
        self.root: _ParsedMessage | None = None

    def __call__(self, policy: _DefaultPolicy = MAIL_POLICY) -> "_ParsedMessage":
        message = _ParsedMessage(policy=policy)
        message.session = self
        if self.active and self.root is None:
            self.root = message
        return message


class _ParsedMessage(EmailMessage):
    """An `EmailMessage` that knows its depth, so the parser can be stopped from descending too far."""

    session: _ParsingSession | None = None
    nesting_depth: int = 0
    opaque: bool = False

    def attach(self, payload: "Message[str, str] | str") -> None:
        if isinstance(payload, _ParsedMessage):
            payload.nesting_depth = self.nesting_depth + 1
            if self.session is not None and self.session.active:
                payload.opaque = payload.nesting_depth > MAX_NESTING_DEPTH
        Message.attach(self, payload)

    def get_content_maintype(self) -> str:
        # The feed parser opens a container when this says multipart/message; a part past the depth
        # cap says neither while it is parsed, so its whole body is read as an opaque payload.
        if self.opaque and self.session is not None and self.session.active:
            return "application"
        return super().get_content_maintype()


@dataclass(frozen=True, slots=True)
class MailPart:
    """One part met on a walk: where it is, the part itself, and its container (None for the root)."""

    path: PartPath
    message: EmailMessage
    parent: EmailMessage | None


def iter_parts(message: EmailMessage, *, into_attached_messages: bool = True) -> Iterator[MailPart]:
    """Every part, depth first in document order, without recursion (safe on any nesting).

    With `into_attached_messages=False` a message/* part is yielded but not entered.
    """
    stack: list[MailPart] = [MailPart((), message, None)]
    while stack:
        item = stack.pop()
        yield item
        if not into_attached_messages and item.parent is not None and _is_message_part(item.message):
            continue
        children = _child_parts(item.message)
        stack.extend(
            MailPart((*item.path, number), child, item.message)
            for number, child in reversed(list(enumerate(children, start=1)))
        )


def raw_payload(message: Message) -> str | bytes | list[Message] | None:
    """The payload as parsed: a list of parts, or the undecoded body with raw 8-bit bytes kept
    (as surrogate escapes)."""
    # get_payload() without decode=True turns raw 8-bit bytes into U+FFFD; the stdlib's own
    # generator reads the stored payload directly for the same reason.
    payload: str | bytes | list[Message] | None = getattr(message, "_payload", None)
    return payload


def _child_parts(message: EmailMessage) -> list[EmailMessage]:
    payload = raw_payload(message)
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, EmailMessage)]


def _is_message_part(message: EmailMessage) -> bool:
    return safe_content_type(message).startswith("message/")


def safe_content_type(message: Message) -> str:
    """The part's content type, lower case; `text/plain` (the RFC default) when it cannot be read."""
    try:
        return message.get_content_type()
    except HEADER_PARSE_ERRORS:
        return "text/plain"


def header_text(message: Message, name: str, default: str | None = None) -> str | None:
    """The first `name` header as text, decoded where it can be; its raw text where it cannot."""
    return next(_header_texts(message, name), default)


def header_texts(message: Message, name: str) -> list[str]:
    """Every `name` header as text, in order, each decoded where it can be, raw where it cannot."""
    return list(_header_texts(message, name))


def _header_texts(message: Message, name: str) -> Iterator[str]:
    wanted = name.lower()
    for raw_name, raw_value in message.raw_items():
        if raw_name.lower() == wanted:
            yield repair_surrogates(_render_header(message, raw_name, raw_value))


def _render_header(message: Message, name: str, value: Any) -> str:  # noqa: ANN401 - raw or object
    if not isinstance(value, str) or hasattr(value, "name"):
        return str(value)
    if len(value) > MAX_PARSED_HEADER_CHARS:
        return _unfold(value).strip()
    try:
        return str(message.policy.header_fetch_parse(name, value))
    except HEADER_PARSE_ERRORS:
        return _unfold(value).strip()


def _unfold(value: str) -> str:
    return _LINE_BREAK.sub("", value)


def find_body_part(message: EmailMessage, subtype: str) -> EmailMessage | None:
    """The part a mail client would show for text/`subtype` ("plain", "html"), or None."""
    try:
        found = message.get_body(preferencelist=(subtype,))
    except HEADER_PARSE_ERRORS:
        # get_body() recurses per level, and indexes into the text of a boundary-less multipart/related.
        return _first_inline_text_part(message, subtype)
    return found if isinstance(found, EmailMessage) else None


def _first_inline_text_part(message: EmailMessage, subtype: str) -> EmailMessage | None:
    for item in iter_parts(message, into_attached_messages=False):
        part = item.message
        if safe_content_type(part) == f"text/{subtype}" and not _is_attachment(part):
            return part
    return None


def _is_attachment(part: EmailMessage) -> bool:
    disposition = header_text(part, "Content-Disposition") or ""
    return disposition.split(";", 1)[0].strip().lower() == "attachment"


def decode_text_part(part: EmailMessage) -> str:
    """The text of a text/* part; a wrong or unknown charset gives U+FFFD or a utf-8 reading, not an error."""
    try:
        content = part.get_content()
    except (LookupError, ValueError, TypeError, AssertionError):
        # Unknown charset (LookupError), broken bytes or CTE (UnicodeError is a ValueError),
        # an RFC 2231 charset tuple (TypeError), inconsistent internal state (AssertionError).
        content = None
    if isinstance(content, str):
        return repair_surrogates(content)
    return decode_bytes(_payload_bytes(part), _content_charset(part))


def _payload_bytes(part: EmailMessage) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except HEADER_PARSE_ERRORS:
        payload = None
    if isinstance(payload, bytes):
        return payload
    text = raw_payload(part)
    if isinstance(text, str):
        return text.encode("utf-8", errors="surrogateescape")
    return b""


def _content_charset(part: EmailMessage) -> str | None:
    try:
        return part.get_content_charset()
    except HEADER_PARSE_ERRORS:
        return None


@dataclass(frozen=True)
class ParsedMail:
    """A parsed mail: the `EmailMessage` and safe ways to read it."""

    message: EmailMessage

    @cached_property
    def text_part(self) -> EmailMessage | None:
        """The text/plain body part, if there is one."""
        return find_body_part(self.message, "plain")

    @cached_property
    def html_part(self) -> EmailMessage | None:
        """The text/html body part, if there is one."""
        return find_body_part(self.message, "html")

    def text_body(self) -> str | None:
        """The plain-text body, decoded charset-safely, or None."""
        part = self.text_part
        return None if part is None else decode_text_part(part)

    def html_body(self) -> str | None:
        """The HTML body, decoded charset-safely, or None."""
        part = self.html_part
        return None if part is None else decode_text_part(part)

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first top-level `name` header as text (raw text if it cannot be parsed)."""
        return header_text(self.message, name, default)

    def headers(self, name: str) -> list[str]:
        """Every top-level `name` header as text."""
        return header_texts(self.message, name)

    def parts(self) -> Iterator[MailPart]:
        """Every part, depth first, safe on any nesting."""
        return iter_parts(self.message)

    @property
    def defects(self) -> list[MailDefect]:
        """Every defect of every part and header: the parser's, the header parser's, and ours."""
        found: list[MailDefect] = []
        for item in iter_parts(self.message):
            found.extend(
                MailDefect(item.path, type(defect).__name__, _defect_detail(defect))
                for defect in item.message.defects
            )
            found.extend(_header_defects(item))
        return found

    def defect_kinds(self) -> set[str]:
        """The class names of all defects, for quick checks."""
        return {defect.kind for defect in self.defects}


def _header_defects(item: MailPart) -> Iterator[MailDefect]:
    for name, value in item.message.raw_items():
        if isinstance(value, str) and _has_non_utf8_bytes(value):
            # policy.default reads 8-bit header bytes as UTF-8 and silently replaces what is not.
            detail = "8-bit bytes that are not UTF-8, replaced"
            yield MailDefect(item.path, errors.UndecodableBytesDefect.__name__, detail, name)
        if not isinstance(value, str) or hasattr(value, "name"):
            parsed: Any = value
        elif len(value) > MAX_PARSED_HEADER_CHARS:
            detail = f"{len(value)} characters, parsed up to {MAX_PARSED_HEADER_CHARS}"
            yield MailDefect(item.path, OversizedHeaderDefect.__name__, detail, name)
            continue
        else:
            try:
                parsed = item.message.policy.header_fetch_parse(name, value)
            except HEADER_PARSE_ERRORS as error:
                yield MailDefect(item.path, UnparseableHeaderDefect.__name__, _defect_detail(error), name)
                continue
            if isinstance(item.message.policy, EmailPolicy) and not hasattr(parsed, "defects"):
                # Our policy hands back the raw text of a header its parser failed on.
                yield MailDefect(item.path, UnparseableHeaderDefect.__name__, "kept as raw text", name)
                continue
        for defect in getattr(parsed, "defects", ()):
            yield MailDefect(item.path, type(defect).__name__, _defect_detail(defect), name)


def _has_non_utf8_bytes(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8", errors="surrogateescape").decode("utf-8")
    except UnicodeError:
        return True
    return False


def _defect_detail(defect: BaseException) -> str:
    return repair_surrogates(str(defect))[:MAX_DEFECT_DETAIL_CHARS]


def parse_mail(
    source: bytes | bytearray | memoryview | ReadableBytes,
    *,
    chunk_size: int = READ_CHUNK_SIZE,
    min_condensed_run: int = MIN_CONDENSED_RUN,
) -> ParsedMail:
    """Parse a mail from bytes or from a binary stream read in chunks. Never raises on malformed mail:
    what is wrong is recorded as defects (`ParsedMail.defects`).

    Runs of plain body lines at least `min_condensed_run` bytes long reach the stdlib parser as one line
    each (see below); the result is the same for any value."""
    return ParsedMail(_parse(_read_chunks(source, chunk_size), min_run=min_condensed_run))


def _parse(chunks: Iterable[bytes], *, min_run: int) -> EmailMessage:
    condenser = _RunCondenser(min_run)
    message, complete = _feed_parser(condenser.condense(chunks))
    if condenser.runs and not (complete and condenser.restore(message)):
        # A placeholder was not read as plain body text: the parser reads the mail as it came.
        message, _ = _feed_parser(condenser.original())
    _repair_parts(message)
    return message


def _feed_parser(chunks: Iterable[bytes]) -> tuple[EmailMessage, bool]:
    """The stdlib parser's message, and whether it read everything (False: stopped at the recursion limit)."""
    session = _ParsingSession()
    parser = BytesFeedParser(session, policy=MAIL_POLICY)
    session.active = True
    try:
        for chunk in chunks:
            parser.feed(chunk)
        return parser.close(), True
    except RecursionError:
        # Only when the caller is already deep in its stack; keep what the parser built so far.
        message = session.root if session.root is not None else _ParsedMessage(policy=MAIL_POLICY)
        message.defects.append(RecursionLimitDefect("parsing stopped at the recursion limit"))
        return message, False
    finally:
        session.active = False


def _read_chunks(source: bytes | bytearray | memoryview | ReadableBytes, chunk_size: int) -> Iterator[bytes]:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, not {chunk_size}")
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
        return
    while chunk := source.read(chunk_size):
        yield bytes(chunk)


# --- long runs of body lines ------------------------------------------------------------------------
#
# The stdlib parser costs about a microsecond per line, most of a second for a 40 MB mail of base64
# attachments. But a line that is neither empty nor starts with "--" means nothing to it inside a body:
# only a boundary ("--" + boundary) or, in message/delivery-status, an empty line ends a body. So a long
# run of such lines after an empty line goes to the parser as one placeholder line, and the run is put
# back into the payload that holds the placeholder. Where a placeholder lands anywhere but plain body
# text (a preamble, a header block, a container), the mail is parsed again as it came: the result is
# always exactly the stdlib's.

# Lines end at CRLF, LF or a lone CR, as the parser splits them; a pattern starts at the terminator before
# the line it looks at. A run starts after an empty line, at a line that is neither empty nor starts with
# "--" (so floods of empty or "--" lines are skipped in C), and ends before the first line that is either.
_RUN_START = (
    re.compile(rb"\n(?:\r\n|\n|\r)(?![\r\n]|--)"),
    re.compile(rb"\r\r\n?(?![\r\n]|--)"),
)
_RUN_END = (re.compile(rb"\n(?:--|[\r\n])"), re.compile(rb"\r(?:--|\r)"))
_LOOKAHEAD = 4
"""Bytes kept back at the end of a chunk: what a terminator starts depends on up to four bytes after it."""
MIN_GRID_CHECK = 16 * 1024
"""Pieces of a run at least this long are first checked as base64 lines (see `is_base64_lines`)."""
MAX_SHORT_RUNS = 10_000
"""After this many runs too short to replace, the rest of the mail goes to the parser as it comes: a mail
of many short paragraphs (or a hostile one) costs no more than the parser's own reading of it."""


def _first_match(data: bytearray, patterns: tuple[re.Pattern[bytes], ...]) -> re.Match[bytes] | None:
    """The earliest match of any pattern; each search stops where an earlier one matched (linear time)."""
    first: re.Match[bytes] | None = None
    for pattern in patterns:
        # A match starting before `first` is at most 5 bytes long, lookahead included.
        limit = len(data) if first is None else min(len(data), first.start() + 8)
        match = pattern.search(data, 0, limit)
        if match is not None and (first is None or match.start() < first.start()):
            first = match
    return first


def _last_line_start(data: bytearray) -> int:
    """Where the last line of `data` starts (0 if it has only one)."""
    end = len(data)
    if data.endswith(b"\r\n"):
        end -= 2
    elif data.endswith((b"\n", b"\r")):
        end -= 1
    return max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end)) + 1


class _RunCondenser:
    """Turns a mail's chunks into the chunks the parser is fed, each long run of body lines replaced
    by a placeholder line; keeps what it fed and the runs, to restore the runs or to feed the original."""

    def __init__(self, min_run: int) -> None:
        self.min_run = max(min_run, 1)
        self.runs: list[bytearray] = []
        self._fed: list[bytes | int] | None = []  # what the parser got: bytes, or the index of a run
        self._prefix = f"sesflow{secrets.token_hex(16)}run"  # unguessable: a mail cannot forge one
        self._pending = bytearray()
        self._run: bytearray | None = None  # the run being collected; None while looking for its start
        self._short_runs = 0

    def condense(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self._pending += chunk
            yield from self._advance(final=False)
        yield from self._advance(final=True)

    def _advance(self, *, final: bool) -> Iterator[bytes]:
        pending = self._pending
        while pending:
            if self._short_runs > MAX_SHORT_RUNS:
                yield self._feed(pending)
                pending.clear()
                return
            if self._run is None:
                start = _first_match(pending, _RUN_START)
                if start is None or (not final and start.end() + _LOOKAHEAD > len(pending)):
                    # Feed what cannot start a run; keep what might, until the bytes after it arrive.
                    kept = 0 if final else _LOOKAHEAD
                    cut = len(pending) - kept if start is None else start.start()
                    if cut > 0:
                        yield self._feed(pending[:cut])
                        del pending[:cut]
                    return
                yield self._feed(pending[: start.end()])
                del pending[: start.end()]
                self._run = bytearray()
                continue
            end = self._run_end(final)
            if end < 0:  # the run goes on past what has arrived
                keep = len(pending) - _LOOKAHEAD
                if keep > 0:
                    with memoryview(pending) as view:
                        self._run += view[:keep]
                    del pending[:keep]
                return
            with memoryview(pending) as view:
                self._run += view[:end]
            del pending[:end]
            yield from self._close_run()
        if final and self._run is not None:
            yield from self._close_run()

    def _run_end(self, final: bool) -> int:
        """Where the run stops: at the first line that is empty or starts with "--"; -1 when not in sight."""
        pending = self._pending
        if not self._run:  # the run's own first line
            if len(pending) < 2 and not final:
                return -1
            if pending.startswith(b"--") or pending[0] in b"\r\n":
                return 0
        if len(pending) >= MIN_GRID_CHECK and is_base64_lines(pending):
            # An attachment's lines, shown so in a few SIMD passes (the patterns visit every line).
            return len(pending) if final else -1
        found = _first_match(pending, _RUN_END)
        if found is None:
            return len(pending) if final else -1
        return found.start() + 1

    def _close_run(self) -> Iterator[bytes]:
        run, self._run = self._run or bytearray(), None
        # The last line stays: the parser strips the line break before a boundary off that line.
        last = _last_line_start(run)
        if last < self.min_run or run[last - 1] != ord("\n"):
            self._short_runs += 1
            if self._short_runs > MAX_SHORT_RUNS and not self.runs:
                self._fed = None  # no run was replaced: the original will not be asked for
            if run:
                yield self._feed(run)
            return
        tail = bytes(run[last:])
        del run[last:]
        assert self._fed is not None  # only dropped once no more runs are replaced
        self._fed.append(len(self.runs))
        self.runs.append(run)
        placeholder = f"{self._prefix}{len(self.runs) - 1}\n".encode()
        yield placeholder
        if tail:
            yield self._feed(tail)

    def _feed(self, data: bytes | bytearray) -> bytes:
        chunk = bytes(data)
        if self._fed is not None:
            self._fed.append(chunk)
        return chunk

    def original(self) -> Iterator[bytes]:
        """The mail as it came, in chunks (only asked for when a run was replaced)."""
        assert self._fed is not None
        for item in self._fed:
            yield item if isinstance(item, bytes) else bytes(self.runs[item])

    def restore(self, message: EmailMessage) -> bool:
        """Put every run back into the payload holding its placeholder; False (nothing changed) when a
        placeholder is anywhere but on a line of its own in the body text of a leaf part."""
        places = self._placements(message)
        if places is None or sorted(index for _, found in places for index, _ in found) != list(
            range(len(self.runs))
        ):
            return False
        for part, found in places:
            payload = raw_payload(part)
            assert isinstance(payload, str)
            # The payload is built as bytes and read once as the parser reads bytes (ASCII, anything else
            # as surrogate escapes): its text around the placeholders goes back to those bytes exactly.
            body: bytearray | None = None
            position = 0
            for index, at in found:
                before = payload[position:at].encode("ascii", "surrogateescape")
                run, self.runs[index] = self.runs[index], bytearray()
                if body is None and not before:
                    body = run  # a run that starts the body is not copied
                else:
                    body = body if body is not None else bytearray()
                    body += before
                    body += run
                position = payload.index("\n", at) + 1
            assert body is not None
            body += payload[position:].encode("ascii", "surrogateescape")
            part.set_payload(body.decode("ascii", "surrogateescape"))
        return True

    def _placements(self, message: EmailMessage) -> list[tuple[EmailMessage, list[tuple[int, int]]]] | None:
        places: list[tuple[EmailMessage, list[tuple[int, int]]]] = []
        prefix = self._prefix
        for item in iter_parts(message):
            part = item.message
            for text in (part.preamble, part.epilogue):
                if text is not None and prefix in text:
                    return None
            payload = raw_payload(part)
            if not isinstance(payload, str) or prefix not in payload:
                continue
            if safe_content_type(part).split("/", 1)[0] in ("multipart", "message"):
                return None
            found: list[tuple[int, int]] = []
            at = payload.find(prefix)
            while at >= 0:
                end = payload.find("\n", at)
                digits = payload[at + len(prefix) : end]
                if end < 0 or not digits.isdigit() or not digits.isascii():
                    return None
                if at == 0 and any(
                    isinstance(defect, errors.MissingHeaderBodySeparatorDefect) for defect in part.defects
                ):
                    return None  # read as a header line first: a run's own first line might have been one
                found.append((int(digits), at))
                at = payload.find(prefix, end)
            places.append((part, found))
        return places


def _repair_parts(message: EmailMessage) -> None:
    multipart_ids: set[int] = set()
    for item in iter_parts(message):
        part = item.message
        content_type = safe_content_type(part)
        if content_type.startswith("multipart/"):
            multipart_ids.add(id(part))
        opaque = isinstance(part, _ParsedMessage) and part.opaque
        if opaque and content_type.startswith(("multipart/", "message/")):
            part.defects.append(
                NestingTooDeepDefect(f"deeper than {MAX_NESTING_DEPTH} levels; kept unparsed")
            )
        if item.parent is not None and id(item.parent) in multipart_ids:
            _give_back_body_lines(part)


def _give_back_body_lines(part: EmailMessage) -> None:
    """Move body lines the parser took for headers back into the body.

    A device that omits the blank line after a part's headers makes the parser read body lines
    like `Line1:text` as headers. Inside a MIME part only Content-*, MIME-Version and X-* headers
    mean anything, so when the separator is evidently missing (the parser's defect, or an empty body),
    a trailing run of other "headers" after real ones is body text.
    """
    payload = raw_payload(part)
    if not isinstance(payload, str):
        return
    separator_missing = any(
        isinstance(defect, errors.MissingHeaderBodySeparatorDefect) for defect in part.defects
    )
    if payload.strip() and not separator_missing:
        return
    headers = list(part.raw_items())
    split = len(headers)
    while split > 0 and not _MIME_PART_HEADER.match(headers[split - 1][0]):
        split -= 1
    if split in (0, len(headers)):
        return
    kept, moved = headers[:split], headers[split:]
    linesep = "\n" if "\n" in payload and "\r\n" not in payload else "\r\n"
    # The parser drops the whitespace after the colon; the line is rebuilt without it.
    body_lines = linesep.join(f"{name}:{value}" for name, value in moved)
    for name in {name for name, _ in headers}:
        del part[name]
    for name, value in kept:
        part.set_raw(name, value)
    part.set_payload(body_lines + (linesep + payload if payload else ""))
    part.defects.append(BodyLinesInHeaderBlockDefect(f"{len(moved)} line(s) moved to the body"))
