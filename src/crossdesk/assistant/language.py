"""Which language a buyer wrote in, among the languages the workspace serves.

Three layers, cheapest first: the writing system where it settles the question (kana is Japanese, hangul is
Korean, Han characters without kana are Chinese), py3langid (a naive Bayes over byte n-grams, ~20 µs a
message) for ordinary text, and lingua (slower, but accurate on a word or two) for short text or when
py3langid is unsure. Every model only chooses among the ``allowed`` languages: a German shop that serves
de/en never hears "Luxembourgish" for a short German message.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# The languages the assistant is built and measured for (ISO 639-1; "zh" is Chinese, any script).
SUPPORTED: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pl", "pt", "ja", "ko", "zh")
# Only the head of a message is read: language shows in the first lines, and a pasted megabyte must not
# cost more than a normal message.
MAX_CHARS = 2000
SHORT_WORDS = 3  # up to this many words, lingua decides (py3langid is unreliable on so little)
SURE = 0.95  # py3langid's share of the allowed languages' probability below which lingua is asked
NOT_TEXT_SHARE = 0.1  # more control/replacement characters than this: binary junk, no language

_URL_OR_EMAIL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+")
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Detected:
    language: str | None  # ISO 639-1, or None when the text carries no language (empty, emoji, numbers)
    confidence: float  # 0..1


NOTHING = Detected(None, 0.0)


def _script(ch: str) -> str:
    code = ord(ch)
    if 0x3040 <= code <= 0x30FF or 0xFF66 <= code <= 0xFF9F or 0x31F0 <= code <= 0x31FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "han"
    return "other"


def clean(text: str) -> str | None:
    """The readable head of ``text`` without links and e-mail addresses, or None when it is binary junk."""
    head = text[:MAX_CHARS]
    junk = sum(
        1 for ch in head if ch == "\ufffd" or (unicodedata.category(ch)[0] == "C" and not ch.isspace())
    )
    if head and junk / len(head) > NOT_TEXT_SHARE:
        return None
    return _URL_OR_EMAIL.sub(" ", head)


def word_count(text: str) -> int:
    """Words, where two Chinese or Japanese characters count as one (those scripts put no spaces)."""
    cjk = sum(1 for ch in text if _script(ch) in ("kana", "han"))
    spaced = sum(1 for w in _WORD.findall(text) if not any(_script(ch) in ("kana", "han") for ch in w))
    return spaced + cjk // 2


def detect(text: str, allowed: Collection[str] = SUPPORTED) -> Detected:
    """The language of ``text`` among ``allowed`` (ISO 639-1 codes), with a confidence in 0..1."""
    languages = frozenset(allowed)
    body = clean(text)
    if not languages or body is None:
        return NOTHING
    letters = [ch for ch in body if ch.isalpha()]
    if not letters:  # empty, emoji, numbers, punctuation
        return NOTHING
    by_script = _script_shortcut(letters, languages)
    if by_script is not None:
        return by_script
    if len(languages) == 1:
        return Detected(next(iter(languages)), 1.0)
    fast = _py3langid(body, languages)
    if word_count(body) > SHORT_WORDS and fast.confidence >= SURE:
        return fast
    slow = _lingua(body, languages)
    return slow if slow.language is not None else fast


def _script_shortcut(letters: list[str], languages: frozenset[str]) -> Detected | None:
    """Japanese, Korean or Chinese from the writing system alone, when it dominates the letters."""
    counts = {"kana": 0, "hangul": 0, "han": 0, "other": 0}
    for ch in letters:
        counts[_script(ch)] += 1
    total = len(letters)
    cjk = counts["kana"] + counts["han"]
    if counts["hangul"] * 2 > total and "ko" in languages:
        return Detected("ko", counts["hangul"] / total)
    if counts["kana"] and cjk * 2 > total and "ja" in languages:
        return Detected("ja", cjk / total)
    if counts["han"] * 2 > total and not counts["kana"] and "zh" in languages:
        return Detected("zh", counts["han"] / total)
    return None


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

    # One shared, never restricted identifier (set_languages mutates it): results are filtered instead.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _py3langid(text: str, languages: frozenset[str]) -> Detected:
    scores = [(lang, p) for lang, p in _identifier().rank(text) if lang in languages]
    total = sum(p for _, p in scores)
    if not scores or total <= 0:
        return NOTHING
    lang, best = scores[0]
    return Detected(lang, best / total)


@lru_cache(maxsize=32)
def _lingua_detector(languages: frozenset[str]) -> Any:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [
        getattr(IsoCode639_1, code.upper())
        for code in sorted(languages)
        if hasattr(IsoCode639_1, code.upper())
    ]
    if len(codes) < 2:
        return None
    # Models load now, not on a buyer's message (a lazy first load costs up to a second); lingua shares
    # them between detectors and threads, so another workspace's language set costs no more memory.
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_preloaded_language_models().build()


def _lingua(text: str, languages: frozenset[str]) -> Detected:
    detector = _lingua_detector(languages)
    if detector is None:
        return NOTHING
    values = detector.compute_language_confidence_values(text)
    if not values or values[0].value <= 0:
        return NOTHING
    best = values[0]
    return Detected(best.language.iso_code_639_1.name.lower(), float(best.value))
