"""Language identification: the shipped multilingual set (fixed data, deterministic) and bad input."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from crossdesk.assistant.intents import DATA
from crossdesk.assistant.language import MAX_CHARS, SUPPORTED, Detected, clean, detect, word_count

CASES = [json.loads(line) for line in (DATA / "language_eval.jsonl").read_text("utf-8").splitlines()]


def accuracy(cases: list[dict[str, str]]) -> float:
    return sum(detect(c["text"]).language == c["language"] for c in cases) / len(cases)


def test_the_eval_set_covers_every_language_with_30_messages_of_3_words_or_more() -> None:
    long = Counter(c["language"] for c in CASES if word_count(c["text"]) >= 3)
    assert set(long) == set(SUPPORTED)
    assert min(long.values()) >= 30


def test_at_least_98_percent_right_on_messages_of_3_words_and_more() -> None:
    assert accuracy([c for c in CASES if word_count(c["text"]) >= 3]) >= 0.98


def test_short_messages_are_mostly_right_too() -> None:
    short = [c for c in CASES if word_count(c["text"]) < 3]
    assert len(short) >= 40
    assert accuracy(short) >= 0.85  # measured 88%: "Hallo", "Olá" are honestly ambiguous


@pytest.mark.parametrize(
    "text", ["", "   ", "😀👍🎉", "12345 678.90", "!!! ???", "\x00\x01\x02ÿ\x03\x04\x05"]
)
def test_no_language_in_empty_emoji_numbers_and_binary(text: str) -> None:
    assert detect(text) == Detected(None, 0.0)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("注文した商品がまだ届きません", "ja"),  # kanji and kana: Japanese
        ("我的订单还没有到", "zh"),  # Han alone: Chinese
        ("주문한 상품이 아직 안 왔어요", "ko"),
        ("Hallo, ich möchte meine Bestellung bitte stornieren, thanks", "de"),  # mostly German
        ("Where is my order? 注文 number 1234, I'm waiting since Monday", "en"),  # mostly English
    ],
)
def test_scripts_and_mixed_messages(text: str, language: str) -> None:
    assert detect(text).language == language


def test_only_the_workspaces_languages_are_answered() -> None:
    assert detect("Wo ist meine Bestellung? Ich warte seit Tagen.", {"en", "fr"}).language in {"en", "fr"}
    assert detect("注文した商品がまだ届きません", {"en", "zh"}).language != "ja"
    assert detect("anything at all", {"de"}) == Detected("de", 1.0)
    assert detect("anything at all", set()) == Detected(None, 0.0)


def test_huge_text_is_cut_at_the_limit_and_stays_fast() -> None:
    huge = "Wo ist meine Bestellung? " * 200_000  # 5 MB
    assert len(clean(huge) or "") == MAX_CHARS
    start = time.perf_counter()
    assert detect(huge).language == "de"
    assert time.perf_counter() - start < 1.0


def test_links_and_addresses_do_not_vote() -> None:
    text = "Bonjour, ma commande https://shop.example.com/orders/track?id=1 anna@example.com n'arrive pas"
    assert detect(text).language == "fr"
    assert 0.0 < detect(text).confidence <= 1.0
