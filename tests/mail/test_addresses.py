"""Addresses: split lists, validate without DNS, normalize, dedupe, and chunk for SES."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from sesflow.mail.addresses import (
    SES_MAX_RECIPIENTS,
    InvalidAddress,
    ValidAddress,
    check_addresses,
    chunk_recipients,
    dedupe_addresses,
    split_addresses,
    validate_address,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a@example.com", ["a@example.com"]),
        ("a@example.com, b@example.com;c@example.com", ["a@example.com", "b@example.com", "c@example.com"]),
        (
            '"Doe, John" <john@example.com>, jane@example.com',
            ['"Doe, John" <john@example.com>', "jane@example.com"],
        ),
        ("Doe, John <john@example.com>", ["Doe, John <john@example.com>"]),
        ("team: a@example.com, b@example.com;", ["a@example.com", "b@example.com"]),
        ("undisclosed-recipients:;", []),
        ("a@example.com (work, main), b@example.com", ["a@example.com (work, main)", "b@example.com"]),
        ("=?utf-8?q?J=C3=B6rg?= <j@example.de>", ["Jörg <j@example.de>"]),
        (" ,, ;; ", []),
        ("", []),
    ],
)
def test_split_addresses(text: str, expected: list[str]) -> None:
    assert split_addresses(text) == expected


def test_valid_address_keeps_the_local_part_and_lowers_the_domain() -> None:
    result = validate_address("ANYUSER1@DOMAIN-A.example")
    assert result == ValidAddress(
        address="ANYUSER1@domain-a.example",
        ascii_address="ANYUSER1@domain-a.example",
        display_name="",
        original="ANYUSER1@DOMAIN-A.example",
    )


def test_display_name_and_angle_brackets_are_separated() -> None:
    result = validate_address('"Doe, John" <John.Doe@Example.COM>')
    assert isinstance(result, ValidAddress)
    assert (result.address, result.display_name) == ("John.Doe@example.com", "Doe, John")


def test_idn_domain_is_normalized_as_email_validator_does() -> None:
    result = validate_address("x@MÜNCHEN.de")
    assert isinstance(result, ValidAddress)
    assert result.address == "x@münchen.de"
    assert result.ascii_address == "x@xn--mnchen-3ya.de"


def test_non_ascii_local_part_has_no_ascii_form() -> None:
    result = validate_address("jörg@example.com")
    assert isinstance(result, ValidAddress)
    assert result.ascii_address is None


@pytest.mark.parametrize(
    "text", ["bad@@example.com", "no-at-sign", "a..b@example.com", "a@localhost", "a@x.test"]
)
def test_invalid_address_names_the_address_and_email_validators_reason(text: str) -> None:
    with pytest.raises(EmailNotValidError) as raised:
        validate_email(text, check_deliverability=False)
    assert validate_address(text) == InvalidAddress(text, str(raised.value))


def test_empty_angle_brackets_are_invalid_with_a_reason() -> None:
    assert validate_address("Nobody <>") == InvalidAddress("Nobody <>", "No email address found.")


def test_check_addresses_splits_validates_and_dedupes_keeping_first_spelling_and_order() -> None:
    result = check_addresses(
        [
            "Alice <Alice@Example.com>, bob@example.com",
            "ALICE@example.COM; carol@example.com, bad@@example.com",
            "Bob@Example.com, bad@@example.com",
        ]
    )
    assert result.addresses == ["Alice@example.com", "bob@example.com", "carol@example.com"]
    assert result.valid[0].display_name == "Alice"
    assert [item.text for item in result.invalid] == ["bad@@example.com"]
    assert "@" in result.invalid[0].reason


def test_check_addresses_accepts_a_single_string() -> None:
    result = check_addresses("ANYUSER1@DOMAIN-A.example,ANYUSER2@DOMAIN-B.example,ANYUSERX@DOMAIN-Y.example")
    assert result.addresses == [
        "ANYUSER1@domain-a.example",
        "ANYUSER2@domain-b.example",
        "ANYUSERX@domain-y.example",
    ]
    assert result.invalid == ()


def test_dedupe_is_case_insensitive_on_the_normalized_form() -> None:
    first, second, third = (validate_address(text) for text in ("a@X.com", "A@x.COM", "b@x.com"))
    assert (
        isinstance(first, ValidAddress)
        and isinstance(second, ValidAddress)
        and isinstance(third, ValidAddress)
    )
    assert dedupe_addresses([first, second, third]) == [first, third]


def test_one_hundred_twenty_addresses_go_out_in_chunks_of_50_50_20() -> None:
    result = check_addresses([f"user{number}@example.com" for number in range(120)])
    chunks = chunk_recipients(result.addresses)
    assert [len(chunk) for chunk in chunks] == [50, 50, 20]
    flat = [address for chunk in chunks for address in chunk]
    assert flat == result.addresses
    assert len(set(flat)) == 120


def test_chunk_size_is_a_parameter_and_must_be_positive() -> None:
    assert chunk_recipients(["a", "b", "c"], size=2) == [["a", "b"], ["c"]]
    assert chunk_recipients([]) == []
    assert SES_MAX_RECIPIENTS == 50
    with pytest.raises(ValueError, match="positive"):
        chunk_recipients(["a"], size=0)


@settings(max_examples=50, deadline=None)
@given(items=st.lists(st.integers(), max_size=300), size=st.integers(min_value=1, max_value=60))
def test_chunks_cover_every_recipient_once_in_order(items: list[int], size: int) -> None:
    chunks = chunk_recipients(items, size)
    assert [item for chunk in chunks for item in chunk] == items
    assert all(1 <= len(chunk) <= size for chunk in chunks)
    assert all(len(chunk) == size for chunk in chunks[:-1])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["a@x.com", "A@X.com", "b@x.com", "B@x.COM", "c@y.org"]), max_size=30))
def test_dedupe_keeps_the_first_of_each_address(texts: list[str]) -> None:
    result = check_addresses(texts)
    keys = [address.address.casefold() for address in result.valid]
    assert len(keys) == len(set(keys))
    first_spellings = {}
    for text in texts:
        first_spellings.setdefault(text.casefold(), text)
    assert [address.original for address in result.valid] == list(first_spellings.values())
