"""Normalising the ways a customer can be recognised, so that equal identities compare equal."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# Identity kinds known to the platform; channel-specific kinds look like "amazon_buyer" or "shopify_customer".
EMAIL = "email"
PHONE = "phone"
MAX_VALUE_LENGTH = 320


class InvalidIdentity(ValueError):
    pass


@lru_cache(maxsize=65_536)  # pure, and buyers write again and again: IDNA checks are not free
def normalize_email(value: str) -> str:
    try:
        info = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentity(f"invalid e-mail address: {exc}") from exc
    return info.normalized.lower()


@lru_cache(maxsize=65_536)
def normalize_phone(value: str, country: str | None = None) -> str:
    """E.164 (``+4930123456``); a number without ``+`` is read in the customer's country."""
    try:
        number = phonenumbers.parse(value, (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"invalid phone number: {exc}") from exc
    # Possible, and not only as a local short number ("12" in Germany). Stricter validity would refuse the
    # reserved fiction ranges (Ofcom's 07700 900xxx) that tests and demos rightly use.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidIdentity("invalid phone number: not a possible number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize(kind: str, value: str, country: str | None = None) -> str:
    kind = kind.strip().lower()
    if kind == EMAIL:
        return normalize_email(value)
    if kind == PHONE:
        return normalize_phone(value, country)
    value = value.strip()
    if not value or len(value) > MAX_VALUE_LENGTH:
        raise InvalidIdentity(f"identity {kind} must have 1 to {MAX_VALUE_LENGTH} characters")
    return value
