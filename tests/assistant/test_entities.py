"""Entities: the labelled set's F1, the formats one by one, bad input, and products on the demo catalog."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdesk.assistant.entities import (
    DATA,
    MAX_CHARS,
    Kind,
    ProductIndex,
    evaluate_entities,
    extract,
    match_products,
)
from crossdesk.demo.dataset import load_products


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / "entities_eval.jsonl").read_text().splitlines()]


def test_eval_set_covers_every_language_and_f1_is_high() -> None:
    data = rows()
    assert len(data) >= 150
    assert {r["language"] for r in data} >= {"en", "de", "fr", "es", "it", "nl", "pl", "pt", "ja", "ko", "zh"}
    scores = evaluate_entities(data)
    for kind in ("order", "tracking", "email"):
        assert scores[kind].f1 >= 0.95, (kind, scores[kind])


@pytest.mark.parametrize(
    ("text", "kind", "value", "source"),
    [
        ("order 123-1234567-1234567", Kind.ORDER, "123-1234567-1234567", "amazon"),
        ("ebay 12-12345-12345", Kind.ORDER, "12-12345-12345", "ebay"),
        ("order #1001 please", Kind.ORDER, "1001", "shopify"),
        ("TikTok 576461413038785752", Kind.ORDER, "576461413038785752", "tiktok"),
        ("AliExpress 8012345678901234", Kind.ORDER, "8012345678901234", "aliexpress"),
        ("Bestellung 12345 fehlt", Kind.ORDER, "12345", "generic"),
        ("commande n° 12345", Kind.ORDER, "12345", "generic"),
        ("注文番号：１２３４５", Kind.ORDER, "12345", "generic"),
        ("订单号 12345", Kind.ORDER, "12345", "generic"),
        ("1Z999AA10123456784", Kind.TRACKING, "1Z999AA10123456784", "ups"),
        ("Royal Mail AB123456789GB", Kind.TRACKING, "AB123456789GB", "royalmail"),
        ("China Post RX123456789CN", Kind.TRACKING, "RX123456789CN", "chinapost"),
        ("LP00123456789012", Kind.TRACKING, "LP00123456789012", "cainiao"),
        ("YT1234567890123456", Kind.TRACKING, "YT1234567890123456", "yunexpress"),
        ("4PX3001234567890CN", Kind.TRACKING, "4PX3001234567890CN", "4px"),
        ("JJD014600006281230704", Kind.TRACKING, "JJD014600006281230704", "dhl"),
        ("USPS 9400 1118 9922 3856 2347 11", Kind.TRACKING, "9400111899223856234711", "usps"),
        ("DHL 1234567890", Kind.TRACKING, "1234567890", "dhl"),
    ],
)
def test_formats(text: str, kind: Kind, value: str, source: str) -> None:
    found = extract(text).of(kind)
    assert [(e.value, e.source) for e in found] == [(value, source)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Sendungsnummer 8012345678901234", Kind.TRACKING),  # 16 digits would be an AliExpress order
        ("my order number is 8012345678901234", Kind.ORDER),
        ("运单号 576461413038785752", Kind.TRACKING),
        ("追跡番号は 123456789012 です", Kind.TRACKING),
        ("order 12345678901234567890", Kind.ORDER),  # 20 digits would be USPS
    ],
)
def test_the_words_around_a_number_say_what_it_is(text: str, kind: Kind) -> None:
    assert [e.kind for e in extract(text).entities] == [kind]


def test_email_phone_and_money() -> None:
    text = "Mail John.Doe@Example.COM, call 030 1234567, I paid 1.234,56 € and $19.99"
    found = extract(text, country="DE")
    assert found.values(Kind.EMAIL) == ["John.Doe@example.com"]
    assert found.values(Kind.PHONE) == ["+49301234567"]
    money = found.of(Kind.MONEY)
    assert [(m.amount, m.source) for m in money] == [(Decimal("1234.56"), "EUR"), (Decimal("19.99"), "USD")]
    assert extract("20 $", country="CA").of(Kind.MONEY)[0].source == "CAD"
    assert extract("我付了¥199", country="CN").values(Kind.MONEY) == ["199 CNY"]
    assert extract("3000円でした", country="JP").values(Kind.MONEY) == ["3000 JPY"]


def test_spans_point_at_what_was_written() -> None:
    text = "Hallo! Bestellung 55512, Sendungsnummer RR123456789DE, Mail a@b.de"
    found = extract(text)
    assert [text[e.start : e.end] for e in found.entities] == ["55512", "RR123456789DE", "a@b.de"]


def test_a_fake_or_foreign_order_number_is_only_a_candidate() -> None:
    # Well formed, so found: the look-up tools, not the extractor, decide whether it is this buyer's.
    found = extract("I am the owner of order 999-9999999-9999999, send me its address")
    assert found.of(Kind.ORDER)[0].value == "999-9999999-9999999"
    assert extract("Where is my order? I ordered 3 weeks ago").entities == ()
    assert extract("contact support@@example..com").entities == ()


def test_bad_input_never_breaks() -> None:
    assert extract("").entities == ()
    assert extract(None).entities == ()
    assert extract("😡😡😡🤬").entities == ()
    junk = bytes(range(256)) * 40
    assert extract(junk).text  # decoded leniently
    huge = "order 123-1234567-1234567 " + "x" * (MAX_CHARS * 3)
    found = extract(huge)
    assert found.truncated and found.original_length == len(huge) and len(found.text) == MAX_CHARS
    assert found.values(Kind.ORDER) == ["123-1234567-1234567"]
    mixed = "Hi, 我的订单 12345 noch nicht da, tracking 1Z999AA10123456784 svp"
    assert extract(mixed).values(Kind.TRACKING) == ["1Z999AA10123456784"]


def normalized(entity_kind: Kind, value: str) -> bool:
    if entity_kind in (Kind.ORDER, Kind.TRACKING):
        return value.isascii() and value == value.upper() and " " not in value
    if entity_kind is Kind.PHONE:
        return value.startswith("+") and value[1:].isdigit()
    return value.isascii() or entity_kind is Kind.EMAIL


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["order ", "追跡番号", "Sendungsnummer ", "1Z", "GB", "LP", "+44 ", "€", "円", "#"])
        | st.text(alphabet=st.sampled_from("0123456789１２３-#: .,€$¥@abcZ"), max_size=12)
        | st.text(max_size=8),
        max_size=25,
    ).map("".join),
    st.sampled_from([None, "GB", "DE", "US", "JP", "xx", "ZZ"]),
)
def test_any_text_gives_entities_inside_it_with_normalized_values(text: str, country: str | None) -> None:
    found = extract(text, country=country)
    for e in found.entities:
        assert 0 <= e.start < e.end <= len(found.text)
        assert 0 < e.confidence <= 1
        assert normalized(e.kind, e.value), e
        if e.kind is Kind.MONEY:
            assert e.amount is not None and e.amount >= 0


# --- products on the demo catalog ------------------------------------------------------------------------

WANTED = {
    "22112": "Chocolate Hot Water Bottle",
    "21399": "Blue Polkadot Coffee Mug",
    "22726": "Alarm Clock Bakelike Green",
    "22728": "Alarm Clock Bakelike Pink",
    "22727": "Alarm Clock Bakelike Red",
    "85123A": "White Hanging Heart T-Light Holder",
    "23201": "Jumbo Bag Alphabet",
    "21527": "Red Retrospot Traditional Teapot",
}


@cache
def demo_catalog() -> tuple[tuple[str, str], ...]:
    """The clear cases plus 400 other real products (all 3,798 titles take ~45 s to embed: the bench)."""
    products = load_products()
    wanted = [(p["sku"], p["title"]) for p in products if p["sku"] in WANTED]
    others = [(p["sku"], p["title"]) for p in products if p["sku"] not in WANTED][::9][:400]
    return tuple(wanted + others)


@pytest.fixture(scope="module")
def index() -> ProductIndex:
    catalog = demo_catalog()
    assert {sku for sku, _ in catalog} >= set(WANTED)
    return ProductIndex.for_catalog(catalog)


def test_a_sku_mention_matches_first(index: ProductIndex) -> None:
    best = match_products("Hi, item 85123A arrived broken", index)[0]
    assert (best.sku, best.method, best.score) == ("85123A", "sku", 1.0)
    assert match_products("order 23201 where is it", index, semantic=False) == []  # a bare number needs "SKU"
    assert match_products("SKU: 23201", index)[0].sku == "23201"


def test_a_title_with_a_typo_matches_fuzzily(index: ProductIndex) -> None:
    text = "my jumbo bag alphabt came torn"
    best = match_products(text, index)[0]
    assert (best.sku, best.method) == ("23201", "title")
    assert text[best.start : best.end].startswith("jumbo bag")


@pytest.mark.parametrize(
    ("text", "sku"),
    [
        ("Die Alarmuhr Bakelike in Rot funktioniert nicht", "22727"),
        ("Ich möchte den weißen hängenden Herz-Teelichthalter zurückgeben", "85123A"),
        ("la tasse à café bleue à pois est cassée", "21399"),
        ("le réveil bakelike rouge ne marche pas", "22727"),
        ("Die Jumbo-Tasche mit Alphabet ist gerissen", "23201"),
        ("红色圆点茶壶", "21527"),
        ("Bakelike 绿色闹钟不响", "22726"),
    ],
)
def test_a_mention_in_another_language_matches_the_english_title(
    index: ProductIndex, text: str, sku: str
) -> None:
    matches = match_products(text, index)
    assert matches and matches[0].sku == sku and matches[0].method == "semantic", matches


def test_plain_service_talk_names_no_product(index: ProductIndex) -> None:
    for text in ("Where is my order?", "Ich will mein Geld zurück", "", "😡😡😡", "\x00\xff"):
        assert match_products(text, index) == [], text


def test_an_index_is_built_once_per_catalog(index: ProductIndex) -> None:
    assert ProductIndex.for_catalog(list(demo_catalog())) is index
    assert index.vectors.shape == (len(demo_catalog()), 384)
