"""Hostile mails for the relay, as data: the foundation's malformed mails (`tests/mail/builders.py`), each
given a From and a recipients line where that makes sense, plus mails aimed at the relay itself, each with
what must become of it (relayed with how many sends and stored attachments, quarantined, or refused with
its reason); and the checks on what a run leaves behind (stored keys, notices) that hold for every case."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sesflow.mail import parse_mail

from ..mail.builders import CASES as FOUNDATION_CASES
from ..mail.builders import CRLF, attachment, mail, part

RECIPIENT = "ops@plant.example.com"
LINE = b"Email_Rxers_Code:[" + RECIPIENT.encode() + b"]:Email_Rxers_Code:"
DEVICE = b"From: sensor-gw@iot.example.com"

type Kind = Literal["relayed", "quarantined", "fallback"]


# --- turning the foundation's mails into device mails ----------------------------------------------------


def as_is(raw: bytes) -> bytes:
    return raw


def add_from(raw: bytes) -> bytes:
    """The device's From as the last header (a first line that is a continuation stays the first line)."""
    head, separator, body = raw.partition(CRLF + CRLF)
    return head + CRLF + DEVICE + separator + body


def list_in_text_part(raw: bytes, after: bytes = b"the body") -> bytes:
    """The recipients line on its own line after `after` (the foundation's text part says "the body")."""
    assert after in raw, after
    return raw.replace(after, after + CRLF + LINE, 1)


def list_after(after: bytes) -> Callable[[bytes], bytes]:
    def change(raw: bytes) -> bytes:
        return list_in_text_part(raw, after)

    change.__name__ = "list_in_text_part"
    return change


def list_at_end(raw: bytes) -> bytes:
    """A single-part mail from the device: its From added, the recipients line after its body."""
    return add_from(raw) + CRLF + LINE + CRLF


# --- the relay's own hostile mails -------------------------------------------------------------------------

LISTED_TEXT = part(b"Content-Type: text/plain; charset=utf-8", body=b"Hourly readings attached.\r\n" + LINE)


def device_multipart(*parts: bytes, headers: tuple[bytes, ...] = (), subject: bytes = b"Readings") -> bytes:
    body = b"".join(b"--B" + CRLF + item + CRLF for item in parts) + b"--B--" + CRLF
    return mail(
        *headers,
        DEVICE,
        b"Subject: " + subject,
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="B"',
        body=body,
    )


def named(filename: bytes, body: bytes = b"eA==") -> bytes:
    return attachment(b'attachment; filename="' + filename + b'"', body)


def traversal_filenames() -> bytes:
    return device_multipart(
        LISTED_TEXT,
        named(b"../../etc/passwd"),
        named(b"..\\\\..\\\\win.ini"),
        named(b"/abs/x"),
        named(b".."),
        named(b"..%2F..%2Fetc%2Fshadow"),
        attachment(b"attachment; filename*=utf-8''..%2F..%2Froot%2F.ssh%2Fauthorized_keys"),
        named(b"a/b/../../../c.txt"),
        named(b"C:\\\\Windows\\\\system.ini"),
    )


def zero_byte_attachment() -> bytes:
    return device_multipart(LISTED_TEXT, named(b"empty.bin", body=b""))


ATTACHMENT_FLOOD = 5000


def five_thousand_attachments() -> bytes:
    return device_multipart(
        LISTED_TEXT, *(named(b"r%d.csv" % number, body=b"MQ==") for number in range(ATTACHMENT_FLOOD))
    )


def inner_message(*headers: bytes) -> bytes:
    """A whole mail of its own, with two attachments: attached, it stays one attachment."""
    parts = [
        part(b"Content-Type: text/plain", body=b"inner text"),
        named(b"inner1.bin"),
        named(b"inner2.bin"),
    ]
    body = b"".join(b"--I" + CRLF + item + CRLF for item in parts) + b"--I--" + CRLF
    return mail(
        *headers,
        b"From: inner@example.com",
        b"Subject: inner",
        b'Content-Type: multipart/mixed; boundary="I"',
        body=body,
    )


def nested_message() -> bytes:
    return device_multipart(LISTED_TEXT, part(b"Content-Type: message/rfc822", body=inner_message()))


def forged_virus_verdict_in_body() -> bytes:
    text = part(
        b"Content-Type: text/plain",
        body=b"X-SES-Virus-Verdict: FAIL\r\nX-SES-Spam-Verdict: FAIL\r\n" + LINE,
    )
    return b"X-SES-Virus-Verdict: PASS\r\n" + device_multipart(text)


def forged_virus_verdict_in_nested_message() -> bytes:
    inner = inner_message(b"X-SES-Virus-Verdict: FAIL", b"X-SES-Spam-Verdict: FAIL")
    return device_multipart(LISTED_TEXT, part(b"Content-Type: message/rfc822", body=inner))


def forged_virus_verdict_below_ses_header() -> bytes:
    return b"X-SES-Virus-Verdict: PASS\r\n" + device_multipart(
        LISTED_TEXT, headers=(b"X-SES-Virus-Verdict: FAIL",)
    )


def ses_virus_verdict_fail() -> bytes:
    return b"X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: FAIL\r\n" + device_multipart(
        LISTED_TEXT, named(b"payload.exe")
    )


def ses_spam_verdict_fail() -> bytes:
    return b"X-SES-Spam-Verdict: FAIL\r\nX-SES-Virus-Verdict: PASS\r\n" + device_multipart(LISTED_TEXT)


def subject_injection_encoded() -> bytes:
    return device_multipart(
        LISTED_TEXT, subject=b"=?utf-8?q?Readings=0D=0ABcc=3A_victim=40evil.example=0D=0A=0D=0Abody?="
    )


def subject_injection_rfc2047_base64() -> bytes:
    # "Readings\r\nBcc: victim@evil.example\nTo: other@evil.example"
    return device_multipart(
        LISTED_TEXT,
        subject=b"=?utf-8?b?UmVhZGluZ3MNCkJjYzogdmljdGltQGV2aWwuZXhhbXBsZQpUbzogb3RoZXJAZXZpbC5leGFtcGxl?=",
    )


def subject_injection_bare_cr() -> bytes:
    return device_multipart(LISTED_TEXT, subject=b"Readings\rBcc: victim@evil.example")


def from_injection() -> bytes:
    raw = device_multipart(LISTED_TEXT)
    return raw.replace(
        DEVICE, b"From: =?utf-8?q?Gw=0D=0ABcc=3A_victim=40evil.example?= <sensor-gw@iot.example.com>"
    )


def recipients(count: int, *, separator: bytes = b", ") -> bytes:
    listed = separator.join(b"user%d@plant.example.com" % number for number in range(count))
    return device_multipart(
        part(
            b"Content-Type: text/plain",
            body=b"Readings.\r\nEmail_Rxers_Code:[" + listed + b"]:Email_Rxers_Code:",
        )
    )


def html_only_with_list() -> bytes:
    html = (
        b"<html><body><p>Readings</p>"
        b"<p>Email_Rxers_Code:[ops&#64;plant.example.com]:Email_Rxers_Code:</p></body></html>"
    )
    return mail(DEVICE, b"Subject: html", b"Content-Type: text/html; charset=utf-8", body=html)


def unterminated_list() -> bytes:
    text = part(b"Content-Type: text/plain", body=b"Readings.\r\nEmail_Rxers_Code:[" + RECIPIENT.encode())
    return device_multipart(text)


def megabyte_from_header() -> bytes:
    return mail(b"From: " + b"x" * 1_000_000, b"Subject: big sender", body=b"Readings.\r\n" + LINE)


def megabyte_subject_without_sender() -> bytes:
    return mail(b"Subject: " + b"word " * 200_000, body=b"Readings.\r\n" + LINE)


def megabyte_subject_virus() -> bytes:
    return b"X-SES-Virus-Verdict: FAIL\r\n" + device_multipart(LISTED_TEXT, subject=b"word " * 200_000)


def ten_kilobyte_subject_without_list() -> bytes:
    return device_multipart(
        part(b"Content-Type: text/plain", body=b"Readings, no list."), subject=b"word " * 2_000
    )


def invalid_entries_after_a_valid_one() -> bytes:
    """One address to relay to, then 300 one-kilobyte entries that are not addresses (the limit on
    entries is 5,000, so they are all read and reported)."""
    junk = b", ".join(b"%04d" % number + b"x" * 1_000 for number in range(300))
    listed = RECIPIENT.encode() + b", " + junk
    text = part(
        b"Content-Type: text/plain", body=b"Readings.\r\nEmail_Rxers_Code:[" + listed + b"]:Email_Rxers_Code:"
    )
    return device_multipart(text)


def long_filename() -> bytes:
    return device_multipart(LISTED_TEXT, named(b"../" * 50 + b"n" * 400 + b".csv"))


# --- the table --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    name: str
    build: Callable[[], bytes]
    kind: Kind
    reason: str | None = None
    sends: int = 1
    attachments: int | None = None
    #: the exact keys (after `{messageId}/`) the attachments are stored under
    keys: tuple[str, ...] | None = None
    #: what may be in the envelope of a send
    allowed_recipients: frozenset[str] = frozenset({RECIPIENT})
    #: a relayed mail's notice about addresses left out, if any
    notice: str | None = None
    marks: tuple[Any, ...] = ()


def relayed(name: str, build: Callable[[], bytes], attachments: int = 0, **more: Any) -> Hostile:
    return Hostile(name, build, "relayed", attachments=attachments, **more)


def fallback(name: str, build: Callable[[], bytes], reason: str, **more: Any) -> Hostile:
    return Hostile(name, build, "fallback", reason, sends=0, **more)


def quarantined(name: str, build: Callable[[], bytes], **more: Any) -> Hostile:
    return Hostile(name, build, "quarantined", "virus", sends=0, **more)


_FOUNDATION = {case.name: case.build for case in FOUNDATION_CASES}


def foundation(
    name: str, change: Callable[[bytes], bytes], kind: Kind, reason: str | None = None, **more: Any
) -> Hostile:
    """A foundation case, changed by `change` (a From and a recipients line, or nothing)."""
    build = _FOUNDATION[name]
    label = f"foundation-{name}" if change is as_is else f"foundation-{name}+{change.__name__}"
    return Hostile(label, lambda: change(build()), kind, reason, sends=1 if kind == "relayed" else 0, **more)


in_text = list_in_text_part

FOUNDATION = [
    # charsets: the list is found whatever the body's declared charset
    foundation("unknown_charset_falls_back_to_utf8", list_at_end, "relayed", attachments=0),
    foundation("utf8_declared_body_with_latin1_bytes", list_at_end, "relayed", attachments=0),
    foundation("non_text_codec_as_charset", list_at_end, "relayed", attachments=0),
    foundation("undeclared_8bit_junk_body", list_at_end, "relayed", attachments=0),
    foundation("rfc2231_charset_tuple_in_content_type", list_at_end, "relayed", attachments=0),
    # headers
    foundation("raw_utf8_bytes_in_subject", list_at_end, "relayed", attachments=0),
    foundation("raw_latin1_bytes_in_subject", list_at_end, "relayed", attachments=0),
    foundation("encoded_word_with_unknown_charset", list_at_end, "relayed", attachments=0),
    foundation("unterminated_encoded_word", as_is, "fallback", "no_sender"),
    foundation("first_header_line_is_a_continuation", list_at_end, "relayed", attachments=0),
    foundation("header_without_a_name", list_at_end, "relayed", attachments=0),
    foundation("nested_comment_bomb_in_address_header", list_at_end, "relayed", attachments=0),
    foundation("one_megabyte_header_line", list_at_end, "relayed", attachments=0),
    foundation("one_megabyte_subject_of_words", list_at_end, "relayed", attachments=0),
    foundation("one_megabyte_address_list", list_at_end, "relayed", attachments=0),
    foundation("one_megabyte_content_type_parameters", list_at_end, "relayed", attachments=0),
    foundation("content_type_without_slash", list_at_end, "relayed", attachments=0),
    # structure
    foundation("no_headers_at_all", as_is, "fallback", "no_sender"),
    foundation("only_headers_no_body", as_is, "fallback", "no_marker"),
    foundation("empty_body", add_from, "fallback", "no_marker"),
    foundation("empty_input", as_is, "fallback", "no_sender"),
    foundation("multipart_without_boundary_parameter", add_from, "fallback", "no_marker"),
    foundation("boundary_never_appears", add_from, "fallback", "no_marker"),
    foundation("closing_boundary_missing", in_text, "relayed", attachments=1, keys=("1-kept.bin",)),
    foundation(
        "inner_multipart_reuses_outer_boundary", in_text, "relayed", attachments=1, keys=("1-after.bin",)
    ),
    foundation("ten_thousand_parts", as_is, "fallback", "no_sender"),
    foundation("nested_five_hundred_levels", list_after(b"deep text"), "fallback", "no_marker"),
    foundation("related_without_boundary_inside_mixed", list_after(b"after"), "relayed", attachments=0),
    foundation("body_lines_taken_for_part_headers", list_after(b"second line"), "relayed", attachments=1),
    foundation("base64_part_without_blank_line", as_is, "fallback", "no_marker"),
    # filenames: whatever the mail says, the key is `{messageId}/{n}-{safe name}`
    foundation("filename_climbing_with_slashes", in_text, "relayed", attachments=1, keys=("1-passwd",)),
    foundation("filename_climbing_with_backslashes", in_text, "relayed", attachments=1, keys=("1-win.ini",)),
    foundation("absolute_filename", in_text, "relayed", attachments=1, keys=("1-path",)),
    foundation("drive_letter_filename", in_text, "relayed", attachments=1, keys=("1-x",)),
    foundation("nul_in_filename", in_text, "relayed", attachments=1, keys=("1-ab.txt",)),
    foundation(
        "header_injection_in_encoded_word_filename",
        in_text,
        "relayed",
        attachments=1,
        keys=("1-a Bcc_ x@y.txt",),
    ),
    foundation(
        "header_injection_in_rfc2231_filename", in_text, "relayed", attachments=1, keys=("1-evil Bcc_ x.txt",)
    ),
    foundation("encoded_word_filename", in_text, "relayed", attachments=1, keys=("1-été.txt",)),
    foundation(
        "rfc2231_filename_with_unknown_charset",
        in_text,
        "relayed",
        attachments=1,
        keys=("1-\ufffdt\ufffd.txt",),
    ),
    foundation(
        "filename_of_dots_only_gets_a_fallback",
        in_text,
        "relayed",
        attachments=1,
        keys=("1-attachment-1.bin",),
    ),
    # payloads
    foundation("garbage_inside_base64", in_text, "relayed", attachments=1, keys=("1-g.bin",)),
    foundation("base64_with_a_lone_last_character", in_text, "relayed", attachments=1, keys=("1-l.bin",)),
    foundation("base64_missing_padding", in_text, "relayed", attachments=1, keys=("1-p.bin",)),
    foundation("unknown_transfer_encoding_value", in_text, "relayed", attachments=1, keys=("1-u.bin",)),
    foundation("broken_quoted_printable_escapes", in_text, "relayed", attachments=1, keys=("1-q.bin",)),
    foundation("uuencoded_attachment", in_text, "relayed", attachments=1, keys=("1-uu.bin",)),
    foundation(
        "attached_message_is_one_attachment", in_text, "relayed", attachments=1, keys=("1-attachment-1.eml",)
    ),
    foundation("attached_message_with_garbage_inside", in_text, "relayed", attachments=1),
]

RELAY = [
    relayed(
        "traversal_filenames",
        traversal_filenames,
        attachments=8,
        keys=(
            "1-passwd",
            "2-win.ini",
            "3-x",
            "4-attachment-4.bin",
            "5-%2F..%2Fetc%2Fshadow",
            "6-authorized_keys",
            "7-c.txt",
            "8-system.ini",
        ),
    ),
    relayed("long_climbing_filename", long_filename, attachments=1),
    relayed("zero_byte_attachment", zero_byte_attachment, attachments=1, keys=("1-empty.bin",)),
    relayed("five_thousand_attachments", five_thousand_attachments, attachments=ATTACHMENT_FLOOD),
    relayed(
        "nested_rfc822_with_its_own_attachments", nested_message, attachments=1, keys=("1-attachment-1.eml",)
    ),
    relayed("forged_virus_verdict_in_body", forged_virus_verdict_in_body),
    relayed("forged_virus_verdict_in_nested_message", forged_virus_verdict_in_nested_message, attachments=1),
    relayed("forged_virus_verdict_below_ses_header", forged_virus_verdict_below_ses_header),
    relayed("subject_injection_encoded_crlf_bcc", subject_injection_encoded),
    relayed("subject_injection_base64_crlf_bcc_to", subject_injection_rfc2047_base64),
    relayed("subject_injection_bare_cr", subject_injection_bare_cr),
    relayed("from_display_name_injection", from_injection),
    relayed("html_only_with_list", html_only_with_list),
    relayed(
        "five_hundred_recipients_in_ten_sends",
        lambda: recipients(500),
        sends=10,
        allowed_recipients=frozenset(f"user{n}@plant.example.com" for n in range(500)),
    ),
    fallback("five_hundred_and_one_recipients", lambda: recipients(501), "too_many"),
    fallback("five_thousand_and_one_entries", lambda: recipients(5001, separator=b";"), "too_many"),
    fallback("unterminated_list", unterminated_list, "unterminated"),
    fallback("spam_verdict_from_ses", ses_spam_verdict_fail, "spam"),
    quarantined("virus_verdict_from_ses", ses_virus_verdict_fail),
    fallback("megabyte_from_header", megabyte_from_header, "no_sender"),
    fallback(
        "megabyte_subject_without_sender",
        megabyte_subject_without_sender,
        "no_sender",
    ),
    fallback(
        "ten_kilobyte_subject_without_list",
        ten_kilobyte_subject_without_list,
        "no_marker",
    ),
    quarantined("megabyte_subject_with_virus", megabyte_subject_virus),
    relayed(
        "invalid_entries_flood_after_a_valid_one",
        invalid_entries_after_a_valid_one,
        notice="some_recipients_not_relayed",
    ),
]

TABLE = FOUNDATION + RELAY


# --- what a relayed or refused mail may leave behind ------------------------------------------------------

#: A notice names the mail; it never carries it. Anything bigger is carrying something it should not.
MAX_NOTICE_BYTES = 4096


def assert_no_traversal(key: str, message_id: str) -> None:
    """`{messageId}/{n}-{name}`: one level under the mail's id, no backslash, no `..` as a name or a
    name's start. (Two dots inside a name, as in a literal `%2F..%2Fetc` that S3 keeps as it is, climb
    nothing: S3 keys are flat strings and the links percent-encode `%`.)"""
    folder, separator, name = key.partition("/")
    assert separator and folder == message_id, key
    assert "/" not in name and "\\" not in name, key
    assert not name.startswith("."), key
    assert ".." not in name.replace("%2F..%2F", ""), key


def body_lines(raw: bytes) -> set[str]:
    """The mail's text lines long enough to recognise in a notice."""
    parsed = parse_mail(raw)
    texts = [parsed.text_body() or "", parsed.html_body() or ""]
    return {line.strip() for text in texts for line in text.splitlines() if len(line.strip()) >= 8}


def check_notice(notice: Mapping[str, Any], raw: bytes) -> None:
    size = len(json.dumps(notice).encode())
    assert size <= MAX_NOTICE_BYTES, f"a {size}-byte notice: {json.dumps(notice)[:300]}…"
    shown = json.dumps(notice, ensure_ascii=False)
    carried = [line for line in body_lines(raw) if line in shown]
    assert not carried, f"the notice carries the body: {carried[:3]}"
