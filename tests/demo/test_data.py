"""The shipped data, customer choice, dates, phrases and conversation scripts (no database)."""

from __future__ import annotations

import datetime as dt
import re
import string
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from crossdesk.customers import service as customers
from crossdesk.demo import dataset, derive, scripts, world
from crossdesk.demo.phrases import BY_STATE, INTENTS, NOTES, PHRASES, TAGS

SOURCE = Path(__file__).parents[3] / "shared" / "data" / "online_retail" / "online_retail.parquet"
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def lines() -> pl.DataFrame:
    return dataset.load_lines()


def test_shipped_files_are_small_and_attributed() -> None:
    sizes = sum(p.stat().st_size for p in dataset.DATA.glob("*.parquet"))
    assert sizes < 4 * 1024 * 1024
    attribution = (dataset.DATA / "ATTRIBUTION.md").read_text()
    assert "CC BY 4.0" in attribution and "Daqing Chen" in attribution and "shifted" in attribution


@pytest.mark.skipif(not SOURCE.exists(), reason="needs ../shared/data/online_retail")
def test_shipped_files_are_what_derive_makes(tmp_path: Path) -> None:
    derive.derive(SOURCE, tmp_path)
    for name in ("products.parquet", "lines.parquet"):
        assert_frame_equal(pl.read_parquet(tmp_path / name), pl.read_parquet(dataset.DATA / name))


def test_products_have_exact_prices_and_no_service_codes() -> None:
    products = dataset.load_products()
    skus = {p["sku"] for p in products}
    assert len(skus) == len(products) > 3000
    assert not skus & set(derive.NOT_PRODUCTS)
    assert not any(s.startswith("GIFT_") for s in skus)
    assert all(
        isinstance(p["price"], Decimal) and p["price"] > 0 and p["currency"] == "GBP" for p in products
    )
    assert all(-p["price"].as_tuple().exponent <= 3 for p in products)  # type: ignore[operator]
    assert products == dataset.load_products()  # stock levels too are deterministic


def test_money_keeps_the_pence() -> None:
    assert dataset.money(2.55) == Decimal("2.55")
    assert str(dataset.money(1.0)) == "1.00"
    assert dataset.money(0.001) == Decimal("0.001")


def test_every_country_with_customers_is_chosen_first(lines: pl.DataFrame) -> None:
    countries = set(lines["country"].unique())
    chosen = dataset.choose_customers(lines, 60)
    assert len(chosen) == len(set(chosen)) == 60
    picked = set(lines.filter(pl.col("customer").is_in(chosen))["country"].unique())
    assert picked == countries and len(countries) == 37  # Hong Kong's buyers have no customer id
    assert chosen == dataset.choose_customers(lines, 60)
    assert dataset.choose_customers(lines, 10) == chosen[:10]
    assert set(world.COUNTRIES) >= countries


def test_dates_move_the_latest_invoice_three_days_back(lines: pl.DataFrame) -> None:
    offset = dataset.date_offset(lines, NOW)
    latest = lines["at"].max().replace(tzinfo=dt.UTC) + offset  # type: ignore[union-attr]
    assert NOW - dt.timedelta(days=4) < latest <= NOW - dt.timedelta(days=3)
    assert offset.seconds == 0  # whole days: the hours of the day stay real


def test_buyers_orders_follow_the_invoices(lines: pl.DataFrame) -> None:
    buyers = dataset.build_buyers(
        lines, dataset.choose_customers(lines, 12), dataset.date_offset(lines, NOW), NOW
    )
    invoices = set(lines.filter(pl.col("customer").is_in([b.source_id for b in buyers]))["invoice"])
    orders = [o for b in buyers for o in b.orders]
    assert {o["external_id"] for o in orders} <= invoices
    for order in orders:
        assert order["items"] and all(i["quantity"] > 0 for i in order["items"])
        assert order["placed_at"] < NOW and order["placed_at"].tzinfo is dt.UTC
        assert (
            (order["status"] == "refunded")
            == order["external_id"].startswith("C")
            == (not order["shipments"])
        )
    assert sum(1 for o in orders if o["shipments"] and o["shipments"][0]["status"] == "exception") <= 2


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_phrases_cover_every_language_and_intent() -> None:
    keys = set(PHRASES["en"])
    assert {"en", "de", "fr", "es", "it", "nl", "pt", "ja", "pl"} <= PHRASES.keys()
    assert {k for i in INTENTS for k in (i, f"{i}.reply")} <= keys
    assert {i for intents in BY_STATE.values() for i in intents} == set(INTENTS) == set(TAGS)
    values = {"order": "536365", "product": "Jumbo Bag", "name": "Ana", "tracking": "X1", "carrier": "DHL"}
    for language, table in PHRASES.items():
        assert set(table) == keys, language
        for key, text in table.items():
            allowed = (
                {"order", "product"} if "." not in key and key not in ("closing", "holding") else set(values)
            )
            assert _fields(text) <= allowed, (language, key)
            if key in INTENTS:
                assert "{order}" in text, (language, key)
            text.format(**values)
        for intent in INTENTS:
            if intent != "refund":
                assert "{tracking}" in table[f"{intent}.reply"], (language, intent)
    for notes in NOTES.values():
        for note in notes:
            note.format(orders=3, **values)


def test_scripts_are_deterministic_timed_and_resolvable(lines: pl.DataFrame) -> None:
    buyers = dataset.build_buyers(
        lines, dataset.choose_customers(lines, 40), dataset.date_offset(lines, NOW), NOW
    )
    agents = [scripts.Agent(1, "Emma Clarke", "en"), scripts.Agent(2, "Wang Fang", "zh-CN")]
    plans = scripts.plan(buyers, agents, 40, NOW)
    again = scripts.plan(buyers, agents, 40, NOW)
    assert [(p.channel, p.intent, p.status, [s.at for s in p.steps]) for p in plans] == [
        (p.channel, p.intent, p.status, [s.at for s in p.steps]) for p in again
    ]
    statuses = [p.status for p in plans]
    assert (statuses.count("open"), statuses.count("pending"), statuses.count("snoozed")) == (16, 6, 2)
    assert len({p.language for p in plans}) >= 4 and len({p.channel for p in plans}) >= 5
    for plan in plans:
        times = [s.at for s in plan.steps]
        assert times == sorted(times) and times[-1] < NOW
        assert plan.order["external_id"] in (plan.steps[0].text or "")
        assert times[0] > NOW - dt.timedelta(days=11)
        keys = customers.identity_keys(customers.Profile(email=plan.sender.get("email")), plan.identities)
        assert keys  # every sender can be recognised
        if plan.channel == "amazon":
            assert re.fullmatch(r"[a-z0-9]{12}@marketplace\.amazon\.[a-z.]+", plan.identities[0][1])
        if plan.channel == "whatsapp":
            assert plan.sender["phone"].startswith("+")
