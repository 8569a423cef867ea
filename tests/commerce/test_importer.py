"""Reading product and order files: all rows valid or an ImportFailed naming row and field."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossdesk.commerce.importer import ImportFailed, parse
from crossdesk.commerce.schemas import OrderIn, ProductIn

PRODUCTS_CSV = """sku,title,price,currency,stock,color,size
MUG-1,Blue mug,12.50,EUR,40,blue,
TEE-2,"T-shirt, organic",19.9900,USD,,white,M
"""

ORDER_HEADER = (
    "order_id,placed_at,currency,status,channel,country,customer_email,customer_name,customer_phone,"
    "sku,title,quantity,unit_price,shipping,tax,carrier,tracking_number,shipment_status\n"
)
ORDERS_CSV = ORDER_HEADER + (
    "1001,2024-05-01T10:00:00Z,EUR,paid,amazon,DE,hans@example.de,Hans,,"
    "MUG-1,Blue mug,2,12.50,4.90,0,DHL,JJD0001,in_transit\n"
    "1002,2024-05-02T11:00:00+02:00,USD,fulfilled,web,US,amy@example.com,Amy,+12125550100,TEE-2,,1,19.99,0,1.60,,,\n"
    "1001,,,,,,,,,TEE-2,T-shirt,1,19.99,,,,,\n"
)


def errors_of(kind: str, data: str | bytes, filename: str = "upload.csv") -> list[tuple[int, str, str]]:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ImportFailed) as failed:
        parse(kind, raw, filename)  # type: ignore[arg-type]
    assert failed.value.errors, "an ImportFailed always names at least one error"
    return [(e.row, e.field, e.message) for e in failed.value.errors]


def test_products_csv_keeps_extra_columns_as_attributes() -> None:
    rows = parse("products", PRODUCTS_CSV.encode(), "products.csv")
    assert all(isinstance(r, ProductIn) for r in rows)
    mug, tee = rows
    assert (mug.sku, mug.title, mug.price, mug.currency, mug.stock) == (
        "MUG-1",
        "Blue mug",
        Decimal("12.50"),
        "EUR",
        40,
    )
    assert mug.attributes == {"color": "blue"}  # an empty cell is no attribute
    assert (tee.title, tee.price, tee.stock, tee.attributes) == (
        "T-shirt, organic",
        Decimal("19.99"),
        0,
        {"color": "white", "size": "M"},
    )


def test_a_utf8_bom_is_accepted() -> None:
    assert len(parse("products", b"\xef\xbb\xbf" + PRODUCTS_CSV.encode(), "x.csv")) == 2


def test_orders_csv_groups_lines_by_order_id() -> None:
    rows = parse("orders", ORDERS_CSV.encode(), "orders.csv")
    assert all(isinstance(r, OrderIn) for r in rows)
    first, second = sorted(rows, key=lambda r: r.external_id)
    assert first.external_id == "1001"
    assert [(i.sku, i.quantity, i.unit_price) for i in first.items] == [
        ("MUG-1", 2, Decimal("12.50")),
        ("TEE-2", 1, Decimal("19.99")),
    ]
    assert (first.channel, first.status, first.country, first.currency) == ("amazon", "paid", "DE", "EUR")
    assert first.placed_at == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    assert first.customer is not None and (first.customer.email, first.customer.name) == (
        "hans@example.de",
        "Hans",
    )
    assert [(s.carrier, s.tracking_number, s.status) for s in first.shipments] == [
        ("DHL", "JJD0001", "in_transit")
    ]
    assert first.computed_total == Decimal("12.50") * 2 + Decimal("19.99") + Decimal("4.90")
    assert second.shipments == [] and second.customer is not None and second.customer.phone == "+12125550100"
    assert second.computed_total == Decimal("21.59")


def test_json_arrays() -> None:
    products = [
        {"sku": "A", "title": "Thing", "price": "1.5", "currency": "JPY", "attributes": {"weight_g": 120}}
    ]
    (product,) = parse("products", json.dumps(products).encode(), "p.JSON")
    assert product.price == Decimal("1.5") and product.attributes == {"weight_g": 120}
    orders = [
        {
            "external_id": "X-1",
            "currency": "GBP",
            "placed_at": "2024-06-01T08:00:00Z",
            "items": [{"sku": "A", "quantity": 3, "unit_price": "0.10"}],
            "shipping": "2.00",
            "total": "2.30",
            "customer": {"email": "z@example.co.uk"},
            "shipments": [{"carrier": "Royal Mail", "tracking_number": "RM123", "history": []}],
        }
    ]
    (order,) = parse("orders", json.dumps(orders).encode(), "orders.json")
    assert isinstance(order, OrderIn) and order.computed_total == Decimal("2.30")


def test_bad_price_names_row_and_field() -> None:
    csv = "sku,title,price,currency\nA,One,1.00,EUR\nB,Two,2.00,EUR\nC,Three,abc,EUR\n"
    [(row, field, message)] = errors_of("products", csv)
    assert (row, field) == (3, "price")
    assert "decimal" in message.lower()


def test_every_bad_row_is_reported_and_nothing_is_returned() -> None:
    csv = "sku,title,price,currency,stock\nA,One,1,EUR,1\n,Two,2,EUR,1\nC,Three,3,EUR,1\nD,Four,4,euro,-1\n"
    found = {(row, field) for row, field, _ in errors_of("products", csv)}
    assert found == {(2, "sku"), (4, "currency"), (4, "stock")}


def test_missing_header_column() -> None:
    assert [(r, f) for r, f, _ in errors_of("products", "sku,title,currency\nA,B,EUR\n")] == [(0, "price")]
    (row, field, message), *_ = errors_of("orders", "order_id,currency\n1,EUR\n")
    assert row == 0 and field == "placed_at" and "header" in message


def test_not_utf8() -> None:
    [(row, _, message)] = errors_of("products", "sku,title,price,currency\nA,Café,1,EUR\n".encode("latin-1"))
    assert row == 0 and "UTF-8" in message


def test_invalid_json_and_json_object() -> None:
    [(_, _, message)] = errors_of("products", '[{"sku": "A",', "p.json")
    assert "invalid JSON" in message
    [(_, _, message)] = errors_of("products", '{"sku": "A"}', "p.json")
    assert "array" in message
    [(row, field, _)] = errors_of(
        "products", '[{"sku": "A", "title": "T", "price": 1, "currency": "EUR"}, 7]', "p.json"
    )
    assert (row, field) == (2, "-")


def test_order_total_mismatch() -> None:
    order = {
        "external_id": "T-1",
        "currency": "EUR",
        "placed_at": "2024-06-01T08:00:00Z",
        "items": [{"sku": "A", "quantity": 2, "unit_price": "5.00"}],
        "total": "11.00",
    }
    [(row, field, message)] = errors_of("orders", json.dumps([order]), "o.json")
    assert row == 1
    assert "total" in f"{field} {message}" and "10.00" in message


def test_order_quantity_zero_and_five_decimals() -> None:
    csv = ORDER_HEADER + (
        "1,2024-05-01T10:00:00Z,EUR,paid,web,DE,,,,A,,0,1.00,,,,,\n"
        "2,2024-05-01T10:00:00Z,EUR,paid,web,DE,,,,A,,1,1.00001,,,,,\n"
        "3,yesterday,EUR,paid,web,DE,,,,A,,1,1.00,,,,,\n"
    )
    found = {(row, field): message for row, field, message in errors_of("orders", csv)}
    assert set(found) == {(1, "items.0.quantity"), (2, "items.0.unit_price"), (3, "placed_at")}
    assert "4 decimal places" in found[(2, "items.0.unit_price")]


def test_five_decimal_price_is_rejected() -> None:
    [(row, field, message)] = errors_of("products", "sku,title,price,currency\nA,B,0.00001,EUR\n")
    assert (row, field) == (1, "price") and "decimal places" in message


def test_errors_are_capped_at_one_hundred() -> None:
    csv = "sku,title,price,currency\n" + "A,B,x,EUR\n" * 500
    assert len(errors_of("products", csv)) == 100


# Files that trip the parsers themselves (not the row validation) must still fail cleanly.
@pytest.mark.parametrize(
    ("kind", "data", "filename"),
    [
        ("products", "sku,title,price,currency\nA," + "x" * 200_000 + ",1,EUR\n", "big-cell.csv"),
        ("products", "1" * 5000, "huge-number.json"),
        ("orders", "[" * 100_000, "deep.json"),
        ("products", "", "empty.csv"),
        ("orders", "", "empty.json"),
    ],
)
def test_pathological_files_fail_with_import_failed(kind: str, data: str, filename: str) -> None:
    errors_of(kind, data, filename)


CELL = st.text(st.characters(codec="utf-8", exclude_characters="\r"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["products", "orders"]), text=st.text(max_size=400))
def test_random_csv_text_only_raises_import_failed(kind: str, text: str) -> None:
    with contextlib.suppress(ImportFailed):
        parse(kind, text.encode(), "random.csv")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["products", "orders"]),
    cells=st.lists(st.lists(CELL, min_size=0, max_size=20), max_size=8),
)
def test_random_rows_under_a_valid_header_only_raise_import_failed(kind: str, cells: list[list[str]]) -> None:
    header = PRODUCTS_CSV.splitlines()[0] if kind == "products" else ORDER_HEADER.strip()
    lines = [",".join('"' + c.replace('"', '""') + '"' for c in row) for row in cells]
    with contextlib.suppress(ImportFailed):
        parse(kind, "\n".join([header, *lines]).encode(), "rows.csv")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["products", "orders"]), data=st.binary(max_size=300), json_file=st.booleans())
def test_random_bytes_only_raise_import_failed(kind: str, data: bytes, json_file: bool) -> None:
    with contextlib.suppress(ImportFailed):
        parse(kind, data, "f.json" if json_file else "f.csv")  # type: ignore[arg-type]
