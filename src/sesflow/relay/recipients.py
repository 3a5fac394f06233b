"""The relay's recipients: the `MARKER:[a@x, b@y]:MARKER:` list in a mail's body, read and checked, and the
line that holds it removed from what is sent.

Decisions, each pinned by a test:
- The marker is matched literally and with its exact case: it is a code word the sender types on purpose, and
  a case-insensitive match would also act on text that only resembles it. A case variant is named in the
  refusal's detail so that the sender can see the mistake.
- The text part is read first; the HTML part only when the text part holds no marker at all.
- Every complete list in the part is used, merged in order and deduplicated: a device may write one line per
  group, and every line removed from the mail must have been honoured.
- An opening marker without its closing marker refuses the whole mail (`UNTERMINATED`): guessing where the
  list ends could send to a cut-off list.
- A literal `=` line break (a quoted-printable soft break left in a part not declared as such) is ignored
  inside the marker and the list, and a line ending in `=` continues on the next one.
"""

import html
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Literal

from sesflow.mail import InvalidAddress, ParsedMail, check_addresses, split_addresses

type RecipientsSource = Literal["text", "html"]


class RefusalReason(StrEnum):
    """Why a mail's recipients cannot be used."""

    NO_MARKER = "no_marker"
    UNTERMINATED = "unterminated"
    EMPTY_LIST = "empty_list"
    NONE_VALID = "none_valid"
    TOO_MANY = "too_many"


@dataclass(frozen=True, slots=True)
class RecipientsFound:
    """The addresses to send to (deduplicated, in order), the entries that were not addresses, and the
    body part they were read from."""

    addresses: tuple[str, ...]
    invalid: tuple[InvalidAddress, ...]
    source: RecipientsSource


@dataclass(frozen=True, slots=True)
class RecipientsRefused:
    """No recipients to send to, and why. `detail` holds counts and names, never the mail's text."""

    reason: RefusalReason
    detail: str
    invalid: tuple[InvalidAddress, ...] = ()


type RecipientsResult = RecipientsFound | RecipientsRefused

MAX_ENTRIES_PER_RECIPIENT = 10
"""Lists with more entries than this many per allowed recipient (duplicates and invalid ones included) are
refused unread, so that a hostile mail cannot make the relay validate a million entries."""

# A quoted-printable soft break ("=" before a line break) that nothing decoded.
_SOFT_BREAK = r"=(?:\r\n|\n|\r)"
_GAP = rf"(?:\s|{_SOFT_BREAK})*"
_SOFT_BREAK_PATTERN = re.compile(_SOFT_BREAK)
_LINE_BREAK_PATTERN = re.compile(r"\r\n|\n|\r")
_MAILTO_PATTERN = re.compile(r"\bmailto:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _MarkerPatterns:
    complete_list: re.Pattern[str]
    opening: re.Pattern[str]
    opening_any_case: re.Pattern[str]


@lru_cache(maxsize=8)
def _marker_patterns(marker: str) -> _MarkerPatterns:
    # Compiling these takes milliseconds; a warm container compiles them once.
    if not marker:
        raise ValueError("the recipients marker must not be empty")
    marker_pattern = f"(?:{_SOFT_BREAK})?".join(re.escape(char) for char in marker)
    opening = rf"{marker_pattern}{_GAP}:"
    # The list is everything up to the next ":MARKER"; it may not hold the marker itself, so an unterminated
    # list never swallows the next one. The closing marker's own trailing ":" is optional. Spaces before the
    # closing ":" stay in the list (and are stripped later): a gap there would make long runs of spaces
    # quadratic to scan.
    complete_list = (
        rf"{opening}(?P<list>(?:(?!{marker_pattern}).)*?):{_GAP}{marker_pattern}"
        rf"(?:(?:[^\S\r\n]|{_SOFT_BREAK})*:)?"
    )
    return _MarkerPatterns(
        complete_list=re.compile(complete_list, re.DOTALL),
        opening=re.compile(opening),
        opening_any_case=re.compile(opening, re.IGNORECASE),
    )


@dataclass(frozen=True, slots=True)
class _MarkerScan:
    lists: tuple[re.Match[str], ...]
    unterminated_at: int | None
    other_case_spelling: str | None

    @property
    def has_marker(self) -> bool:
        return bool(self.lists) or self.unterminated_at is not None


def _scan(text: str, patterns: _MarkerPatterns) -> _MarkerScan:
    lists = tuple(patterns.complete_list.finditer(text))
    unterminated_at = _first_opening_outside(patterns.opening.finditer(text), lists)
    other_case_spelling = None
    if not lists and unterminated_at is None:
        variant = patterns.opening_any_case.search(text)
        if variant is not None:
            other_case_spelling = _SOFT_BREAK_PATTERN.sub("", variant.group()).rstrip(": \t\r\n")
    return _MarkerScan(lists, unterminated_at, other_case_spelling)


def _first_opening_outside(openings: Iterable[re.Match[str]], lists: Sequence[re.Match[str]]) -> int | None:
    """Where the first opening marker that is not part of a complete list is, or None.

    Both come in text order, so one pass over each suffices."""
    index = 0
    for opening in openings:
        while index < len(lists) and lists[index].end() <= opening.start():
            index += 1
        if index == len(lists) or opening.start() < lists[index].start():
            return opening.start()
    return None


def find_recipients(mail: ParsedMail, *, marker: str, max_recipients: int) -> RecipientsResult:
    """The recipients listed between the markers in the text part or, when it has no marker, the HTML part.

    Entries that are not valid addresses are reported in `invalid`, next to the valid ones; more than
    `max_recipients` distinct valid addresses refuse the mail rather than cut the list short.
    """
    if max_recipients < 1:
        raise ValueError(f"max_recipients must be positive, not {max_recipients}")
    patterns = _marker_patterns(marker)
    bodies: list[tuple[RecipientsSource, str]] = []
    if (text := mail.text_body()) is not None:
        bodies.append(("text", text))
    if (markup := mail.html_body()) is not None:
        bodies.append(("html", html_text(markup)))
    other_case_spellings: list[str] = []
    for source, body in bodies:
        scan = _scan(body, patterns)
        if scan.has_marker:
            return _read_lists(scan, source, marker=marker, max_recipients=max_recipients)
        if scan.other_case_spelling is not None:
            other_case_spellings.append(scan.other_case_spelling)
    return RecipientsRefused(RefusalReason.NO_MARKER, _no_marker_detail(bodies, marker, other_case_spellings))


def _no_marker_detail(
    bodies: Sequence[tuple[RecipientsSource, str]], marker: str, other_case_spellings: Sequence[str]
) -> str:
    if not bodies:
        return "the mail has no text or HTML body"
    searched = " or ".join(f"{source} part" for source, _ in bodies)
    detail = f"no {marker!r} list in the {searched}"
    if other_case_spellings:
        detail += f"; found {other_case_spellings[0]!r}, but the marker is case-sensitive"
    return detail


def _read_lists(
    scan: _MarkerScan, source: RecipientsSource, *, marker: str, max_recipients: int
) -> RecipientsResult:
    if scan.unterminated_at is not None:
        return RecipientsRefused(
            RefusalReason.UNTERMINATED,
            f"the {source} part opens a {marker!r} list that is not closed by ':{marker}:'",
        )
    lists = [_list_entries(found.group("list")) for found in scan.lists]
    where = f"{len(lists)} list(s) in the {source} part"
    entry_count = sum(len(split_addresses(listed)) for listed in lists)
    if entry_count == 0:
        return RecipientsRefused(RefusalReason.EMPTY_LIST, f"{where}, holding no entries")
    entry_limit = max_recipients * MAX_ENTRIES_PER_RECIPIENT
    if entry_count > entry_limit:
        # Validation is the costly part; a list this long is refused before it is checked.
        return RecipientsRefused(
            RefusalReason.TOO_MANY, f"{where}, {entry_count} entries; more than {entry_limit} are not read"
        )
    check = check_addresses(lists)
    if not check.valid:
        return RecipientsRefused(
            RefusalReason.NONE_VALID, f"{where}, none of {len(check.invalid)} entries valid", check.invalid
        )
    if len(check.valid) > max_recipients:
        return RecipientsRefused(
            RefusalReason.TOO_MANY,
            f"{where}, {len(check.valid)} distinct addresses; at most {max_recipients} are allowed",
            check.invalid,
        )
    return RecipientsFound(tuple(check.addresses), check.invalid, source)


def _list_entries(listed: str) -> str:
    """The list's text as an address list: soft breaks, line breaks, brackets and `mailto:` taken out."""
    flat = _LINE_BREAK_PATTERN.sub(" ", _SOFT_BREAK_PATTERN.sub("", listed)).strip()
    flat = flat.removeprefix("[").removesuffix("]")
    # The mail layer reads "mailto:a@x" as a group name and an address, but not "<mailto:a@x>".
    return _MAILTO_PATTERN.sub("", flat)


def remove_marker_lines(text: str, *, marker: str) -> str:
    """`text` without the lines that hold a complete recipients list; all other lines and their line endings
    are kept as they are.

    The whole line goes, including any label before the marker (`Line2:`) or text after it: the line is
    there to carry the list. A list wrapped over several lines takes all of them. An unterminated list is
    left alone; `find_recipients` refuses such a mail, so it is never sent.
    """
    kept: list[str] = []
    position = 0
    for start, end in _list_line_spans(text, _complete_lists(text, marker)):
        kept.append(text[position:start])
        position = end
    kept.append(text[position:])
    return "".join(kept)


def _complete_lists(text: str, marker: str) -> Iterator[re.Match[str]]:
    return _marker_patterns(marker).complete_list.finditer(text)


def _list_line_spans(text: str, lists: Iterable[re.Match[str]]) -> list[tuple[int, int]]:
    """The lines holding `lists` (in order), merged: from a line's start to the end of its line ending.

    Each piece of text is scanned once, so a line holding thousands of lists costs no more than one list.
    """
    spans: list[tuple[int, int]] = []
    for found in lists:
        previous_end = spans[-1][1] if spans else 0
        if spans and found.end() <= previous_end:
            continue  # on a line already taken
        if spans and found.start() < previous_end:
            start = spans.pop()[0]
        else:
            start = _logical_line_start(text, found.start(), floor=previous_end)
        spans.append((start, _logical_line_end(text, found.end())))
    return spans


def _logical_line_start(text: str, position: int, *, floor: int) -> int:
    """The start of the line holding `position`, not before `floor`; a soft break (`=` before the line
    break) joins a line to the one before it."""
    line_start = _physical_line_start(text, position, floor)
    while line_start > floor:
        break_start = line_start - 2 if text[line_start - 2 : line_start] == "\r\n" else line_start - 1
        if break_start <= floor or text[break_start - 1] != "=":
            break
        line_start = _physical_line_start(text, break_start - 1, floor)
    return line_start


def _physical_line_start(text: str, position: int, floor: int) -> int:
    return max(text.rfind("\n", floor, position) + 1, text.rfind("\r", floor, position) + 1, floor)


def _logical_line_end(text: str, position: int) -> int:
    """The end of the line ending after `position` (the text's end when none); soft breaks continue it."""
    while (line_break := _LINE_BREAK_PATTERN.search(text, position)) is not None:
        position = line_break.end()
        if line_break.start() == 0 or text[line_break.start() - 1] != "=":
            return position
    return len(text)


# --- HTML ---------------------------------------------------------------------------------------------------

# No part of a tag may hold "<": a "<" never closed by ">" would otherwise be scanned to the end of the
# markup once per "<", which is quadratic. The rare attribute value holding "<" is read as text instead.
_HTML_TOKEN_PATTERN = re.compile(
    r"""
    (?P<comment><!--.*?(?:-->|\Z))
    | (?P<tag></?(?P<name>[A-Za-z][^\s/<>]*)(?:"[^"<]*"|'[^'<]*'|[^'"<>])*>)
    | (?P<declaration><[!?][^<>]*>)
    """,
    re.DOTALL | re.VERBOSE,
)
_RAW_TEXT_ELEMENTS = frozenset({"script", "style", "textarea", "title"})
_VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_LINE_BREAKING_ELEMENTS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "dd", "div", "dl", "dt", "footer", "form",
        "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p", "pre",
        "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
# Elements that may go with the list line when they hold nothing else; containers such as tables, lists and
# the body stay, so the document keeps its structure.
_REMOVABLE_WRAPPERS = frozenset(
    {
        "a", "b", "big", "blockquote", "code", "div", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "i",
        "li", "p", "pre", "small", "span", "strong", "sub", "sup", "tt", "u",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _HtmlToken:
    """A piece of the HTML source: text, a tag, a comment or declaration, or the raw content of a script."""

    source: str
    kind: Literal["text", "tag", "other"]
    name: str = ""
    closing: bool = False
    self_closing: bool = False

    @property
    def breaks_line(self) -> bool:
        return self.kind == "tag" and self.name in _LINE_BREAKING_ELEMENTS

    @property
    def is_void(self) -> bool:
        return self.kind == "tag" and (self.name in _VOID_ELEMENTS or self.self_closing)

    @property
    def shown_text(self) -> str:
        """What a reader sees of this token, with each line-breaking tag as a line break."""
        if self.kind == "text":
            return html.unescape(self.source)
        return "\n" if self.breaks_line else ""


def _html_tokens(markup: str) -> Iterator[_HtmlToken]:
    position = 0
    while position < len(markup):
        found = _HTML_TOKEN_PATTERN.search(markup, position)
        if found is None:
            yield _HtmlToken(markup[position:], "text")
            return
        if found.start() > position:
            yield _HtmlToken(markup[position : found.start()], "text")
        position = found.end()
        if found.group("tag") is None:
            yield _HtmlToken(found.group(), "other")
            continue
        name = found.group("name").lower()
        tag = found.group("tag")
        closing = tag.startswith("</")
        yield _HtmlToken(tag, "tag", name, closing, tag.endswith("/>"))
        if name in _RAW_TEXT_ELEMENTS and not closing:
            # Their content is not markup; a "<" in a script must not start a tag.
            end = re.compile(rf"</{re.escape(name)}\s*>", re.IGNORECASE).search(markup, position)
            raw_end = len(markup) if end is None else end.start()
            if raw_end > position:
                yield _HtmlToken(markup[position:raw_end], "text" if name == "textarea" else "other")
            position = raw_end


def html_text(markup: str) -> str:
    """The text a reader sees in `markup`: tags dropped, entities decoded, a line break for each `<br>`
    and block element; scripts and styles left out."""
    return "".join(token.shown_text for token in _html_tokens(markup))


def remove_marker_lines_html(markup: str, *, marker: str) -> str:
    """`markup` without the lines that hold a complete recipients list, like `remove_marker_lines` for text.

    A line is what lies between two line-breaking tags (`<br>`, `<p>`, `<div>`, ...). Its text goes, with
    the elements opened and closed within it (links with `mailto:` targets too), the `<br>` that ends it, and
    a wrapper such as `<p>` that held nothing else. Tags opened on the line and closed elsewhere stay, so the
    rest of the document keeps its structure. Everything outside the removed lines is kept byte for byte.
    """
    lists = list(_complete_lists(html_text(markup), marker))
    if not lists:
        return markup
    tokens = list(_html_tokens(markup))
    # Where each token's shown text starts, for the tokens that show any: a list's position in the shown text
    # leads back to its tokens by bisection, without a table as long as the text.
    shown_starts: list[int] = []
    showing_tokens: list[int] = []
    shown_length = 0
    for index, token in enumerate(tokens):
        if length := len(token.shown_text):
            shown_starts.append(shown_length)
            showing_tokens.append(index)
            shown_length += length
    removed: set[int] = set()
    last_removed = -1
    for found in lists:
        first = showing_tokens[bisect_right(shown_starts, found.start()) - 1]
        last = showing_tokens[bisect_right(shown_starts, found.end() - 1) - 1]
        if last <= last_removed:
            continue  # on a line already taken
        dropped, last_removed = _html_line_tokens(tokens, first, last)
        removed.update(dropped)
    return "".join(token.source for index, token in enumerate(tokens) if index not in removed)


def _html_line_tokens(tokens: Sequence[_HtmlToken], first: int, last: int) -> tuple[set[int], int]:
    """The tokens to drop for a list shown from token `first` to token `last`, and the last token of its line
    (with what was dropped around it)."""
    while first > 0 and not tokens[first - 1].breaks_line:
        first -= 1
    while last + 1 < len(tokens) and not tokens[last + 1].breaks_line:
        last += 1
    dropped = _self_contained_tokens(tokens, first, last)
    if last + 1 < len(tokens) and tokens[last + 1].name == "br":
        dropped.add(last + 1)
        last += 1
    # A wrapper is dropped only when everything between its tags is dropped too.
    while (
        first > 0
        and last + 1 < len(tokens)
        and all(index in dropped for index in range(first, last + 1))
        and _wraps(tokens[first - 1], tokens[last + 1])
    ):
        first -= 1
        last += 1
        dropped.update((first, last))
    return dropped, last


def _wraps(opening: _HtmlToken, closing: _HtmlToken) -> bool:
    return (
        opening.kind == "tag"
        and not opening.closing
        and closing.closing
        and opening.name == closing.name
        and opening.name in _REMOVABLE_WRAPPERS
    )


def _self_contained_tokens(tokens: Sequence[_HtmlToken], first: int, last: int) -> set[int]:
    """Tokens from `first` to `last` that can go without unbalancing the document: text, comments, void
    elements, and tag pairs opened and closed within the range."""
    dropped: set[int] = set()
    open_tags: list[int] = []
    for index in range(first, last + 1):
        token = tokens[index]
        if token.kind != "tag" or token.is_void:
            dropped.add(index)
        elif not token.closing:
            open_tags.append(index)
        elif open_tags and tokens[open_tags[-1]].name == token.name:
            dropped.update((open_tags.pop(), index))
    return dropped
