"""Long runs of body lines reach the stdlib parser as one placeholder line each: the parsed mail must be
exactly the stdlib's, for any mail, any chunking and any run length, and the shortcut must really be taken
for the mail it is made for (large base64 attachments)."""

from __future__ import annotations

import base64
import os
import sys
import time
from email.message import Message
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sesflow.mail import parse as parse_module
from sesflow.mail import parse_mail
from sesflow.mail.parse import MAX_SHORT_RUNS, MIN_CONDENSED_RUN, MIN_GRID_CHECK, _RunCondenser

from ..conftest import CORPUS, SAMPLES
from .builders import CASES, Case

pytestmark = pytest.mark.unit

NEVER = sys.maxsize  # no run is ever condensed: the stdlib parser reads every line
SAMPLE_MAILS = sorted(CORPUS.rglob("*.eml")) + sorted(SAMPLES.glob("*.eml"))


def shape(message: Message) -> tuple[Any, ...]:
    """Everything the parser decides about a message: headers, payloads, structure, defects."""
    payload = message._payload  # the stored payload, as the parser left it
    return (
        type(message).__name__,
        message.get_unixfrom(),
        list(message.raw_items()),
        message.preamble,
        message.epilogue,
        [(type(defect).__name__, str(defect)) for defect in message.defects],
        message.get_default_type(),
        getattr(message, "nesting_depth", None),
        getattr(message, "opaque", None),
        [shape(part) for part in payload] if isinstance(payload, list) else payload,
    )


def assert_parsed_as_the_stdlib_does(data: bytes, *, chunk_size: int, min_run: int) -> None:
    condensed = parse_mail(data, chunk_size=chunk_size, min_condensed_run=min_run)
    plain = parse_mail(data, chunk_size=chunk_size, min_condensed_run=NEVER)
    assert shape(condensed.message) == shape(plain.message)


def base64_lines(data: bytes, linesep: bytes = b"\r\n") -> bytes:
    return base64.encodebytes(data).replace(b"\n", linesep)


def device_mail(*payloads: bytes, linesep: bytes = b"\r\n") -> bytes:
    """A text part with the recipients line, then one base64 attachment per payload."""
    parts = [
        b"Content-Type: text/plain; charset=utf-8"
        + linesep * 2
        + b"Email_Rxers_Code:[a@example.com]:Email_Rxers_Code:"
    ]
    for number, payload in enumerate(payloads, start=1):
        parts.append(
            b"Content-Type: application/octet-stream"
            + linesep
            + b"Content-Transfer-Encoding: base64"
            + linesep
            + b'Content-Disposition: attachment; filename="dump-%d.bin"' % number
            + linesep * 2
            + base64_lines(payload, linesep)
        )
    body = b"".join(b"--B" + linesep + part + linesep for part in parts) + b"--B--" + linesep
    head = [b"From: device@example.com", b"Subject: dump", b'Content-Type: multipart/mixed; boundary="B"']
    return linesep.join(head) + linesep * 2 + body


# --- the shortcut is taken, and gives the stdlib's result -----------------------------------------------


@pytest.mark.parametrize("chunk_size", [4096, 64 * 1024], ids=["regex", "grid"])
@pytest.mark.parametrize("linesep", [b"\r\n", b"\n", b"\r"], ids=["crlf", "lf", "cr"])
def test_large_base64_attachments_reach_the_parser_as_one_line_each(linesep: bytes, chunk_size: int) -> None:
    data = device_mail(os.urandom(300_000), os.urandom(200_000), linesep=linesep)
    condenser = _RunCondenser(MIN_CONDENSED_RUN)
    chunks = (data[start : start + chunk_size] for start in range(0, len(data), chunk_size))
    fed = b"".join(condenser.condense(chunks))
    if linesep == b"\r":
        # A run must end in LF to be replaced: lone-CR mail goes to the parser line by line.
        assert fed == data
        assert condenser.runs == []
        return
    assert len(fed) < 2_000
    assert len(condenser.runs) == 2
    assert_parsed_as_the_stdlib_does(data, chunk_size=chunk_size, min_run=MIN_CONDENSED_RUN)


INTRUSIONS = {
    "blank line": b"\r\n",
    "boundary": b"--B\r\n",
    "boundary as long as a line": b"--B" + b"x" * 73 + b"\r\n",
    "dash line": b"-" * 76 + b"\r\n",
    "junk character": b"QUJD!" + b"A" * 71 + b"\r\n",
    "lone CR": b"QUJD\rQUJD\r\n",
    "padding": b"QUJDRA==\r\n",
    "header-like line": b"Content-Type: text/plain\r\n",
}


@pytest.mark.parametrize("intrusion", list(INTRUSIONS.values()), ids=list(INTRUSIONS))
@pytest.mark.parametrize("chunk_size", [64 * 1024, 1024 * 1024])
def test_a_line_that_is_not_base64_inside_a_long_attachment_is_seen(
    intrusion: bytes, chunk_size: int
) -> None:
    # The line lands inside a window the grid check is asked about, not at a chunk's edge.
    data = device_mail(os.urandom(400_000), os.urandom(100_000))
    middle = data.index(b"\r\n", 200_000) + 2
    data = data[:middle] + intrusion + data[middle:]
    assert_parsed_as_the_stdlib_does(data, chunk_size=chunk_size, min_run=MIN_CONDENSED_RUN)


def test_attachment_bytes_survive_the_shortcut() -> None:
    payloads = [os.urandom(150_000), os.urandom(90_001)]
    mail = parse_mail(device_mail(*payloads))
    parts = [part for part in mail.message.walk() if part.get_filename()]
    assert [part.get_payload(decode=True) for part in parts] == payloads


def test_placeholder_in_a_preamble_makes_the_parser_read_the_mail_as_it_came() -> None:
    preamble = b"\r\n".join(b"preamble line %d" % number for number in range(2_000)) + b"\r\n"
    data = (
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        + preamble
        + b"--B\r\nContent-Type: text/plain\r\n\r\nbody\r\n--B--\r\n"
    )
    condenser = _RunCondenser(1024)
    from sesflow.mail.parse import _feed_parser

    message, complete = _feed_parser(condenser.condense([data]))
    assert complete and condenser.runs
    assert not condenser.restore(message)  # the placeholder is the preamble, not a body
    assert_parsed_as_the_stdlib_does(data, chunk_size=4096, min_run=1024)
    assert parse_mail(data, min_condensed_run=1024).message.preamble == preamble[:-2].decode()


def test_text_that_looks_like_a_placeholder_is_only_text() -> None:
    condenser = _RunCondenser(1)
    forged = condenser._prefix.replace(condenser._prefix[7:-3], "0" * 32).encode() + b"0\r\n"
    data = b"Content-Type: text/plain\r\n\r\n" + forged * 3 + b"end\r\n"
    assert_parsed_as_the_stdlib_does(data, chunk_size=16, min_run=1)


def test_a_body_line_starting_with_two_dashes_ends_a_run() -> None:
    # "--B" inside what looks like base64 closes the part: the run before it must not swallow it.
    lines = [b"QUJD" * 19] * 2_000
    lines[1_000] = b"--B"
    data = (
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"\r\n".join(lines)
        + b"\r\n--B--\r\n"
    )
    assert_parsed_as_the_stdlib_does(data, chunk_size=1000, min_run=64)
    assert len(parse_mail(data, min_condensed_run=64).message.get_payload()) == 2


def test_a_boundary_after_a_lone_cr_ends_a_run() -> None:
    # A lone CR ends a line for the parser: "QUJD\r--B" is a base64 line and then the boundary.
    lines = [b"QUJD" * 19] * 2_000
    lines[1_000] += b"\r--B"
    data = (
        b'Content-Type: multipart/mixed; boundary="B"\n\n'
        b"--B\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + b"\n".join(lines)
        + b"\n--B--\n"
    )
    assert_parsed_as_the_stdlib_does(data, chunk_size=1000, min_run=64)
    assert len(parse_mail(data, min_condensed_run=64).message.get_payload()) == 2


def test_a_blank_line_in_a_delivery_status_block_ends_a_run() -> None:
    fields = b"\r\n".join(b"X-Field-%d: value" % number for number in range(500))
    data = (
        b'Content-Type: multipart/report; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        + fields
        + b"\r\n\r\n"
        + fields
        + b"\r\n--B--\r\n"
    )
    assert_parsed_as_the_stdlib_does(data, chunk_size=333, min_run=16)


@pytest.mark.parametrize("attachment_first", [False, True], ids=["paragraphs-first", "attachment-first"])
def test_after_many_short_runs_the_rest_goes_to_the_parser_as_it_comes(attachment_first: bool) -> None:
    paragraphs = b"Content-Type: text/plain\r\n\r\n" + b"short paragraph\r\n\r\n" * (MAX_SHORT_RUNS + 500)
    big = device_mail(os.urandom(200_000))
    parts = [big, paragraphs] if attachment_first else [paragraphs, big]
    data = (
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        + b"".join(b"--outer\r\n" + part + b"\r\n" for part in parts)
        + b"--outer--\r\n"
    )
    assert_parsed_as_the_stdlib_does(data, chunk_size=64 * 1024, min_run=MIN_CONDENSED_RUN)


@pytest.mark.parametrize(
    "flood",
    [b"\r\n", b"\n", b"\r", b"x\r\n\r\n", b"--x\r\n"],
    ids=["crlf", "lf", "cr", "paragraphs", "dashes"],
)
def test_floods_of_short_lines_take_linear_time(flood: bytes) -> None:
    # Quadratic scanning took minutes here; the parser itself takes well under a second.
    data = b"Subject: flood\r\n\r\n" + flood * (2_000_000 // len(flood))
    started = time.perf_counter()
    parse_mail(data, chunk_size=1024 * 1024)
    assert time.perf_counter() - started < 30


# --- the same result for every mail we have -------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_MAILS, ids=lambda path: f"{path.parent.name}/{path.name}")
@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_sample_mail_parses_as_the_stdlib_does(path: Path, chunk_size: int) -> None:
    assert_parsed_as_the_stdlib_does(path.read_bytes(), chunk_size=chunk_size, min_run=1)


@pytest.mark.parametrize("hostile", CASES, ids=lambda case: case.name)
def test_hostile_mail_parses_as_the_stdlib_does(hostile: Case) -> None:
    data = hostile.build()
    chunk_size = 4096 if len(data) > 100_000 else 3
    assert_parsed_as_the_stdlib_does(data, chunk_size=chunk_size, min_run=1)


# --- and for any mail ------------------------------------------------------------------------------------

LINES = st.sampled_from(
    [
        b"",
        b" ",
        b"\tcontinued",
        b'Content-Type: multipart/mixed; boundary="a"',
        b"Content-Type: multipart/alternative; boundary=b",
        b"Content-Type: multipart/digest; boundary=a",
        b"Content-Type: multipart/mixed",
        b"Content-Type: message/rfc822",
        b"Content-Type: message/delivery-status",
        b"Content-Type: text/plain",
        b"Content-Transfer-Encoding: base64",
        b"X-Note: value",
        b"From someone",
        b": no name",
        b"--a",
        b"--a--",
        b"--b",
        b"--b-- \t",
        b"--",
        b"-a",
        b"QUJDRA==",
        b"QUJD",
        b"QUJD\r--a",
        b"QUJD\r\r",
        b"key: value",
        b"plain text",
        b"caf\xc3\xa9 \xff",
    ]
)
LINESEPS = st.sampled_from([b"\r\n", b"\n", b"\r"])


@st.composite
def mails(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.tuples(LINES, LINESEPS, st.integers(1, 3)), max_size=60))
    data = b"".join((line + sep) * repeat for line, sep, repeat in lines)
    return data if draw(st.booleans()) else data.rstrip(b"\r\n")


#: The grid check as configured (runs of small chunks never reach it), and asked of every window.
GRID_CHECKS = st.sampled_from([MIN_GRID_CHECK, 1])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mails(), chunk_size=st.integers(1, 40), min_run=st.integers(1, 12), grid_check=GRID_CHECKS)
def test_any_mail_parses_as_the_stdlib_does(
    data: bytes, chunk_size: int, min_run: int, grid_check: int
) -> None:
    with mock.patch.object(parse_module, "MIN_GRID_CHECK", grid_check):
        assert_parsed_as_the_stdlib_does(data, chunk_size=chunk_size, min_run=min_run)


PART_HEADS = st.sampled_from(
    [
        b"Content-Type: text/plain",
        b"Content-Type: text/html",
        b'Content-Type: text/plain\nContent-Disposition: inline; filename="t.txt"',
        b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment",
        b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment; filename="a.pdf"',
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64",
        b"Content-Type: image/png\nContent-Transfer-Encoding: base64\nContent-ID: <i1>\n"
        b'Content-Disposition: inline; filename="i.png"',
        b'Content-Type: image/gif; name="g.gif"\nContent-Transfer-Encoding: base64',
        b"Content-Type: message/rfc822",
        b'Content-Type: multipart/alternative; boundary="C"',
    ]
)
BODY_LINES = st.sampled_from([b"QUJDRA==", b"QUJD", b"QUJDRA", b"", b"--C", b"plain words", b"Subject: x"])


@st.composite
def structured_mails(draw: st.DrawFn) -> bytes:
    """Multipart mails of typical parts (bodies, attachments, attached messages, a nested container)
    whose bodies are runs of base64-like lines, with blank and dash lines mixed in."""
    sep = draw(LINESEPS)
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        head = draw(PART_HEADS).replace(b"\n", sep)
        lines = draw(st.lists(st.tuples(BODY_LINES, st.integers(1, 8)), min_size=1, max_size=6))
        body = b"".join((line + sep) * repeat for line, repeat in lines)
        parts.append(b"--B" + sep + head + sep + sep + body)
    top = b"From: a@example.com" + sep + b'Content-Type: multipart/mixed; boundary="B"' + sep + sep
    return top + b"".join(parts) + b"--B--" + sep


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=structured_mails(), chunk_size=st.integers(1, 40), min_run=st.integers(1, 12), grid_check=GRID_CHECKS
)
def test_any_structured_mail_parses_as_the_stdlib_does(
    data: bytes, chunk_size: int, min_run: int, grid_check: int
) -> None:
    with mock.patch.object(parse_module, "MIN_GRID_CHECK", grid_check):
        assert_parsed_as_the_stdlib_does(data, chunk_size=chunk_size, min_run=min_run)
