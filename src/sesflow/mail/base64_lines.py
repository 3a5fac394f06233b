"""Base64 text in lines of one length, checked and decoded in C and SIMD passes, with no work per line.

Base64 attachments are written in lines of one length (76 characters in practice) ending in CRLF or LF.
Where a piece of text has that shape, strided slices find its line breaks and `pybase64` decodes it
(skipping whatever is outside the alphabet, as `binascii.a2b_base64` does); the decoded length then
proves that nothing but the alphabet and those line breaks was there. Text of any other shape gets a
"no", never a wrong answer: callers then take their general path.
"""

import binascii
from typing import NamedTuple

import pybase64

_CR = ord("\r")


class _Grid(NamedTuple):
    breaks: int  # line-break bytes standing where lines as long as the first whole one put them
    end: int  # where the last of those lines ends
    line_length: int  # characters of such a line, its break not counted (of the first, if it is alone)


def _line_grid(data: bytes | bytearray) -> _Grid:
    first = data.find(b"\n")
    if first < 0:
        return _Grid(0, 0, len(data))
    crlf = first > 0 and data[first - 1] == _CR
    width = 2 if crlf else 1
    second = data.find(b"\n", first + 1)
    if second < 0:
        return _Grid(width, first + 1, first + 1 - width)
    step = second - first
    feeds = data[first::step]
    lines = len(feeds) - len(feeds.lstrip(b"\n"))
    if crlf:
        returns = data[first - 1 : first - 1 + lines * step : step]
        lines = len(returns) - len(returns.lstrip(b"\r"))
    return _Grid(lines * width, first + (lines - 1) * step + 1, step - width)


def _decoded_if_only_alphabet(data: bytes | bytearray, letters: int) -> bytes | None:
    """`data` decoded when it holds `letters` base64 alphabet characters (whole quads, no padding)."""
    try:
        decoded = pybase64.b64decode(data)
    except binascii.Error:  # a partial quad
        return None
    return decoded if len(decoded) * 4 == letters * 3 else None


def decode_lines(data: bytes) -> bytes | None:
    """`data` decoded when it is nothing but base64 alphabet and line breaks, in whole quads, without
    padding; None otherwise. Fast where the lines are one length; exact for any text."""
    if b"=" in data:
        return None
    grid = _line_grid(data)
    # Breaks after the grid (a shorter last line) are counted; every other byte must be the alphabet.
    breaks = grid.breaks + data.count(b"\n", grid.end) + data.count(b"\r", grid.end)
    return _decoded_if_only_alphabet(data, len(data) - breaks)


def is_base64_lines(data: bytes | bytearray) -> bool:
    """True when `data` is base64 alphabet (no padding) in lines of one length, none empty, whose breaks
    all stand on one grid (the first and the last line may be cut short: `data` may be any window).
    Then no line that starts inside `data` is empty or starts with "-". False says nothing either way."""
    if b"=" in data:
        return False
    grid = _line_grid(data)
    if grid.line_length < 1 or data.find(b"\n", grid.end) >= 0 or data.find(b"\r", grid.end) >= 0:
        return False
    letters = len(data) - grid.breaks
    padding = -letters % 4  # a window may cut a quad: completed, the decoder takes the whole
    padded = data + b"A" * padding if padding else data
    return _decoded_if_only_alphabet(padded, letters + padding) is not None
