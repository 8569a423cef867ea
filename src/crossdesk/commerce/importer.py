"""Reading product and order files (CSV or JSON) into validated rows, with errors that name row and field.

CSV products: ``sku,title,price,currency,stock`` plus any other columns, kept as attributes.
CSV orders: one line per order item, lines of one order sharing ``order_id``:
``order_id,placed_at,currency,status,channel,country,customer_email,customer_name,customer_phone,sku,title,
quantity,unit_price,shipping,tax,carrier,tracking_number,shipment_status`` (order-level columns are read
from an order's first line). JSON: an array of objects shaped like ``ProductIn`` / ``OrderIn``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import ValidationError

from crossdesk.commerce.schemas import OrderIn, ProductIn, RowError

Kind = Literal["products", "orders"]
MAX_ROWS = 200_000
MAX_ERRORS = 100
PRODUCT_COLUMNS = ("sku", "title", "price", "currency", "stock")
ORDER_FIELDS = ("placed_at", "currency", "status", "channel", "country")
CUSTOMER_FIELDS = {"customer_email": "email", "customer_name": "name", "customer_phone": "phone"}
ITEM_FIELDS = ("sku", "title", "quantity", "unit_price")


class ImportFailed(ValueError):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            f"{len(errors)} invalid row(s): "
            + "; ".join(f"row {e.row} {e.field}: {e.message}" for e in errors[:5])
        )
        self.errors = errors


def parse(kind: Kind, data: bytes, filename: str) -> list[ProductIn] | list[OrderIn]:
    """Validate every row; raise ``ImportFailed`` with all (up to 100) errors, or return all rows."""
    text = _decode(data)
    try:
        if filename.lower().endswith(".json"):
            records = list(_json_records(text))
        else:
            records = list(_csv_products(text) if kind == "products" else _csv_orders(text))
    except ImportFailed:
        raise
    except (
        csv.Error,
        RecursionError,
        ValueError,
    ) as exc:  # a field too long, nesting too deep, a huge number
        raise ImportFailed([RowError(row=0, field="-", message=f"unreadable file: {exc}")]) from exc
    model: type[ProductIn] | type[OrderIn] = ProductIn if kind == "products" else OrderIn
    rows: list[Any] = []
    errors: list[RowError] = []
    for number, record in records:
        try:
            rows.append(model.model_validate(record))
        except ValidationError as exc:
            errors.extend(
                RowError(row=number, field=".".join(str(p) for p in err["loc"]) or "-", message=err["msg"])
                for err in exc.errors(include_url=False)
            )
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise ImportFailed(errors[:MAX_ERRORS])
    return rows


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed(
            [RowError(row=0, field="-", message=f"file is not UTF-8 text ({exc.reason})")]
        ) from exc


def _json_records(text: str) -> Iterator[tuple[int, Any]]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            [RowError(row=0, field="-", message=f"invalid JSON: {exc.msg} at line {exc.lineno}")]
        ) from exc
    if not isinstance(records, list):
        raise ImportFailed([RowError(row=0, field="-", message="a JSON import is an array of objects")])
    _check_size(len(records))
    yield from enumerate(records, start=1)


def _check_size(count: int) -> None:
    if count > MAX_ROWS:
        raise ImportFailed([RowError(row=0, field="-", message=f"more than {MAX_ROWS} rows; split the file")])


def _csv_rows(text: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed(
            [RowError(row=0, field=c, message="column missing from the header") for c in missing]
        )
    for number, row in enumerate(reader, start=1):
        _check_size(number)
        yield number, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _csv_products(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, row in _csv_rows(text, PRODUCT_COLUMNS[:4]):
        record: dict[str, Any] = {k: row[k] for k in PRODUCT_COLUMNS if row.get(k)}
        record["attributes"] = {k: v for k, v in row.items() if k not in PRODUCT_COLUMNS and v}
        yield number, record


def _csv_orders(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Group item lines into orders; an order's row number is that of its first line."""
    orders: dict[str, tuple[int, dict[str, Any]]] = {}
    required = ("order_id", "placed_at", "currency", "sku", "quantity", "unit_price")
    for number, row in _csv_rows(text, required):
        key = row["order_id"]
        if key not in orders:
            order: dict[str, Any] = {"external_id": key, "items": [], "shipments": []}
            order.update({f: row[f] for f in ORDER_FIELDS if row.get(f)})
            order.update({f: row[f] for f in ("shipping", "tax") if row.get(f)})
            sender = {dst: row[src] for src, dst in CUSTOMER_FIELDS.items() if row.get(src)}
            if sender:
                order["customer"] = sender
            if row.get("tracking_number"):
                order["shipments"].append(
                    {"carrier": row.get("carrier") or "unknown", "tracking_number": row["tracking_number"]}
                    | ({"status": row["shipment_status"]} if row.get("shipment_status") else {})
                )
            orders[key] = (number, order)
        orders[key][1]["items"].append({f: row[f] for f in ITEM_FIELDS if row.get(f)})
    yield from orders.values()
