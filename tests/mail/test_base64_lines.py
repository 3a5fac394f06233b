"""Base64 lines checked and decoded without per-line work: never a wrong answer, a yes for attachments."""

from __future__ import annotations

import base64
import binascii
import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sesflow.mail.base64_lines import decode_lines, is_base64_lines

pytestmark = pytest.mark.unit

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#: What a run of lines must not hold for `is_base64_lines` to say yes: an empty line (two breaks that are
#: not CRLF), a lone CR, a line starting with "-" (any "-" at all), padding.
NOT_PLAIN_LINES = re.compile(rb"\n\n|\n\r|\r\r|\r(?!\n)|-|=")


def encoded_lines(data: bytes, width: int = 76, linesep: bytes = b"\r\n") -> bytes:
    encoded = base64.b64encode(data)
    return b"".join(encoded[at : at + width] + linesep for at in range(0, len(encoded), width))


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """Base64 lines, then a few bytes inserted, replaced or removed anywhere."""
    width = draw(st.sampled_from([4, 8, 60, 76]))
    linesep = draw(st.sampled_from([b"\r\n", b"\n"]))
    text = bytearray(encoded_lines(draw(st.binary(max_size=600)), width, linesep))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "replace", "remove"]))
        byte = draw(st.sampled_from(list(b"\r\n-= \t!\x00\xff") + list(ALPHABET[:4])))
        if action == "insert":
            text.insert(at, byte)
        elif at < len(text):
            if action == "replace":
                text[at] = byte
            else:
                del text[at]
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return bytes(text[start:end]) if draw(st.booleans()) else bytes(text)


@FAST
@given(text=mangled())
@example(text=b"QUJD\r\nQUJD\r\n")
@example(text=b"QUJD\r\n\r\nQUJD\r\n")
@example(text=b"QUJD\nQU\rJD\n")
def test_decoded_lines_are_exactly_what_binascii_decodes(text: bytes) -> None:
    decoded = decode_lines(text)
    if decoded is not None:
        assert not text.translate(None, ALPHABET + b"\r\n"), "only the alphabet and line breaks"
        assert decoded == binascii.a2b_base64(text)


@FAST
@given(data=st.binary(max_size=3000).filter(lambda data: len(data) % 3 == 0))
def test_unpadded_attachment_lines_always_take_the_fast_decode(data: bytes) -> None:
    for linesep in (b"\r\n", b"\n"):
        assert decode_lines(encoded_lines(data, linesep=linesep)) == data


def test_a_shorter_last_line_and_a_text_without_breaks_decode() -> None:
    data = bytes(range(256)) * 3  # 768 bytes: 1024 characters, the last line 36 long
    assert decode_lines(encoded_lines(data)) == data
    assert decode_lines(base64.b64encode(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        b"QUJD\r\nQUJ=\r\n",
        b"QUJD\r\nQU JD\r\n",
        b"QUJD\r\nQUJ\r\n",
        b"QUJD\r\nQ-JD\r\n",
        b"QUJD\r\nQ\xffJD\r\n",
    ],
    ids=["padding", "space", "partial quad", "dash", "eight-bit"],
)
def test_anything_but_whole_quads_of_the_alphabet_is_left_to_the_general_path(text: bytes) -> None:
    assert decode_lines(text) is None


@FAST
@given(text=mangled())
@example(text=b"QUJD\r\n\r\nQUJD\r\n")
@example(text=b"QUJD\r\n--QUJD\r\n")
@example(text=b"QUJD\rQUJD\rQUJD")
@example(text=b"\r\n\r\n\r\n")
def test_a_yes_means_no_empty_line_and_no_dash(text: bytes) -> None:
    if is_base64_lines(text):
        assert NOT_PLAIN_LINES.search(text) is None
        assert not text.translate(None, ALPHABET + b"\r\n")


@FAST
@given(
    data=st.binary(min_size=200, max_size=3000),
    linesep=st.sampled_from([b"\r\n", b"\n"]),
    cut=st.tuples(st.integers(0, 150), st.integers(0, 150)),
)
def test_any_window_of_attachment_lines_is_recognised(
    data: bytes, linesep: bytes, cut: tuple[int, int]
) -> None:
    text = encoded_lines(data, linesep=linesep).rstrip(b"=\r\n")
    text = text[: text.rfind(linesep)]  # whole lines, none padded
    window = text[cut[0] : len(text) - cut[1]]
    # A window that starts or ends between CR and LF is not recognised (a no is always allowed).
    window = window.removeprefix(b"\n").removesuffix(b"\r")
    assume(window and not window.startswith(b"\r\n"))  # an empty first line is a no
    assert is_base64_lines(window)


@pytest.mark.parametrize(
    "text",
    [
        b"QUJD\r\nQUJD\r\n\r\nQUJD\r\nQUJD\r\n",
        b"QUJD\r\nQUJD\r\n--QU\r\nQUJD\r\n",
        b"QUJD\r\nQUJD\r\nQUJD\r\nQUJD==\r\n",
        b"QUJD\nQUJD\nQUJD\nQUJD\nQ\n\nJD",
        b"\r\n\r\n\r\n\r\n",
        b"QUJD\r\nQUJD\rQUJD\r\nQUJD\r\n",
    ],
    ids=["empty line", "dash line", "padding", "empty line at the end", "only breaks", "lone CR"],
)
def test_runs_that_may_end_are_not_base64_lines(text: bytes) -> None:
    assert not is_base64_lines(text)
