"""Charset-safe text: bytes and header text to `str` without ever raising on a bad charset."""

import email.errors
import email.header
import re
import unicodedata

FALLBACK_CHARSET = "utf-8"

_SURROGATE = re.compile("[\ud800-\udfff]")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """`data` as text in `charset`; a missing, unknown or non-text charset falls back to utf-8.

    Undecodable bytes become U+FFFD, so this never raises.
    """
    codec_name = (charset or "").strip().strip('"') or FALLBACK_CHARSET
    try:
        return data.decode(codec_name, errors="replace")
    except (LookupError, ValueError):
        # LookupError: unknown, or not a text codec ("base64", "zlib"); ValueError: a codec
        # that refuses the "replace" handler ("idna").
        return data.decode(FALLBACK_CHARSET, errors="replace")


def repair_surrogates(text: str) -> str:
    """Text with the parser's escaped raw bytes (lone surrogates) decoded as utf-8, bad ones as U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    try:
        raw = text.encode(FALLBACK_CHARSET, errors="surrogateescape")
    except UnicodeEncodeError:
        # Surrogates outside the escaped-byte range cannot stand for a byte.
        raw = text.encode(FALLBACK_CHARSET, errors="replace")
    return raw.decode(FALLBACK_CHARSET, errors="replace")


def decode_encoded_words(text: str) -> str:
    """RFC 2047 encoded words (`=?utf-8?q?...?=`) decoded; text without them is returned as is."""
    if not _ENCODED_WORD.search(text):
        return text
    try:
        chunks = email.header.decode_header(text)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        return text
    pieces: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            pieces.append(chunk)
        else:
            pieces.append(decode_bytes(chunk, charset))
    return "".join(pieces)


def normalize_text(text: str) -> str:
    """Repaired and NFC-normalized text, the form names are compared and stored in."""
    return unicodedata.normalize("NFC", repair_surrogates(text))
