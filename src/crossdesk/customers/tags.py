"""A seller's labels on a customer ("VIP", "wholesale"): trimmed, at most 64 characters, and unique per
customer regardless of case (the first spelling is kept: adding "vip" to a "VIP" customer changes nothing).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.customers.models import CustomerTag

MAX_TAG = 64
MAX_TAGS = 50  # per customer: labels, not a notebook


class TagError(ValueError):
    """A tag that cannot be stored: ``code`` says why (for pages to word it), the message in English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def normalize(raw: str) -> str:
    """``raw`` trimmed, with runs of inner white space made one space; refused if empty, too long, or
    holding control characters."""
    tag = " ".join(raw.split())
    if not tag:
        raise TagError("empty", "a tag cannot be empty")
    if len(tag) > MAX_TAG:
        raise TagError("too_long", f"a tag has at most {MAX_TAG} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in tag):
        raise TagError("control", "a tag cannot contain control characters")
    return tag


def normalize_all(raws: Iterable[str]) -> list[str]:
    """Each tag normalized, case-insensitive repeats dropped (the first spelling wins)."""
    unique: dict[str, str] = {}
    for raw in raws:
        tag = normalize(raw)
        unique.setdefault(tag.casefold(), tag)
    if len(unique) > MAX_TAGS:
        raise TagError("too_many", f"a customer has at most {MAX_TAGS} tags")
    return list(unique.values())


async def tags_of(session: AsyncSession, customer_id: int) -> list[str]:
    rows = await session.scalars(
        select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id).order_by(CustomerTag.tag)
    )
    return sorted(rows.all(), key=str.casefold)


async def add(session: AsyncSession, customer_id: int, raw: str) -> list[str]:
    """Add one tag (nothing changes when it is there in any case); the customer's tags after."""
    tag = normalize(raw)
    current = await tags_of(session, customer_id)
    if tag.casefold() not in {t.casefold() for t in current}:
        if len(current) >= MAX_TAGS:
            raise TagError("too_many", f"a customer has at most {MAX_TAGS} tags")
        session.add(CustomerTag(customer_id=customer_id, tag=tag))
        current = sorted([*current, tag], key=str.casefold)
    return current


async def remove(session: AsyncSession, customer_id: int, tag: str) -> list[str]:
    """Remove a tag, whatever its case (removing one that is not there is no error); the tags after."""
    key = " ".join(tag.split()).casefold()
    current = await tags_of(session, customer_id)
    return await _drop(session, customer_id, current, [t for t in current if t.casefold() == key])


async def replace(session: AsyncSession, customer_id: int, raws: Iterable[str]) -> list[str]:
    """Make the customer's tags exactly ``raws`` (normalized); tags kept keep their stored spelling."""
    wanted = {t.casefold(): t for t in normalize_all(raws)}
    current = await tags_of(session, customer_id)
    kept = await _drop(session, customer_id, current, [t for t in current if t.casefold() not in wanted])
    have = {t.casefold() for t in kept}
    added = [tag for key, tag in wanted.items() if key not in have]
    session.add_all(CustomerTag(customer_id=customer_id, tag=tag) for tag in added)
    return sorted([*kept, *added], key=str.casefold)


async def _drop(session: AsyncSession, customer_id: int, current: list[str], gone: list[str]) -> list[str]:
    # Matched in Python: SQLite's lower() folds ASCII only, and "Über" must match "über".
    if gone:
        await session.execute(
            delete(CustomerTag).where(CustomerTag.customer_id == customer_id, CustomerTag.tag.in_(gone))
        )
    return [t for t in current if t not in gone]
