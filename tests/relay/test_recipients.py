"""The relay's recipients line: found in text or HTML, checked, deduplicated, capped, and removed from what
is sent. The recipient-line cases are data: add a case to the table, not a test."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html.parser import HTMLParser

import pytest

from sesflow.mail import chunk_recipients, parse_mail
from sesflow.relay.recipients import (
    RecipientsFound,
    RecipientsRefused,
    RefusalReason,
    find_recipients,
    html_text,
    remove_marker_lines,
    remove_marker_lines_html,
)

from ..conftest import DEVICE_MAIL

pytestmark = pytest.mark.unit

MARKER = "Email_Rxers_Code"
SAMPLE_ADDRESSES = ("ANYUSER1@domain-a.example", "ANYUSER2@domain-b.example", "ANYUSERX@domain-y.example")
HUNDRED_TWENTY = tuple(f"user{number:03}@site{number % 7}.example" for number in range(120))


def line(listed: str, marker: str = MARKER) -> str:
    return f"{marker}:[{listed}]:{marker}:"


def single_part_mail(
    content_type: str, body: bytes, *, charset: str = "utf-8", encoding: str = "7bit"
) -> bytes:
    head = (
        "From: sensor@iot.example\r\nTo: relay@ingest.example\r\nSubject: reading\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}; charset={charset}\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n"
    )
    return head.encode("ascii") + body


def text_mail(body: str, *, charset: str = "utf-8", encoding: str = "7bit") -> bytes:
    return single_part_mail("text/plain", body.encode(charset), charset=charset, encoding=encoding)


def html_mail(markup: str) -> bytes:
    return single_part_mail("text/html", markup.encode("utf-8"))


def alternative_mail(text: str, markup: str) -> bytes:
    return (
        "From: sensor@iot.example\r\nSubject: reading\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="ALT"\r\n\r\n'
        f"--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        f"--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{markup}\r\n"
        "--ALT--\r\n"
    ).encode()


def attachment_only_mail() -> bytes:
    return (
        b"From: sensor@iot.example\r\nSubject: reading\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="MIX"\r\n\r\n'
        b"--MIX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        b'filename="data.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.b64encode(line("a@x.example").encode())
        + b"\r\n--MIX--\r\n"
    )


@dataclass(frozen=True)
class Case:
    name: str
    mail: bytes
    expected: tuple[str, ...] | RefusalReason
    source: str = "text"
    invalid: tuple[str, ...] = ()
    max_recipients: int = 500
    marker: str = MARKER


CASES = [
    Case("seed sample from a device", DEVICE_MAIL.read_bytes(), SAMPLE_ADDRESSES),
    Case("plain commas", text_mail(line("a@x.example,b@y.example")), ("a@x.example", "b@y.example")),
    Case(
        "spaces around every bracket, separator and marker",
        text_mail(f"  {MARKER} :  [  a@x.example ,   b@y.example  ]  :  {MARKER} :  \r\n"),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "tabs and non-breaking spaces",
        text_mail(f"{MARKER}:\t[\ta@x.example\u00a0,\tb@y.example ]\t:{MARKER}:"),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "semicolons",
        text_mail(line("a@x.example; b@y.example; c@z.example")),
        ("a@x.example", "b@y.example", "c@z.example"),
    ),
    Case(
        "mixed and repeated separators",
        text_mail(line("a@x.example;, b@y.example ,; c@z.example;")),
        ("a@x.example", "b@y.example", "c@z.example"),
    ),
    Case(
        "angle brackets",
        text_mail(line("<a@x.example>, <b@y.example>")),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "display names, quoted ones with commas and brackets",
        text_mail(
            line('Ops Team <ops@x.example>, "Doe, John" <john@y.example>; "NOC [24/7]; EU" <noc@z.example>')
        ),
        ("ops@x.example", "john@y.example", "noc@z.example"),
    ),
    Case(
        "mailto prefixes, bare and in angle brackets",
        text_mail(line("mailto:a@x.example, <MAILTO:b@y.example>, Ops <mailto:ops@z.example>")),
        ("a@x.example", "b@y.example", "ops@z.example"),
    ),
    Case(
        "closing marker without its trailing colon",
        text_mail(f"{MARKER}:[a@x.example]:{MARKER}\r\nnext line\r\n"),
        ("a@x.example",),
    ),
    Case(
        "list without brackets",
        text_mail(f"{MARKER}: a@x.example, b@y.example :{MARKER}:"),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "list wrapped over lines inside the brackets",
        text_mail(
            f"Hello\r\n{MARKER}:[a@x.example,\r\n   b@y.example,\r\n c@z.example\r\n]:{MARKER}:\r\nBye\r\n"
        ),
        ("a@x.example", "b@y.example", "c@z.example"),
    ),
    Case(
        "bare LF line ends",
        text_mail(f"first\n{line('a@x.example, b@y.example')}\nlast\n"),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "quoted-printable part with soft breaks in the marker and the list",
        single_part_mail(
            "text/plain",
            b"Line1: reading\r\nLine2:Email_Rxe=\r\nrs_Code:[a@x.exam=\r\nple, b=40y.example]"
            b":Email_Rxers=\r\n_Code:\r\n",
            encoding="quoted-printable",
        ),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "literal soft breaks left in a part not declared quoted-printable",
        text_mail(
            f"Line1\r\nEmail_Rx=\r\ners_Code:[a@x.example,=\r\nb@y.example]:=\r\n{MARKER}:\r\nLine3\r\n"
        ),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "base64-encoded text part",
        single_part_mail(
            "text/plain",
            base64.encodebytes(f"Line1\r\n{line('a@x.example, b@y.example')}\r\n".encode()),
            encoding="base64",
        ),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "latin-1 part with accented display names",
        text_mail(
            line("José Núñez <jose@x.example>, Zoë <zoe@y.example>"), charset="iso-8859-1", encoding="8bit"
        ),
        ("jose@x.example", "zoe@y.example"),
    ),
    Case(
        "upper-case domains are lowered, local parts kept",
        text_mail(line("Ops.Lead@EXAMPLE-A.example, x@Sub.Example-B.example")),
        ("Ops.Lead@example-a.example", "x@sub.example-b.example"),
    ),
    Case(
        "HTML only",
        html_mail(f"<html><body><p>Hello</p><p>{line('a@x.example, b@y.example')}</p></body></html>"),
        ("a@x.example", "b@y.example"),
        source="html",
    ),
    Case(
        "HTML entities for angle brackets, the at sign and spaces",
        html_mail(
            f"<p>{MARKER}:[&nbsp;Ops &lt;ops&#64;x.example&gt;,&nbsp;b&#x40;y.example&nbsp;]"
            f"&nbsp;:{MARKER}:</p>"
        ),
        ("ops@x.example", "b@y.example"),
        source="html",
    ),
    Case(
        "HTML line split across tags and br",
        html_mail(
            f'<div>Line2:<b>{MARKER}</b>:[<a href="mailto:a@x.example">a@x.example</a>,<br>\r\n'
            f"<span>b@y.example</span>]:<i>{MARKER}</i>:</div>"
        ),
        ("a@x.example", "b@y.example"),
        source="html",
    ),
    Case(
        "HTML script holding a marker is not read",
        html_mail(f"<script>var x = '{line('evil@x.example')}';</script><p>{line('a@x.example')}</p>"),
        ("a@x.example",),
        source="html",
    ),
    Case(
        "alternative: the text part wins when it has the marker",
        alternative_mail(line("text@x.example"), f"<p>{line('html@x.example')}</p>"),
        ("text@x.example",),
    ),
    Case(
        "alternative: the HTML part when the text part has no marker",
        alternative_mail("see the HTML version", f"<p>{line('html@x.example')}</p>"),
        ("html@x.example",),
        source="html",
    ),
    Case(
        "duplicates in case variants keep the first spelling and order",
        text_mail(line("Ops@X.example, b@y.example, ops@x.EXAMPLE, OPS@x.example, B@Y.example")),
        ("Ops@x.example", "b@y.example"),
    ),
    Case(
        "several marker lines are merged in order, deduplicated",
        text_mail(f"{line('a@x.example, b@y.example')}\r\nbetween\r\n{line('c@z.example; A@x.example')}\r\n"),
        ("a@x.example", "b@y.example", "c@z.example"),
    ),
    Case(
        "two lists on one line",
        text_mail(f"{line('a@x.example')} and {line('b@y.example')}"),
        ("a@x.example", "b@y.example"),
    ),
    Case(
        "invalid entries mixed with valid ones are reported, valid kept",
        text_mail(line("a@x.example, not-an-address, b@@y.example, c@z.example, d@localhost")),
        ("a@x.example", "c@z.example"),
        invalid=("not-an-address", "b@@y.example", "d@localhost"),
    ),
    Case(
        "120 recipients are all found",
        text_mail(line(", ".join(HUNDRED_TWENTY))),
        HUNDRED_TWENTY,
    ),
    Case(
        "exactly the maximum",
        text_mail(line("a@x.example, b@y.example, c@z.example")),
        ("a@x.example", "b@y.example", "c@z.example"),
        max_recipients=3,
    ),
    Case(
        "duplicates do not count towards the maximum",
        text_mail(line("a@x.example, b@y.example, A@X.example")),
        ("a@x.example", "b@y.example"),
        max_recipients=2,
    ),
    Case(
        "a custom marker",
        text_mail("To-List:[a@x.example]:To-List:"),
        ("a@x.example",),
        marker="To-List",
    ),
    Case(
        "more than the maximum is refused, not cut",
        text_mail(line("a@x.example, b@y.example, c@z.example, d@w.example")),
        RefusalReason.TOO_MANY,
        max_recipients=3,
    ),
    Case(
        "repeats up to ten entries per allowed recipient are read",
        text_mail(line(", ".join(["a@x.example"] * 20))),
        ("a@x.example",),
        max_recipients=2,
    ),
    Case(
        "more than ten entries per allowed recipient are refused unread",
        text_mail(line(", ".join(["a@x.example"] * 21))),
        RefusalReason.TOO_MANY,
        max_recipients=2,
    ),
    Case(
        "none valid",
        text_mail(line("nobody, b@@y.example, <>")),
        RefusalReason.NONE_VALID,
        invalid=("nobody", "b@@y.example", "<>"),
    ),
    Case("no marker", text_mail("Line1: reading\r\nLine2: a@x.example\r\n"), RefusalReason.NO_MARKER),
    Case("empty brackets", text_mail(line("")), RefusalReason.EMPTY_LIST),
    Case("only separators and spaces", text_mail(line(" ,; , ")), RefusalReason.EMPTY_LIST),
    Case(
        "opening marker never closed",
        text_mail(f"{MARKER}:[a@x.example, b@y.example]\r\nLine3\r\n"),
        RefusalReason.UNTERMINATED,
    ),
    Case(
        "an unclosed list next to a complete one refuses the mail",
        text_mail(f"{MARKER}:[a@x.example\r\n{line('b@y.example')}\r\n"),
        RefusalReason.UNTERMINATED,
    ),
    Case(
        "an unclosed list after complete ones refuses the mail",
        text_mail(f"{line('a@x.example')}\r\n{line('b@y.example')}\r\nLine3 {MARKER}: and no list\r\n"),
        RefusalReason.UNTERMINATED,
    ),
    Case(
        "an unterminated text list does not fall back to the HTML part",
        alternative_mail(f"{MARKER}:[a@x.example", f"<p>{line('html@x.example')}</p>"),
        RefusalReason.UNTERMINATED,
    ),
    Case(
        "the marker is case-sensitive",
        text_mail(line("a@x.example", marker=MARKER.lower())),
        RefusalReason.NO_MARKER,
    ),
    Case(
        "the marker is a literal, not a pattern",
        text_mail("ToXList:[a@x.example]:ToXList:"),
        RefusalReason.NO_MARKER,
        marker="To.List",
    ),
    Case("a list inside an attachment is not read", attachment_only_mail(), RefusalReason.NO_MARKER),
]


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(CASES) >= 30
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_recipient_line(case: Case) -> None:
    mail = parse_mail(case.mail)
    result = find_recipients(mail, marker=case.marker, max_recipients=case.max_recipients)
    if isinstance(case.expected, RefusalReason):
        assert isinstance(result, RecipientsRefused), result
        assert result.reason is case.expected
        assert result.detail
        assert tuple(item.text for item in result.invalid) == case.invalid
        return
    assert isinstance(result, RecipientsFound), result
    assert result.addresses == case.expected
    assert result.source == case.source
    assert tuple(item.text for item in result.invalid) == case.invalid
    assert all(item.reason for item in result.invalid)
    # The line that was read is the line that is removed from what is sent.
    if case.source == "text":
        remaining = remove_marker_lines(mail.text_body() or "", marker=case.marker)
    else:
        remaining = html_text(remove_marker_lines_html(mail.html_body() or "", marker=case.marker))
    assert case.marker not in remaining.replace("=\r\n", "")


def test_120_recipients_make_three_sends_of_at_most_50() -> None:
    mail = parse_mail(text_mail(line(", ".join(HUNDRED_TWENTY))))
    result = find_recipients(mail, marker=MARKER, max_recipients=500)
    assert isinstance(result, RecipientsFound)
    chunks = chunk_recipients(result.addresses)
    assert [len(chunk) for chunk in chunks] == [50, 50, 20]
    assert tuple(address for chunk in chunks for address in chunk) == HUNDRED_TWENTY


def test_too_many_keeps_the_invalid_entries_and_gives_the_counts() -> None:
    mail = parse_mail(text_mail(line("a@x.example, b@y.example, c@z.example, broken")))
    result = find_recipients(mail, marker=MARKER, max_recipients=2)
    assert isinstance(result, RecipientsRefused)
    assert result.reason is RefusalReason.TOO_MANY
    assert "3 distinct addresses" in result.detail
    assert "at most 2" in result.detail
    assert [item.text for item in result.invalid] == ["broken"]


def test_no_marker_detail_names_a_case_variant_without_the_mail_text() -> None:
    mail = parse_mail(text_mail(f"secret words {line('a@x.example', marker='EMAIL_RXERS_CODE')}"))
    result = find_recipients(mail, marker=MARKER, max_recipients=500)
    assert isinstance(result, RecipientsRefused)
    assert result.reason is RefusalReason.NO_MARKER
    assert "'EMAIL_RXERS_CODE'" in result.detail
    assert "case-sensitive" in result.detail
    assert "secret" not in result.detail
    assert "a@x.example" not in result.detail


def test_a_mail_without_any_body_says_so() -> None:
    result = find_recipients(parse_mail(attachment_only_mail()), marker=MARKER, max_recipients=500)
    assert result == RecipientsRefused(RefusalReason.NO_MARKER, "the mail has no text or HTML body")


@pytest.mark.parametrize("bad_limit", [0, -1])
def test_max_recipients_must_be_positive(bad_limit: int) -> None:
    with pytest.raises(ValueError, match="max_recipients"):
        find_recipients(parse_mail(text_mail(line("a@x.example"))), marker=MARKER, max_recipients=bad_limit)


def test_refusal_reasons_are_plain_strings_for_reports() -> None:
    assert [str(reason) for reason in RefusalReason] == [
        "no_marker",
        "unterminated",
        "empty_list",
        "none_valid",
        "too_many",
    ]


# --- removing the marker line from text ---------------------------------------------------------------------


def test_sample_loses_only_its_recipients_line() -> None:
    text = parse_mail(DEVICE_MAIL.read_bytes()).text_body()
    assert text is not None
    remaining = remove_marker_lines(text, marker=MARKER)
    assert remaining == (
        "Line1:This is a Test email sent to coded list of email addresses using the Amazon SES SMTP "
        "interface from openssl SMTP client.\r\nLine3:Last line.\r\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "one\r\nLabel:" + line("a@x.example") + " trailing\r\ntwo\r\n", "one\r\ntwo\r\n", id="crlf"
        ),
        pytest.param("one\n" + line("a@x.example") + "\ntwo\n", "one\ntwo\n", id="lf"),
        pytest.param("one\r" + line("a@x.example") + "\rtwo", "one\rtwo", id="cr"),
        pytest.param(line("a@x.example") + "\r\nrest\r\n", "rest\r\n", id="first line"),
        pytest.param("one\r\n" + line("a@x.example"), "one\r\n", id="last line without line end"),
        pytest.param(
            f"one\r\n{MARKER}:[a@x.example,\r\n  b@y.example\r\n]:{MARKER}:\r\ntwo\r\n",
            "one\r\ntwo\r\n",
            id="list wrapped over three lines",
        ),
        pytest.param(
            f"one\r\nLi=\r\nne2:Email_Rx=\r\ners_Code:[a@x.example]:{MARKER}:=\r\n tail\r\ntwo\r\n",
            "one\r\ntwo\r\n",
            id="soft breaks join the line to its neighbours",
        ),
        pytest.param(
            f"{line('a@x.example')}\nkeep\n{line('b@y.example')}\n", "keep\n", id="every list line goes"
        ),
        pytest.param(
            f"total =\nsum\n{line('a@x.example')}\nend\n",
            "total =\nsum\nend\n",
            id="a line ending in = elsewhere is untouched",
        ),
    ],
)
def test_remove_marker_lines(text: str, expected: str) -> None:
    assert remove_marker_lines(text, marker=MARKER) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("no list here\r\nnor here\r\n", id="no marker"),
        pytest.param(f"{MARKER}:[a@x.example\r\nrest\r\n", id="unterminated"),
        pytest.param(line("a@x.example", marker=MARKER.upper()) + "\n", id="other case"),
    ],
)
def test_text_without_a_complete_list_is_returned_unchanged(text: str) -> None:
    assert remove_marker_lines(text, marker=MARKER) == text


# --- removing the marker line from HTML ---------------------------------------------------------------------

_VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "embed", "source", "track"}


class _TagBalance(HTMLParser):
    """Records tags closed out of order or never closed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.mismatched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.mismatched.append(tag)


def assert_balanced(markup: str) -> None:
    checker = _TagBalance()
    checker.feed(markup)
    checker.close()
    assert (checker.open, checker.mismatched) == ([], [])


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        pytest.param(
            f"<html><body><p>Hello</p>\n<p>Line2:{line('a@x.example')}</p>\n<p>Bye</p></body></html>",
            "<html><body><p>Hello</p>\n\n<p>Bye</p></body></html>",
            id="paragraph",
        ),
        pytest.param(
            f"<div>Line1<br>Line2:{line('a@x.example')}<br>Line3</div>",
            "<div>Line1<br>Line3</div>",
            id="line between br tags",
        ),
        pytest.param(
            f'<div>Line1<br>Line2:<b>{MARKER}</b>:[<a href="mailto:a@x.example">a@x.example</a>,<br>'
            f"b&#64;y.example]:<i>{MARKER}</i>:<br>Line3</div>",
            "<div>Line1<br>Line3</div>",
            id="split across tags, a mailto link and a br",
        ),
        pytest.param(
            f"<table><tr><td>{line('a@x.example')}</td><td>kept</td></tr></table>",
            "<table><tr><td></td><td>kept</td></tr></table>",
            id="table cell keeps the table whole",
        ),
        pytest.param(
            f"<div><b>bold starts<br>{line('a@x.example')} still bold</b> after</div>",
            "<div><b>bold starts<br></b></div>",
            id="an element closed on the list line keeps its closing tag",
        ),
        pytest.param(
            f"<p>Hi</p><ul><li>{line('a@x.example')}</li><li>two</li></ul>",
            "<p>Hi</p><ul><li>two</li></ul>",
            id="list item",
        ),
        pytest.param(
            f"<p>{line('a@x.example')}</p><!-- {MARKER} --><p>&lt;kept&gt; &amp; more</p>",
            f"<!-- {MARKER} --><p>&lt;kept&gt; &amp; more</p>",
            id="entities and comments elsewhere kept byte for byte",
        ),
    ],
)
def test_remove_marker_lines_html(markup: str, expected: str) -> None:
    remaining = remove_marker_lines_html(markup, marker=MARKER)
    assert remaining == expected
    assert_balanced(remaining)
    assert MARKER not in html_text(remaining)


def test_html_script_with_a_less_than_sign_is_kept_whole() -> None:
    script = f"<script>if (a < b) {{ x = '{line('evil@x.example')}'; }}</script>"
    markup = f"<html><head>{script}</head><body><p>{line('a@x.example')}</p><p>Bye</p></body></html>"
    remaining = remove_marker_lines_html(markup, marker=MARKER)
    assert remaining == f"<html><head>{script}</head><body><p>Bye</p></body></html>"


@pytest.mark.parametrize(
    "markup",
    [
        pytest.param("<p>Hello <b>world</b></p>", id="no marker"),
        pytest.param(f"<p>{MARKER}:[a@x.example</p><p>rest</p>", id="unterminated"),
    ],
)
def test_html_without_a_complete_list_is_returned_unchanged(markup: str) -> None:
    assert remove_marker_lines_html(markup, marker=MARKER) == markup


def test_html_text_decodes_entities_and_breaks_lines_at_blocks() -> None:
    markup = "<p>a&#64;x.example&nbsp;&lt;b&gt;</p><div>one<br>two</div><style>p { color: red }</style>"
    assert html_text(markup) == "\na@x.example\u00a0<b>\n\none\ntwo\n"
