"""Hostile and broken mail, built byte by byte: the cases every layer that reads mail is tried on (the MIME
parser, the relay, the campaigns), each with the defect or outcome specific to it."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sesflow.mail import ParsedMail, iter_attachments, write_payload

CRLF = b"\r\n"


# --- builders -----------------------------------------------------------------------------------


def mail(*headers: bytes, body: bytes = b"hello\r\n") -> bytes:
    """Header lines, a blank line, the body."""
    return CRLF.join(headers) + CRLF + CRLF + body


def multipart(*parts: bytes, boundary: bytes = b"B", subtype: bytes = b"mixed", close: bool = True) -> bytes:
    body = b"".join(b"--" + boundary + CRLF + part + CRLF for part in parts)
    if close:
        body += b"--" + boundary + b"--" + CRLF
    return mail(
        b"From: sender@example.com",
        b"Subject: test",
        b"MIME-Version: 1.0",
        b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"',
        body=body,
    )


def part(*headers: bytes, body: bytes = b"hello") -> bytes:
    return CRLF.join(headers) + CRLF + CRLF + body


TEXT_PART = part(b"Content-Type: text/plain; charset=utf-8", body=b"the body")


def attachment(disposition: bytes, body: bytes = b"eA==", *extra: bytes) -> bytes:
    """A base64 attachment part (decoding to b"x" by default) with the given Content-Disposition."""
    return part(
        b"Content-Type: application/octet-stream",
        b"Content-Transfer-Encoding: base64",
        b"Content-Disposition: " + disposition,
        *extra,
        body=body,
    )


def nested_multiparts(depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (level, level)
        for level in range(depth)
    )
    closing = b"".join(b"\r\n--n%d--" % level for level in reversed(range(depth)))
    return b"From: a@example.com\r\n" + opening + b"Content-Type: text/plain\r\n\r\ndeep text" + closing


def many_parts(count: int) -> bytes:
    body = b"".join(b"--B\r\n\r\npart %d\r\n" % number for number in range(count)) + b"--B--\r\n"
    return mail(b'Content-Type: multipart/mixed; boundary="B"', body=body)


# --- observations -------------------------------------------------------------------------------


def names(mail: ParsedMail) -> list[str]:
    return [item.filename for item in iter_attachments(mail)]


def contents(mail: ParsedMail) -> list[bytes]:
    found = []
    for item in iter_attachments(mail):
        sink = io.BytesIO()
        write_payload(item, sink)
        found.append(sink.getvalue())
    return found


def text(mail: ParsedMail) -> str | None:
    return mail.text_body()


def header(name: str) -> Callable[[ParsedMail], str | None]:
    return lambda mail: mail.header(name)


def header_length(name: str) -> Callable[[ParsedMail], int]:
    return lambda mail: len(mail.header(name) or "")


def part_count(mail: ParsedMail) -> int:
    return sum(1 for _ in mail.parts())


def content_types(mail: ParsedMail) -> list[str]:
    return [item.content_type for item in iter_attachments(mail)]


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    defects: frozenset[str] = frozenset()
    observe: Callable[[ParsedMail], Any] | None = None
    expected: Any = None


def case(
    name: str,
    build: Callable[[], bytes],
    *defects: str,
    observe: Callable[[ParsedMail], Any] | None = None,
    expected: Any = None,
) -> Case:
    return Case(name, build, frozenset(defects), observe, expected)


CASES = [
    # charsets
    case(
        "unknown_charset_falls_back_to_utf8",
        lambda: mail(b'Content-Type: text/plain; charset="x-unknown"', body=b"caf\xc3\xa9"),
        observe=text,
        expected="café",
    ),
    case(
        "utf8_declared_body_with_latin1_bytes",
        lambda: mail(b"Content-Type: text/plain; charset=utf-8", body=b"caf\xe9 ol\xe9"),
        observe=text,
        expected="caf\ufffd ol\ufffd",
    ),
    case(
        "non_text_codec_as_charset",
        lambda: mail(b"Content-Type: text/plain; charset=base64", body=b"h\xc3\xa9llo"),
        observe=text,
        expected="héllo",
    ),
    case(
        "undeclared_8bit_junk_body",
        lambda: mail(b"Subject: junk", body=b"ok \xff\xfe\x80 end"),
        observe=text,
        expected="ok \ufffd\ufffd\ufffd end",
    ),
    case(
        "rfc2231_charset_tuple_in_content_type",
        lambda: mail(b"Content-Type: text/plain; charset*=x-bad''utf-8", body=b"plain words"),
        observe=text,
        expected="plain words",
    ),
    # headers
    case(
        "raw_utf8_bytes_in_subject",
        lambda: mail(b"Subject: caf\xc3\xa9 \xe2\x82\xac"),
        observe=header("Subject"),
        expected="café €",
    ),
    case(
        "raw_latin1_bytes_in_subject",
        lambda: mail(b"Subject: caf\xe9"),
        "UndecodableBytesDefect",
        observe=header("Subject"),
        expected="caf\ufffd",
    ),
    case(
        "encoded_word_with_unknown_charset",
        lambda: mail(b"Subject: =?x-unknown?q?caf=E9?="),
        observe=header("Subject"),
        expected="caf\ufffd",
    ),
    case(
        "unterminated_encoded_word",
        lambda: mail(b"Subject: =?utf-8?q?never_closed"),
        observe=header("Subject"),
        expected="=?utf-8?q?never_closed",
    ),
    case(
        "first_header_line_is_a_continuation",
        lambda: mail(b" folded: first", b"Subject: second"),
        "FirstHeaderLineIsContinuationDefect",
        observe=header("Subject"),
        expected="second",
    ),
    case(
        "header_without_a_name",
        lambda: mail(b": no name", b"Subject: named"),
        "InvalidHeaderDefect",
        observe=header("Subject"),
        expected="named",
    ),
    case(
        "nested_comment_bomb_in_address_header",
        lambda: mail(b"To: " + b"(" * 5000 + b"a@example.com"),
        "UnparseableHeaderDefect",
        observe=header_length("To"),
        expected=5000 + len("a@example.com"),
    ),
    case(
        "one_megabyte_header_line",
        lambda: mail(b"X-Long: " + b"a" * 1_000_000),
        "OversizedHeaderDefect",
        observe=header_length("X-Long"),
        expected=1_000_000,
    ),
    case(
        "one_megabyte_subject_of_words",
        lambda: mail(b"Subject: " + b"word " * 200_000),
        "OversizedHeaderDefect",
        observe=lambda mail: (mail.header("Subject") or "")[:9],
        expected="word word",
    ),
    case(
        "one_megabyte_address_list",
        lambda: mail(b"To: " + b"a@example.com, " * 70_000),
        "OversizedHeaderDefect",
        observe=text,
        expected="hello\r\n",
    ),
    case(
        "one_megabyte_content_type_parameters",
        lambda: mail(b"Content-Type: text/html; " + b"a=b; " * 200_000, body=b"<p>hi</p>"),
        "OversizedHeaderDefect",
        observe=lambda mail: mail.html_body(),
        expected="<p>hi</p>",
    ),
    case(
        "content_type_without_slash",
        lambda: mail(b"Content-Type: garbage", body=b"still text"),
        observe=text,
        expected="still text",
    ),
    # structure
    case(
        "no_headers_at_all",
        lambda: b"just a body line\r\nand another\r\n",
        "MissingHeaderBodySeparatorDefect",
        observe=text,
        expected="just a body line\r\nand another\r\n",
    ),
    case(
        "only_headers_no_body",
        lambda: b"From: a@example.com\r\nSubject: only headers",
        observe=lambda mail: (mail.header("Subject"), mail.text_body()),
        expected=("only headers", ""),
    ),
    case(
        "empty_body",
        lambda: mail(b"Subject: empty", body=b""),
        observe=text,
        expected="",
    ),
    case(
        "empty_input",
        lambda: b"",
        observe=lambda mail: (part_count(mail), mail.header("Subject"), mail.text_body()),
        expected=(1, None, ""),
    ),
    case(
        "multipart_without_boundary_parameter",
        lambda: mail(b"Content-Type: multipart/mixed", body=b"--B\r\n\r\nlost\r\n--B--\r\n"),
        "NoBoundaryInMultipartDefect",
        observe=lambda mail: (mail.text_body(), names(mail)),
        expected=(None, []),
    ),
    case(
        "boundary_never_appears",
        lambda: mail(b'Content-Type: multipart/mixed; boundary="B"', body=b"--X\r\n\r\nhidden\r\n--X--\r\n"),
        "StartBoundaryNotFoundDefect",
        observe=names,
        expected=[],
    ),
    case(
        "closing_boundary_missing",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="kept.bin"'), close=False),
        "CloseBoundaryNotFoundDefect",
        observe=lambda mail: (names(mail), contents(mail)),
        expected=(["kept.bin"], [b"x"]),
    ),
    case(
        "inner_multipart_reuses_outer_boundary",
        lambda: multipart(
            b'Content-Type: multipart/alternative; boundary="B"\r\n\r\n--B\r\n' + TEXT_PART,
            attachment(b'attachment; filename="after.bin"'),
        ),
        "StartBoundaryNotFoundDefect",
        observe=lambda mail: ([item.message.get_content_type() for item in mail.parts()], names(mail)),
        expected=(
            ["multipart/mixed", "multipart/alternative", "text/plain", "application/octet-stream"],
            ["after.bin"],
        ),
    ),
    case(
        "ten_thousand_parts",
        lambda: many_parts(10_000),
        observe=lambda mail: (part_count(mail), mail.text_body()),
        expected=(10_001, "part 0"),
    ),
    case(
        "nested_five_hundred_levels",
        lambda: nested_multiparts(500),
        "NestingTooDeepDefect",
        observe=lambda mail: max(len(item.path) for item in mail.parts()),
        expected=51,
    ),
    case(
        # get_body() itself raises AttributeError on this one
        "related_without_boundary_inside_mixed",
        lambda: multipart(
            b"Content-Type: multipart/related\r\n\r\nno boundary here",
            part(b"Content-Type: text/plain", body=b"after"),
        ),
        "NoBoundaryInMultipartDefect",
        observe=text,
        expected="after",
    ),
    case(
        "body_lines_taken_for_part_headers",
        lambda: multipart(
            b"Content-Type: text/plain\r\nLine1:first line\r\nLine2:second line",
            attachment(b'attachment; filename="a.bin"'),
        ),
        "BodyLinesInHeaderBlockDefect",
        observe=text,
        expected="Line1:first line\r\nLine2:second line",
    ),
    case(
        "base64_part_without_blank_line",
        lambda: multipart(
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="d.bin"\r\nY29udGVudAo='
        ),
        "MissingHeaderBodySeparatorDefect",
        observe=contents,
        expected=[b"content\n"],
    ),
    # filenames
    case(
        "filename_climbing_with_slashes",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="../../etc/passwd"')),
        observe=lambda mail: [(item.filename, item.original_filename) for item in iter_attachments(mail)],
        expected=[("passwd", "../../etc/passwd")],
    ),
    case(
        "filename_climbing_with_backslashes",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="..\\\\..\\\\win.ini"')),
        observe=names,
        expected=["win.ini"],
    ),
    case(
        "absolute_filename",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="/abs/path"')),
        observe=names,
        expected=["path"],
    ),
    case(
        "drive_letter_filename",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="C:\\\\x"')),
        observe=names,
        expected=["x"],
    ),
    case(
        "nul_in_filename",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="a\x00b.txt"')),
        "NonPrintableDefect",
        observe=names,
        expected=["ab.txt"],
    ),
    case(
        "header_injection_in_encoded_word_filename",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="=?utf-8?q?a=0D=0ABcc:_x@y.txt?="')),
        observe=names,
        expected=["a Bcc_ x@y.txt"],
    ),
    case(
        "header_injection_in_rfc2231_filename",
        lambda: multipart(TEXT_PART, attachment(b"attachment; filename*=utf-8''evil%0D%0ABcc%3A%20x.txt")),
        observe=names,
        expected=["evil Bcc_ x.txt"],
    ),
    case(
        "encoded_word_filename",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="=?utf-8?b?w6l0w6kudHh0?="')),
        observe=names,
        expected=["été.txt"],
    ),
    case(
        "rfc2231_filename_with_unknown_charset",
        lambda: multipart(TEXT_PART, attachment(b"attachment; filename*=x-unknown''%E9t%E9.txt")),
        "UndecodableBytesDefect",
        observe=names,
        expected=["\ufffdt\ufffd.txt"],
    ),
    case(
        "filename_of_dots_only_gets_a_fallback",
        lambda: multipart(TEXT_PART, attachment(b'attachment; filename="..."')),
        observe=names,
        expected=["attachment-1.bin"],
    ),
    # payloads
    case(
        "garbage_inside_base64",
        lambda: multipart(TEXT_PART, attachment(b"attachment; filename=g.bin", b"!!Y29u**dGVu\r\n##dAo=")),
        "InvalidBase64CharactersDefect",
        observe=contents,
        expected=[b"content\n"],
    ),
    case(
        "base64_with_a_lone_last_character",
        lambda: multipart(TEXT_PART, attachment(b"attachment; filename=l.bin", b"Y29udGVuY")),
        "InvalidBase64LengthDefect",
        observe=contents,
        expected=[b"conten"],
    ),
    case(
        "base64_missing_padding",
        lambda: multipart(TEXT_PART, attachment(b"attachment; filename=p.bin", b"Y29udGVudAo")),
        "InvalidBase64PaddingDefect",
        observe=contents,
        expected=[b"content\n"],
    ),
    case(
        "unknown_transfer_encoding_value",
        lambda: multipart(
            TEXT_PART,
            part(
                b"Content-Type: application/octet-stream",
                b"Content-Transfer-Encoding: bas64",
                b"Content-Disposition: attachment; filename=u.bin",
                body=b"Y29udGVudAo=",
            ),
        ),
        "UnknownTransferEncodingDefect",
        observe=contents,
        expected=[b"Y29udGVudAo="],
    ),
    case(
        "broken_quoted_printable_escapes",
        lambda: multipart(
            TEXT_PART,
            part(
                b"Content-Type: application/octet-stream",
                b"Content-Transfer-Encoding: quoted-printable",
                b"Content-Disposition: attachment; filename=q.bin",
                body=b"a=ZZb=41=\r\nc",
            ),
        ),
        observe=contents,
        expected=[b"a=ZZbAc"],
    ),
    case(
        "uuencoded_attachment",
        lambda: multipart(
            TEXT_PART,
            part(
                b"Content-Type: application/octet-stream",
                b"Content-Transfer-Encoding: x-uuencode",
                b"Content-Disposition: attachment; filename=uu.bin",
                body=b"begin 644 uu.bin\r\n(8V]N=&5N=`H`\r\n`\r\nend",
            ),
        ),
        observe=contents,
        expected=[b"content\n"],
    ),
    case(
        "attached_message_is_one_attachment",
        lambda: multipart(
            TEXT_PART,
            part(
                b"Content-Type: message/rfc822",
                body=mail(b"From: inner@example.com", b"Subject: inner", body=b"inner body"),
            ),
        ),
        observe=lambda mail: (names(mail), content_types(mail), contents(mail)[0].startswith(b"From: inner")),
        expected=(["attachment-1.eml"], ["message/rfc822"], True),
    ),
    case(
        "attached_message_with_garbage_inside",
        lambda: multipart(TEXT_PART, part(b"Content-Type: message/rfc822", body=b"\x00\xff garbage\r\n:::")),
        observe=lambda mail: (content_types(mail), b"garbage" in contents(mail)[0]),
        expected=(["message/rfc822"], True),
    ),
]
