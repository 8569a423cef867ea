"""The workspace's conversation tags as a whole: which are in use and how often, renaming (merging into a
tag that exists already) and deleting a tag from every conversation."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.conversations.models import ConversationTag

MAX_TAG = 64


@dataclass(frozen=True)
class TagUse:
    tag: str
    conversations: int


def clean(tag: str) -> str:
    """A tag as stored (the same rule as the conversation API's ``Tag``); ValueError if unusable."""
    tag = tag.strip()
    if not tag or len(tag) > MAX_TAG or "\x00" in tag:
        raise ValueError(f"a tag has 1 to {MAX_TAG} characters")
    return tag


async def tags_in_use(session: AsyncSession) -> list[TagUse]:
    """Every tag with the number of conversations carrying it, most used first."""
    count = func.count(ConversationTag.id)
    rows = await session.execute(
        select(ConversationTag.tag, count)
        .group_by(ConversationTag.tag)
        .order_by(count.desc(), ConversationTag.tag)
    )
    return [TagUse(tag, int(n)) for tag, n in rows]


async def rename_tag(session: AsyncSession, old: str, new: str) -> int:
    """Rename ``old`` to ``new`` everywhere; where a conversation has both, the two become one.
    Returns how many conversations changed."""
    new = clean(new)
    if new == old:
        return 0
    having_new = select(ConversationTag.conversation_id).where(ConversationTag.tag == new)
    merged = await session.execute(
        delete(ConversationTag).where(
            ConversationTag.tag == old, ConversationTag.conversation_id.in_(having_new)
        )
    )
    renamed = await session.execute(update(ConversationTag).where(ConversationTag.tag == old).values(tag=new))
    return int(merged.rowcount + renamed.rowcount)  # type: ignore[attr-defined]


async def delete_tag(session: AsyncSession, tag: str) -> int:
    """Remove ``tag`` from every conversation; returns how many carried it."""
    result = await session.execute(delete(ConversationTag).where(ConversationTag.tag == tag))
    return int(result.rowcount)  # type: ignore[attr-defined]
