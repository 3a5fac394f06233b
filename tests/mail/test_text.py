"""Charset-safe decoding: any declared charset gives text, never an exception."""

from __future__ import annotations

import pytest

from sesflow.mail.text import decode_bytes, decode_encoded_words, repair_surrogates

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"caf\xe9", "iso-8859-1", "café"),
        (b"caf\xe9", '"ISO-8859-1"', "café"),
        (b"caf\xc3\xa9", None, "café"),
        (b"caf\xc3\xa9", "x-unknown", "café"),
        (b"caf\xc3\xa9", "base64", "café"),
        (b"caf\xc3\xa9", "zlib", "café"),
        (b"caf\xe9", "utf-8", "caf\ufffd"),
        (b"abc\xff", "idna", "abc\ufffd"),
        (b"\xff\xfe", "", "\ufffd\ufffd"),
    ],
)
def test_decode_bytes_never_raises(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_repair_surrogates_reads_escaped_bytes_as_utf8() -> None:
    escaped = "caf\xc3\xa9 \xe9".encode("latin-1").decode("ascii", errors="surrogateescape")
    assert repair_surrogates(escaped) == "café \ufffd"
    assert repair_surrogates("plain") == "plain"
    assert repair_surrogates("lone \ud800 high") == "lone ? high"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=?utf-8?q?caf=C3=A9?= au lait", "café au lait"),
        ("=?iso-8859-1?b?Y2Fm6Q==?=", "café"),
        ("=?x-unknown?q?caf=C3=A9?=", "café"),
        ("=?utf-8?q?unclosed", "=?utf-8?q?unclosed"),
        ("no words here", "no words here"),
    ],
)
def test_decode_encoded_words(text: str, expected: str) -> None:
    assert decode_encoded_words(text) == expected
