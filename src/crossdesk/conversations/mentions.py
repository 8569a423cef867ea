"""@mentions in private notes: ``@Emma Stone`` names an agent of the workspace; the note stores the ids in
its ``meta`` (``{"mentions": [ids]}``) so the mentioned agents' pages can point them to it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from crossdesk.workspaces import service as workspaces


def _boundary(text: str, index: int) -> bool:
    """Whether a name may end (or an @ start) here: at the text's edge or next to a non-word character."""
    return index < 0 or index >= len(text) or not (text[index].isalnum() or text[index] == "_")


def parse_mentions(text: str, agents: Iterable[tuple[int, str]]) -> list[int]:
    """The ids of the agents ``text`` mentions, in order, once each. Names are matched whole and case-blind,
    the longest first (so ``@Emma Stone`` is Emma Stone, not Emma)."""
    named = sorted(
        ((name.strip().casefold(), ident) for ident, name in agents if name.strip()),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    folded = text.casefold()
    found: list[int] = []
    at = folded.find("@")
    while at != -1:
        if _boundary(folded, at - 1):
            for name, ident in named:
                end = at + 1 + len(name)
                if folded.startswith(name, at + 1) and _boundary(folded, end):
                    if ident not in found:
                        found.append(ident)
                    break
        at = folded.find("@", at + 1)
    return found


async def mentions_in(session: AsyncSession, text: str) -> list[int]:
    """The active agents of the session's workspace that ``text`` mentions."""
    agents = [(a.id, a.name) for a in await workspaces.list_agents(session) if a.is_active]
    return parse_mentions(text, agents)
