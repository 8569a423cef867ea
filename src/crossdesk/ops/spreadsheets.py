"""CSV exports that a spreadsheet opens safely."""

from __future__ import annotations


def formula_safe(value: str | None) -> str:
    """A text cell a spreadsheet will not run as a formula (names and labels come from outside)."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
