"""The assistant's understanding of a buyer message: its language and its intent, offline on the CPU.

``understand`` is synchronous and CPU-bound (a few milliseconds of embedding); request handlers call
``understand_async``, which runs it in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from crossdesk.assistant.intents import Intent, classify
from crossdesk.assistant.language import SUPPORTED, Detected, detect

__all__ = ["SUPPORTED", "Detected", "Intent", "Understanding", "understand", "understand_async"]


@dataclass(frozen=True, slots=True)
class Understanding:
    language: Detected
    intent: Intent | None  # None when the message has no words to read (empty, emoji, numbers, junk)


def understand(texts: Sequence[str], allowed: Collection[str] = SUPPORTED) -> list[Understanding]:
    """Language and intent of each message; messages are embedded together (faster per message)."""
    languages = [detect(text, allowed) for text in texts]
    readable = [i for i, lang in enumerate(languages) if lang.language is not None]
    intents = dict(zip(readable, classify([texts[i] for i in readable]), strict=True))
    return [Understanding(lang, intents.get(i)) for i, lang in enumerate(languages)]


async def understand_async(texts: Sequence[str], allowed: Collection[str] = SUPPORTED) -> list[Understanding]:
    return await asyncio.to_thread(understand, list(texts), frozenset(allowed))
