"""Hostile and broken mail: every case parses from bytes and from a stream without an exception, every
accessor works on it, and each case shows the defect or outcome that is specific to it."""

from __future__ import annotations

import io

import pytest

from sesflow.mail import ParsedMail, iter_attachments, parse_mail, write_payload

from .builders import CASES, Case

pytestmark = pytest.mark.unit


def exercise_every_accessor(mail: ParsedMail) -> None:
    """Nothing a flow calls on a mail may raise, whatever the mail."""
    mail.text_body()
    mail.html_body()
    for name in ("Subject", "From", "To", "Content-Type", "Message-ID", "Date"):
        mail.header(name)
        mail.headers(name)
    for item in iter_attachments(mail):
        assert write_payload(item, io.BytesIO()) == item.size
    assert all(defect.kind for defect in mail.defects)


@pytest.mark.parametrize("hostile", CASES, ids=lambda hostile: hostile.name)
def test_hostile_mail_parses_without_error_and_shows_its_defect(hostile: Case) -> None:
    raw = hostile.build()
    from_bytes = parse_mail(raw)
    from_stream = parse_mail(io.BytesIO(raw), chunk_size=4093)
    for parsed in (from_bytes, from_stream):
        exercise_every_accessor(parsed)
        assert hostile.defects <= parsed.defect_kinds()
        if hostile.observe is not None:
            assert hostile.observe(parsed) == hostile.expected


def test_every_case_asserts_something() -> None:
    assert len(CASES) >= 30
    assert len({hostile.name for hostile in CASES}) == len(CASES)
    assert all(hostile.defects or hostile.observe is not None for hostile in CASES)
