"""Chunked payload decoding gives exactly the bytes a whole-payload decode gives, whatever the sizes."""

from __future__ import annotations

import base64
import binascii
import io

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sesflow.mail import iter_attachments, parse_mail, write_payload

pytestmark = pytest.mark.unit

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def attachment_mail(transfer_encoding: bytes, body: bytes) -> bytes:
    return (
        b'Content-Type: multipart/mixed; boundary="=_M_="\r\n\r\n'
        b"--=_M_=\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: " + transfer_encoding + b"\r\n"
        b"Content-Disposition: attachment; filename=data.bin\r\n\r\n" + body + b"\r\n--=_M_=--\r\n"
    )


class RecordingSink:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(data)
        return len(data)

    @property
    def content(self) -> bytes:
        return b"".join(self.writes)


def decode_chunked(raw_mail: bytes, chunk_size: int) -> RecordingSink:
    (item,) = iter_attachments(parse_mail(raw_mail))
    sink = RecordingSink()
    assert write_payload(item, sink, chunk_size) == len(sink.content)
    return sink


def base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[start : start + 76] for start in range(0, len(encoded), 76))


@FAST
@given(data=st.binary(max_size=20_000), chunk_size=st.integers(min_value=1, max_value=5_000))
def test_base64_with_line_breaks_decodes_to_the_original(data: bytes, chunk_size: int) -> None:
    sink = decode_chunked(attachment_mail(b"base64", base64_lines(data)), chunk_size)
    assert sink.content == data
    assert all(len(write) <= chunk_size for write in sink.writes)
    assert all(len(write) == chunk_size for write in sink.writes[:-1])


@FAST
@given(data=st.binary(max_size=20_000), chunk_size=st.integers(min_value=1, max_value=5_000))
def test_quoted_printable_decodes_to_the_original(data: bytes, chunk_size: int) -> None:
    # Binary-safe encoding (CR and LF as =0D =0A); the soft line breaks become the mail's CRLF.
    encoded = binascii.b2a_qp(data, quotetabs=True, istext=False).replace(b"\n", b"\r\n")
    sink = decode_chunked(attachment_mail(b"quoted-printable", encoded), chunk_size)
    assert sink.content == data
    assert all(len(write) <= chunk_size for write in sink.writes)


BASE64_NOISE = st.text(alphabet="QUJDRA+/=Zz09 \t\r\n!*-.", max_size=400)
QP_NOISE = st.text(alphabet="=AF09az \t\r\n.", max_size=400)


@FAST
@given(text=BASE64_NOISE, chunk_size=st.integers(min_value=1, max_value=64))
@example(text="YQ=Q", chunk_size=2)
@example(text="YQ=", chunk_size=1)
@example(text="Y=Q=", chunk_size=1)
@example(text="YQ==YQ==", chunk_size=3)
@example(text="YWJj\r\n=\r\nZA", chunk_size=5)
@example(text="YW\r\nJj\r\nZA\r\n!Q\r\n", chunk_size=8)  # whole lines, quads split across them
@example(text="YWJj\r\nZGVm\r\nZ\r\nA==\r\n", chunk_size=12)
def test_chunked_base64_equals_the_stdlib_decode_of_the_whole(text: str, chunk_size: int) -> None:
    raw = attachment_mail(b"base64", text.encode())
    (reference_item,) = iter_attachments(parse_mail(raw))
    reference = reference_item.part.get_payload(decode=True)
    # With a lone last data character the stdlib gives up and returns the undecoded text.
    assume("InvalidBase64LengthDefect" not in {type(d).__name__ for d in reference_item.part.defects})
    assert decode_chunked(raw, chunk_size).content == reference


@FAST
@given(text=QP_NOISE, chunk_size=st.integers(min_value=1, max_value=64))
@example(text="=\r00", chunk_size=3)
@example(text="a=4", chunk_size=2)
@example(text="a=41b", chunk_size=3)
def test_chunked_quoted_printable_equals_a_decode_of_the_whole(text: str, chunk_size: int) -> None:
    raw = attachment_mail(b"quoted-printable", text.encode())
    (item,) = iter_attachments(parse_mail(raw))
    payload = item.part.get_payload()
    assert decode_chunked(raw, chunk_size).content == binascii.a2b_qp(payload.encode())


# Bytes outside ASCII reach the decoder as surrogate escapes; vertical tab and form feed are junk too.
BASE64_EIGHT_BIT_NOISE = st.lists(
    st.sampled_from(
        [b"QUJD", b"Zz09", b"+/", b"=", b"\r\n", b" ", b"\x0b\x0c", b"\x80", b"\xc3\xa9", b"\xff", b"!"]
    ),
    max_size=80,
).map(b"".join)


@FAST
@given(body=BASE64_EIGHT_BIT_NOISE, chunk_size=st.integers(min_value=1, max_value=64))
@example(body=b"QU\xffJD", chunk_size=64)
@example(body=b"QUJD=\xff", chunk_size=2)
def test_chunked_base64_with_eight_bit_junk_equals_the_stdlib_and_reports_it_once(
    body: bytes, chunk_size: int
) -> None:
    raw = attachment_mail(b"base64", body)
    (reference_item,) = iter_attachments(parse_mail(raw))
    reference = reference_item.part.get_payload(decode=True)
    assume("InvalidBase64LengthDefect" not in {type(d).__name__ for d in reference_item.part.defects})
    (item,) = iter_attachments(parse_mail(raw))
    sink = io.BytesIO()
    write_payload(item, sink, chunk_size)
    write_payload(item, io.BytesIO(), chunk_size)
    assert sink.getvalue() == reference
    kinds = [type(defect).__name__ for defect in item.part.defects]
    junk_before_padding = body.split(b"=", 1)[0].translate(None, b"QUJDZz09+/\r\n ") != b""
    count = kinds.count("InvalidBase64CharactersDefect")
    # Junk after the first "=" is only noticed when it shares a piece with it.
    assert (count == 1) if junk_before_padding else (count <= 1)


def test_base64_split_inside_a_quad_and_inside_padding_is_decoded_exactly() -> None:
    encoded = base64_lines(b"ab")  # "YWI="
    for chunk_size in (1, 2, 3, 4, 5):
        assert decode_chunked(attachment_mail(b"base64", encoded), chunk_size).content == b"ab"


def test_base64_data_after_the_padding_is_ignored_and_reported() -> None:
    raw = attachment_mail(b"base64", b"YQ==\r\nYg==")
    (item,) = iter_attachments(parse_mail(raw))
    sink = io.BytesIO()
    write_payload(item, sink, chunk_size=3)
    assert sink.getvalue() == b"a" == item.part.get_payload(decode=True)
    assert "Base64DataAfterPaddingDefect" in {type(d).__name__ for d in item.part.defects}


def test_eight_bit_payload_is_copied_byte_for_byte() -> None:
    data = bytes(range(256)).replace(b"\r", b"").replace(b"\n", b"") * 50
    sink = decode_chunked(attachment_mail(b"8bit", data), 1000)
    assert sink.content == data
    assert len(sink.writes) == -(-len(data) // 1000)
