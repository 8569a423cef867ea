"""Identity normalisation: equal identities written differently must compare equal."""

from __future__ import annotations

import pytest

from crossdesk.customers.identities import InvalidIdentity, normalize, normalize_email, normalize_phone
from crossdesk.customers.service import Profile, identity_keys


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hans.Mueller@Example.DE", "hans.mueller@example.de"),
        ("  yuki@EXAMPLE.jp \n", "yuki@example.jp"),
        ("Jörg@Bücher.example", "jörg@bücher.example"),
    ],
)
def test_email_is_trimmed_and_lowercased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected
    assert normalize("EMAIL", raw) == expected


@pytest.mark.parametrize("raw", ["not-an-email", "a@", "@example.com", "two@@example.com", ""])
def test_invalid_email_raises(raw: str) -> None:
    with pytest.raises(InvalidIdentity):
        normalize_email(raw)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("030 1234567", "DE", "+49301234567"),
        ("+49 (30) 123-4567", None, "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),
        ("(212) 555-0100", "us", "+12125550100"),
        ("+1 212 555 0100", "JP", "+12125550100"),  # an explicit + ignores the customer's country
        ("090-1234-5678", "JP", "+819012345678"),
    ],
)
def test_phone_becomes_e164(raw: str, country: str | None, expected: str) -> None:
    assert normalize_phone(raw, country) == expected
    assert normalize("phone", raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("030 1234567", None),  # national format without a country cannot be read
        ("555 01", "US"),  # too short for a US number
        ("call me", "DE"),
        ("+999 1234567", None),  # no such country code
    ],
)
def test_invalid_phone_raises(raw: str, country: str | None) -> None:
    with pytest.raises(InvalidIdentity):
        normalize_phone(raw, country)


def test_invalid_identity_is_a_value_error() -> None:
    assert issubclass(InvalidIdentity, ValueError)


def test_platform_identities_are_trimmed_but_keep_their_case() -> None:
    assert normalize("amazon_buyer", "  A1B2c3 ") == "A1B2c3"
    for bad in ("", "   ", "x" * 321):
        with pytest.raises(InvalidIdentity):
            normalize("amazon_buyer", bad)


def test_identity_keys_normalise_and_drop_repeats() -> None:
    profile = Profile(email="Hans@Example.de", phone="030 1234567", country="DE")
    keys = identity_keys(
        profile, [("EMAIL", "hans@example.DE"), ("phone", "+49301234567"), ("ebay_user", "hans_1")]
    )
    assert keys == [("email", "hans@example.de"), ("phone", "+49301234567"), ("ebay_user", "hans_1")]
    assert identity_keys(Profile(), []) == []
