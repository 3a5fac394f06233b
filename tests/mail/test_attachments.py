"""Attachments: which parts count, their metadata, safe names, and payloads written to a sink."""

from __future__ import annotations

import dataclasses
import io
from email.message import EmailMessage
from typing import Any

import pytest

import sesflow.mail.attachments as attachments_module
from sesflow.mail import (
    Attachment,
    fallback_filename,
    iter_attachments,
    parse_mail,
    payload_size,
    safe_filename,
    transfer_encoding,
    write_payload,
)

pytestmark = pytest.mark.unit

RICH = (
    b"From: a@example.com\r\n"
    b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n'
    b"--M\r\n"
    b'Content-Type: multipart/related; boundary="R"\r\n\r\n'
    b"--R\r\n"
    b'Content-Type: multipart/alternative; boundary="A"\r\n\r\n'
    b"--A\r\nContent-Type: text/plain\r\n\r\nplain body\r\n"
    b'--A\r\nContent-Type: text/html\r\n\r\n<img src="cid:logo@x">\r\n'
    b"--A--\r\n"
    b"--R\r\n"
    b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <logo@x>\r\n\r\n"
    b"iVBORw0KGgo=\r\n"
    b"--R--\r\n"
    b"--M\r\n"
    b"Content-Type: application/pdf; name=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"JVBERi0xLjQK\r\n"
    b"--M\r\n"
    b"Content-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nsecond text\r\n"
    b"--M\r\n"
    b"Content-Type: text/plain\r\n\r\nthird text, no disposition\r\n"
    b"--M\r\n"
    b"Content-Type: text/csv\r\nContent-Disposition: attachment\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"a,b=0D=0A1,2\r\n"
    b"--M--\r\n"
)


def written(item: Attachment | EmailMessage, chunk_size: int = 64 * 1024) -> bytes:
    sink = io.BytesIO()
    assert write_payload(item, sink, chunk_size) == len(sink.getvalue())
    return sink.getvalue()


def test_attachments_and_inline_parts_are_listed_in_order_with_metadata() -> None:
    items = list(iter_attachments(parse_mail(RICH)))
    summary = [
        (
            item.index,
            item.filename,
            item.original_filename,
            item.content_type,
            item.disposition,
            item.content_id,
        )
        for item in items
    ]
    assert summary == [
        (1, "attachment-1.png", None, "image/png", "inline", "logo@x"),
        (2, "report.pdf", "report.pdf", "application/pdf", "attachment", None),
        (3, "attachment-3.txt", None, "text/plain", "inline", None),
        (4, "attachment-4.csv", None, "text/csv", "attachment", None),
    ]
    assert [item.part_path for item in items] == [(1, 2), (2,), (3,), (5,)]


def test_sizes_are_exact_decoded_byte_counts() -> None:
    items = list(iter_attachments(parse_mail(RICH)))
    contents = [written(item) for item in items]
    assert contents == [b"\x89PNG\r\n\x1a\n", b"%PDF-1.4\n", b"second text", b"a,b\r\n1,2"]
    assert [item.size for item in items] == [len(content) for content in contents]


def test_chosen_bodies_are_not_attachments() -> None:
    mail = parse_mail(RICH)
    listed = {id(item.part) for item in iter_attachments(mail)}
    assert mail.text_part is not None and mail.html_part is not None
    assert id(mail.text_part) not in listed
    assert id(mail.html_part) not in listed


def test_single_part_mail_that_is_itself_an_attachment_is_listed() -> None:
    raw = (
        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=only.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    )
    mail = parse_mail(raw)
    assert mail.text_body() is None
    assert [(item.filename, written(item)) for item in iter_attachments(mail)] == [
        ("only.pdf", b"%PDF-1.4\n")
    ]


def test_attached_message_is_written_as_a_whole_message() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n'
        b"--M\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        b'--M\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"\r\n\r\n'
        b'From: inner@example.com\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary="I"\r\n\r\n'
        b"--I\r\nContent-Type: text/plain\r\n\r\ninner text\r\n"
        b"--I\r\nContent-Disposition: attachment; filename=inner.bin\r\n\r\nx\r\n"
        b"--I--\r\n"
        b"--M--\r\n"
    )
    (item,) = iter_attachments(parse_mail(raw))
    assert (item.filename, item.content_type) == ("fwd.eml", "message/rfc822")
    content = written(item)
    assert content.startswith(b"From: inner@example.com\r\nSubject: inner\r\n")
    assert b"inner text" in content and b"filename=inner.bin" in content
    assert item.size == len(content)
    assert parse_mail(content).text_body() == "inner text"


def test_writes_are_chunked_and_never_larger_than_the_chunk_size() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    raw = _base64_attachment_mail(payload)
    (item,) = iter_attachments(parse_mail(raw))
    sizes: list[int] = []

    class RecordingSink:
        def __init__(self) -> None:
            self.buffer = bytearray()

        def write(self, data: bytes) -> None:
            sizes.append(len(data))
            self.buffer += data

    sink = RecordingSink()
    assert write_payload(item, sink, chunk_size=64 * 1024) == len(payload)
    assert bytes(sink.buffer) == payload
    assert len(sizes) == 16
    assert max(sizes) == 64 * 1024


def _base64_attachment_mail(payload: bytes) -> bytes:
    import base64

    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n'
        b"--M\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=big.bin\r\n\r\n" + encoded + b"--M--\r\n"
    )


def test_decoding_defects_are_recorded_once_on_the_part() -> None:
    raw = _base64_attachment_mail(b"").replace(b"\r\n--M--", b"!!Y29u#dGVudAo=\r\n--M--")
    mail = parse_mail(raw)
    (item,) = iter_attachments(mail)
    assert written(item) == b"content\n"
    assert written(item) == b"content\n"
    kinds = [type(defect).__name__ for defect in item.part.defects]
    assert kinds.count("InvalidBase64CharactersDefect") == 1
    assert "InvalidBase64CharactersDefect" in mail.defect_kinds()


def test_a_multipart_container_has_no_payload_to_write() -> None:
    mail = parse_mail(RICH)
    with pytest.raises(ValueError, match="multipart"):
        write_payload(mail.message, io.BytesIO())
    with pytest.raises(ValueError, match="chunk_size"):
        write_payload(mail.message, io.BytesIO(), chunk_size=0)


def test_payload_size_counts_without_a_sink() -> None:
    (item,) = iter_attachments(parse_mail(_base64_attachment_mail(b"12345")))
    assert payload_size(item) == payload_size(item.part) == 5


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per base64 payload decode."""
    calls: list[int] = []
    original = attachments_module._write_base64

    def counting(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        original(*args, **kwargs)

    monkeypatch.setattr(attachments_module, "_write_base64", counting)
    return calls


def test_listing_attachments_decodes_nothing_and_size_decodes_once(decodes: list[int]) -> None:
    (item,) = iter_attachments(parse_mail(_base64_attachment_mail(b"12345")))
    assert decodes == []
    assert "size" not in repr(item)
    assert item.size == 5 and item.size == 5 and payload_size(item) == 5
    assert len(decodes) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.size = 6  # type: ignore[misc]


def test_writing_the_payload_gives_the_size_without_decoding_again(decodes: list[int]) -> None:
    (item,) = iter_attachments(parse_mail(_base64_attachment_mail(b"12345")))
    assert written(item) == b"12345"
    # The relay drops a payload once stored; the size stays the one written.
    item.part.set_payload("")
    assert item.size == 5
    assert len(decodes) == 1


def test_size_is_not_part_of_equality() -> None:
    raw = _base64_attachment_mail(b"12345")
    (first,) = iter_attachments(parse_mail(raw))
    (second,) = iter_attachments(parse_mail(raw))
    assert first.size == 5
    assert first == second and hash(first) == hash(second)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Content-Transfer-Encoding: Base64", "base64"),
        (b"Content-Transfer-Encoding:  QUOTED-PRINTABLE (comment)", "quoted-printable"),
        (b"Content-Transfer-Encoding: bas64", "bas64"),
        (b"X-Other: 1", "7bit"),
    ],
)
def test_transfer_encoding_is_read_leniently(header: bytes, expected: str) -> None:
    assert transfer_encoding(parse_mail(header + b"\r\n\r\nx").message) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("/abs/path", "path"),
        ("C:\\x", "x"),
        ("C:x.txt", "x.txt"),
        ("dir/", "dir"),
        ("a\x00b.txt", "ab.txt"),
        ("a\r\nBcc: x@y.txt", "a Bcc_ x@y.txt"),
        ("  many   \t spaces .txt ", "many spaces .txt"),
        (".bashrc", "bashrc"),
        ("...", "fallback.bin"),
        ("", "fallback.bin"),
        (None, "fallback.bin"),
        ("..", "fallback.bin"),
        ("/", "fallback.bin"),
        ("\u202egnp.exe", "gnp.exe"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ('what?<is>"this"|*.txt', "what__is__this___.txt"),
        ("=?utf-8?b?w6l0w6kudHh0?=", "été.txt"),
        ("=?x-unknown?q?caf=E9?=.txt", "caf\ufffd.txt"),
        ("cafe\u0301.txt", "café.txt"),
        ("trailing dots...", "trailing dots"),
        ("bad\udce9bytes.txt", "bad\ufffdbytes.txt"),
    ],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name, "fallback.bin") == expected


def test_safe_filename_caps_utf8_length_and_keeps_the_extension() -> None:
    assert safe_filename("x" * 300 + ".pdf", "f") == "x" * 196 + ".pdf"
    capped = safe_filename("é" * 150 + ".txt", "f")
    assert capped == "é" * 98 + ".txt"
    assert len(capped.encode()) == 200
    assert safe_filename("é" * 150 + ".txt", "f", max_len=11) == "ééé.txt"
    assert safe_filename("y" * 300, "f", max_len=10) == "y" * 10
    assert safe_filename("a." + "e" * 40, "f", max_len=10) == "a." + "e" * 8


def test_safe_filename_rejects_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="max_len"):
        safe_filename("a", "b", max_len=0)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/pdf", "attachment-3.pdf"),
        ("TEXT/PLAIN", "attachment-3.txt"),
        ("message/rfc822", "attachment-3.eml"),
        ("application/x-nobody-knows", "attachment-3"),
    ],
)
def test_fallback_filename_takes_its_extension_from_the_content_type(
    content_type: str, expected: str
) -> None:
    assert fallback_filename(3, content_type) == expected
