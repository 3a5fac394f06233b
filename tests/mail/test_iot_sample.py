"""The relay's reference mail, as an IoT device sends it: no blank line before the base64 body and no
`--` on the closing boundary. Both are tolerated and the expected content comes out."""

from __future__ import annotations

import io

import pytest

from sesflow.mail import ParsedMail, iter_attachments, parse_mail, write_payload

from ..conftest import DEVICE_MAIL

pytestmark = pytest.mark.unit

RECIPIENTS_LINE = (
    "Line2:Email_Rxers_Code:[ANYUSER1@DOMAIN-A.example,ANYUSER2@DOMAIN-B.example,"
    "ANYUSERX@DOMAIN-Y.example]:Email_Rxers_Code:"
)


@pytest.fixture(scope="module")
def raw_sample() -> bytes:
    return DEVICE_MAIL.read_bytes()


def decoded_attachments(mail: ParsedMail) -> list[tuple[str, bytes]]:
    found = []
    for item in iter_attachments(mail):
        sink = io.BytesIO()
        write_payload(item, sink)
        found.append((item.filename, sink.getvalue()))
    return found


def test_sample_text_body_holds_the_recipients_line(raw_sample: bytes) -> None:
    text = parse_mail(raw_sample).text_body()
    assert text is not None
    assert RECIPIENTS_LINE in text.splitlines()


def test_sample_has_exactly_one_attachment_demo64_with_its_bytes(raw_sample: bytes) -> None:
    mail = parse_mail(raw_sample)
    assert decoded_attachments(mail) == [("demo64.txt", b"content\n")]
    (attachment,) = iter_attachments(mail)
    assert (attachment.index, attachment.size, attachment.disposition) == (1, 8, "attachment")
    assert attachment.content_type == "text/plain"


def test_sample_streamed_from_a_file_in_tiny_chunks_gives_the_same_mail(raw_sample: bytes) -> None:
    with DEVICE_MAIL.open("rb") as stream:
        mail = parse_mail(stream, chunk_size=3)
    assert decoded_attachments(mail) == [("demo64.txt", b"content\n")]
    assert mail.text_body() == parse_mail(raw_sample).text_body()


def test_sample_quirks_are_recorded_as_defects(raw_sample: bytes) -> None:
    defects = {(defect.part_path, defect.kind) for defect in parse_mail(raw_sample).defects}
    assert ((), "CloseBoundaryNotFoundDefect") in defects
    assert ((2,), "MissingHeaderBodySeparatorDefect") in defects


def test_sample_with_bare_lf_line_ends_gives_the_same_result(raw_sample: bytes) -> None:
    mail = parse_mail(raw_sample.replace(b"\r\n", b"\n"))
    assert decoded_attachments(mail) == [("demo64.txt", b"content\n")]
    assert RECIPIENTS_LINE in (mail.text_body() or "").splitlines()


def test_text_part_without_blank_line_keeps_its_lines_in_the_body(raw_sample: bytes) -> None:
    # The same device quirk on the text part: its "Line1:..." body lines look like headers.
    squeezed = raw_sample.replace(
        b"Content-Type: text/plain\r\n\r\nLine1:", b"Content-Type: text/plain\r\nLine1:"
    )
    assert squeezed != raw_sample
    mail = parse_mail(squeezed)
    text = mail.text_body() or ""
    assert RECIPIENTS_LINE in text.splitlines()
    assert text.startswith("Line1:This is a Test email")
    assert mail.message.get_payload()[0].keys() == ["Content-Type"]
    assert decoded_attachments(mail) == [("demo64.txt", b"content\n")]
    assert "BodyLinesInHeaderBlockDefect" in mail.defect_kinds()
