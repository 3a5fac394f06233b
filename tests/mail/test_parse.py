"""Parsing: streams read in bounded chunks, safe header access, bodies, defects with their place,
and nesting that can never exhaust the stack."""

from __future__ import annotations

import inspect
import io
import sys

import pytest
from botocore.response import StreamingBody

from sesflow.mail import MAIL_POLICY, header_text, iter_parts, parse_mail
from sesflow.mail.parse import MAX_NESTING_DEPTH, MAX_PARSED_HEADER_CHARS

pytestmark = pytest.mark.unit

ALTERNATIVE = (
    b"From: Sender <sender@example.com>\r\n"
    b"To: a@example.com, b@example.com\r\n"
    b"To: c@example.com\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9?=\r\n"
    b'Content-Type: multipart/alternative; boundary="A"\r\n'
    b"\r\n"
    b"--A\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=E9 au lait\r\n"
    b"--A\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"PHA+Y2Fmw6k8L3A+\r\n"
    b"--A--\r\n"
)


def nested_multiparts(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (level, level)
        for level in range(depth)
    )
    closing = b"".join(b"\r\n--n%d--" % level for level in reversed(range(depth)))
    return b"Subject: deep\r\n" + opening + b"Content-Type: text/plain\r\n\r\ndeep text" + closing


class RecordingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.requested: list[int | None] = []

    def read(self, size: int | None = -1, /) -> bytes:
        self.requested.append(size)
        return super().read(size)


def test_stream_is_read_in_bounded_chunks_until_its_end() -> None:
    stream = RecordingStream(ALTERNATIVE)
    mail = parse_mail(stream, chunk_size=64)
    assert len(stream.requested) > 2
    assert set(stream.requested) == {64}
    assert mail.text_body() == parse_mail(ALTERNATIVE).text_body()


def test_mail_parses_straight_from_a_botocore_streaming_body() -> None:
    body = StreamingBody(io.BytesIO(ALTERNATIVE), len(ALTERNATIVE))
    assert parse_mail(body).html_body() == "<p>café</p>"


def test_bodies_are_decoded_with_their_declared_charsets() -> None:
    mail = parse_mail(ALTERNATIVE)
    assert mail.text_body() == "café au lait"
    assert mail.html_body() == "<p>café</p>"


def test_html_only_mail_has_no_text_body() -> None:
    mail = parse_mail(b"Content-Type: text/html\r\n\r\n<b>hi</b>")
    assert mail.text_body() is None
    assert mail.html_body() == "<b>hi</b>"


def test_headers_are_decoded_and_repeated_ones_all_returned() -> None:
    mail = parse_mail(ALTERNATIVE)
    assert mail.header("Subject") == "café"
    assert mail.header("subject") == "café"
    assert mail.headers("To") == ["a@example.com, b@example.com", "c@example.com"]
    assert mail.header("X-Missing") is None
    assert mail.header("X-Missing", "fallback") == "fallback"
    assert mail.headers("X-Missing") == []


def test_unparseable_header_gives_its_raw_text() -> None:
    bomb = "(" * 3000 + "a@example.com"
    mail = parse_mail(f"To: {bomb}\r\n\r\nbody".encode())
    assert mail.header("To") == bomb
    assert any(d.kind == "UnparseableHeaderDefect" and d.header == "To" for d in mail.defects)


def test_header_over_the_parse_limit_gives_its_whole_raw_text() -> None:
    value = "=?utf-8?q?x?= " * (MAX_PARSED_HEADER_CHARS // 7)
    mail = parse_mail(f"Subject: {value}\r\n\r\nbody".encode())
    assert mail.header("Subject") == value.strip()
    assert [d.header for d in mail.defects if d.kind == "OversizedHeaderDefect"] == ["Subject"]


def test_header_text_works_on_a_message_not_parsed_by_us() -> None:
    from email import message_from_bytes, policy

    message = message_from_bytes(b"To: " + b"(" * 3000 + b"x@example.com\r\n\r\n", policy=policy.default)
    with pytest.raises(RecursionError):
        str(message["To"])
    assert header_text(message, "To") == "(" * 3000 + "x@example.com"


def test_folded_header_is_unfolded() -> None:
    mail = parse_mail(b"Subject: first\r\n second\r\n\tthird\r\n\r\n")
    assert mail.header("Subject") == "first second\tthird"


def test_defects_name_their_part_and_header() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b'--B\r\nContent-Disposition: attachment; filename="a\x00b"\r\n\r\nx\r\n'
        b"--B--\r\n"
    )
    defects = parse_mail(raw).defects
    assert any(
        (d.part_path, d.kind, d.header) == ((2,), "NonPrintableDefect", "Content-Disposition")
        for d in defects
    )
    assert {d.section for d in defects} == {"2"}


def test_parts_are_walked_in_document_order_with_their_paths() -> None:
    paths = [(item.path, item.message.get_content_type()) for item in parse_mail(ALTERNATIVE).parts()]
    assert paths == [((), "multipart/alternative"), ((1,), "text/plain"), ((2,), "text/html")]


def test_nesting_within_the_cap_is_parsed_fully() -> None:
    mail = parse_mail(nested_multiparts(MAX_NESTING_DEPTH - 5))
    assert mail.text_body() == "deep text"
    assert "NestingTooDeepDefect" not in mail.defect_kinds()


def test_nesting_past_the_cap_is_kept_opaque_and_the_stdlib_walk_stays_safe() -> None:
    mail = parse_mail(nested_multiparts(2000))
    assert "NestingTooDeepDefect" in mail.defect_kinds()
    assert max(len(item.path) for item in mail.parts()) == MAX_NESTING_DEPTH + 1
    assert len(list(mail.message.walk())) == MAX_NESTING_DEPTH + 2
    (opaque,) = [item.message for item in mail.parts() if not item.message.is_multipart()]
    assert opaque.get_content_type() == "multipart/mixed"
    assert "deep text" in opaque.get_payload()


def test_iter_parts_does_not_recurse() -> None:
    depth_before = len(inspect.stack(0))
    limit = sys.getrecursionlimit()
    mail = parse_mail(nested_multiparts(MAX_NESTING_DEPTH))
    sys.setrecursionlimit(depth_before + 30)
    try:
        count = sum(1 for _ in iter_parts(mail.message))
    finally:
        sys.setrecursionlimit(limit)
    assert count == MAX_NESTING_DEPTH + 1


def test_parsing_at_the_recursion_limit_keeps_what_was_parsed() -> None:
    raw = nested_multiparts(MAX_NESTING_DEPTH)
    depth_before = len(inspect.stack(0))
    limit = sys.getrecursionlimit()
    outcomes = []
    try:
        for headroom in range(40, 200, 10):
            sys.setrecursionlimit(depth_before + headroom)
            mail = parse_mail(raw)
            outcomes.append("RecursionLimitDefect" in {type(d).__name__ for d in mail.message.defects})
            if outcomes[-1]:
                break
    finally:
        sys.setrecursionlimit(limit)
    assert outcomes[-1], "no headroom made the parser hit the recursion limit"
    assert mail.header("Subject") == "deep"


def test_parsed_mail_uses_the_default_policy_settings() -> None:
    mail = parse_mail(ALTERNATIVE)
    assert mail.message.policy is MAIL_POLICY
    assert mail.message.policy.linesep == "\n"
    assert mail.message.policy.utf8 is False


def test_stream_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        parse_mail(b"x", chunk_size=0)
