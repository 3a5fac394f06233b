"""Recipient addresses: split header values and free-text lists, validate (syntax only, no DNS),
normalize, dedupe, and chunk to what one SES send accepts."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sesflow.mail.text import decode_encoded_words, normalize_text, repair_surrogates

SES_MAX_RECIPIENTS = 50
"""SES accepts at most 50 recipients (To, Cc and Bcc together) per message."""

_SEPARATORS = frozenset(",;")
_SPACE_AROUND_AT = re.compile(r"\s*@\s*")


@dataclass(frozen=True, slots=True)
class ValidAddress:
    """A valid address. `address` keeps the local part as given and has the domain in lower case
    (IDN domains in Unicode, as email-validator gives them); `ascii_address` has the domain in
    punycode, or is None when the local part is not ASCII."""

    address: str
    ascii_address: str | None
    display_name: str
    original: str

    @property
    def dedupe_key(self) -> str:
        return self.address.casefold()


@dataclass(frozen=True, slots=True)
class InvalidAddress:
    """Text that is not a valid address, and why (email-validator's words)."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class AddressCheck:
    """The outcome of checking a list: valid addresses (deduped, in order) and the invalid ones."""

    valid: tuple[ValidAddress, ...]
    invalid: tuple[InvalidAddress, ...]

    @property
    def addresses(self) -> list[str]:
        return [address.address for address in self.valid]


def split_addresses(text: str) -> list[str]:
    """Split a header value or a free-text list into address candidates.

    Commas and semicolons separate, except inside quotes, angle brackets, comments or domain
    literals; a group's name (`team: a@x, b@y;`) is dropped. A piece without an address that is
    followed by `Name <addr>` is joined to it, since decoded headers show `Doe, John <j@x>` unquoted.
    """
    pieces = _split_top_level(normalize_text(decode_encoded_words(repair_surrogates(text))))
    candidates: list[str] = []
    for piece in pieces:
        if candidates and _is_loose_name(candidates[-1]) and "<" in piece:
            candidates[-1] = f"{candidates[-1]}, {piece}"
        else:
            candidates.append(piece)
    return candidates


def _is_loose_name(piece: str) -> bool:
    return "@" not in piece and "<" not in piece


#: What closes each bracket that nests in a header's address list.
_CLOSING_FOR = {"<": ">", "(": ")", "[": "]"}


def _split_top_level(text: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    nesting: list[str] = []
    in_quotes = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_quotes:
            in_quotes = char != '"'
        else:
            role = _role_outside_quotes(char, nesting)
            if role == "separator":
                pieces.append("".join(current))
                current = []
                continue
            if role == "group_name_end":
                current = []  # what came before was a group name
                continue
            in_quotes = role == "quote"
        current.append(char)
    pieces.append("".join(current))
    return [stripped for piece in pieces if (stripped := piece.strip())]


def _role_outside_quotes(char: str, nesting: list[str]) -> str:
    """What a character outside quotes does to the split; brackets it opens or closes update `nesting`."""
    if nesting and char == nesting[-1]:
        nesting.pop()
        return "text"
    if char in _CLOSING_FOR:
        nesting.append(_CLOSING_FOR[char])
        return "text"
    if nesting and nesting[-1] == ")":
        return "text"  # inside a comment nothing else is special
    if char == '"':
        return "quote"
    if nesting:
        return "text"
    if char in _SEPARATORS:
        return "separator"
    return "group_name_end" if char == ":" else "text"


def validate_address(text: str) -> ValidAddress | InvalidAddress:
    """Check one candidate (`a@x`, `<a@x>`, `Name <a@x>`): a normalized address or the reason why not."""
    original = text.strip()
    display_name, bare = _split_display_name(original)
    if not bare:
        return InvalidAddress(original, "No email address found.")
    # Loaded on the first address checked (once): a handler that reads or refuses a mail never needs it.
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(bare, check_deliverability=False)
    except EmailNotValidError as error:
        return InvalidAddress(original, str(error))
    local_part = bare.rpartition("@")[0]
    ascii_domain = checked.ascii_domain
    return ValidAddress(
        address=f"{local_part}@{checked.domain}",
        ascii_address=f"{local_part}@{ascii_domain}" if local_part.isascii() else None,
        display_name=display_name,
        original=original,
    )


def _split_display_name(text: str) -> tuple[str, str]:
    opening = text.rfind("<")
    if opening >= 0:
        closing = text.find(">", opening)
        bare = text[opening + 1 : closing if closing >= 0 else len(text)]
        return _unquote(text[:opening].strip()), _bare_address(bare)
    return "", _bare_address(text)


def _bare_address(text: str) -> str:
    # Comments and folding whitespace around the "@" are allowed by RFC 5322, not by SES.
    return _SPACE_AROUND_AT.sub("@", _without_comments(text)).strip()


def _without_comments(text: str) -> str:
    kept: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept)


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return name.strip()


def dedupe_addresses(addresses: Iterable[ValidAddress]) -> list[ValidAddress]:
    """Addresses without repeats (compared case-insensitively), first spelling and order kept."""
    seen: set[str] = set()
    unique: list[ValidAddress] = []
    for address in addresses:
        if address.dedupe_key not in seen:
            seen.add(address.dedupe_key)
            unique.append(address)
    return unique


def check_addresses(values: str | Iterable[str]) -> AddressCheck:
    """Split, validate and dedupe header values or free-text lists; never raises on bad input."""
    texts = [values] if isinstance(values, str) else list(values)
    valid: list[ValidAddress] = []
    invalid: list[InvalidAddress] = []
    seen_invalid: set[str] = set()
    for candidate in (piece for text in texts for piece in split_addresses(text)):
        result = validate_address(candidate)
        if isinstance(result, ValidAddress):
            valid.append(result)
        elif result.text not in seen_invalid:
            seen_invalid.add(result.text)
            invalid.append(result)
    return AddressCheck(tuple(dedupe_addresses(valid)), tuple(invalid))


def chunk_recipients[T](recipients: Sequence[T], size: int = SES_MAX_RECIPIENTS) -> list[list[T]]:
    """Consecutive chunks of at most `size` recipients, order kept, each recipient in one chunk."""
    if size < 1:
        raise ValueError(f"chunk size must be positive, not {size}")
    return [list(recipients[start : start + size]) for start in range(0, len(recipients), size)]
