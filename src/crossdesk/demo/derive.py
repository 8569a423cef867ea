"""Make the demo's compact copy of the UCI "Online Retail" data set (a developer's tool, not run by the demo).

``python -m crossdesk.demo.derive path/to/online_retail.parquet`` writes ``data/products.parquet`` (one row
per real product: its most common description, median positive unit price and units sold) and
``data/lines.parquet`` (the invoice lines of identified customers, without descriptions). What is changed
is listed in ``data/ATTRIBUTION.md``.
"""

from __future__ import annotations

import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl

DATA = Path(__file__).parent / "data"

# Carriage and postage lines: they become an order's shipping amount, not items.
SHIPPING_CODES = ("POST", "DOT", "C2")
# Codes that are not goods: manual entries, discounts, fees, samples, bad debt, charity, vouchers.
NOT_PRODUCTS = ("M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", *SHIPPING_CODES)


def _is_product(code: pl.Expr) -> pl.Expr:
    return ~code.is_in(NOT_PRODUCTS) & ~code.str.starts_with("GIFT_")


def derive(source: Path, target: Path = DATA) -> tuple[int, int]:
    """Write the two parquet files into ``target``; returns (products, lines)."""
    raw = pl.read_parquet(source).with_columns(
        # The source spells some codes both ways (85049d / 85049D): they are the same product.
        pl.col("StockCode").str.strip_chars().str.to_uppercase(),
        pl.col("Description").str.strip_chars().str.replace_all(r"\s+", " "),
    )
    sales = raw.filter(
        _is_product(pl.col("StockCode")) & (pl.col("Quantity") > 0) & (pl.col("UnitPrice") > 0)
    )
    titles = (
        sales.drop_nulls("Description")
        .group_by("StockCode", "Description")
        .len()
        .sort(["StockCode", "len", "Description"], descending=[False, True, False])
        .unique("StockCode", keep="first", maintain_order=True)
        .select("StockCode", "Description")
    )
    products = (
        sales.group_by("StockCode")
        .agg(pl.col("UnitPrice").median().alias("price"), pl.col("Quantity").sum().alias("units"))
        .join(titles, on="StockCode")
        .select(
            pl.col("StockCode").alias("sku"),
            pl.col("Description").alias("description"),
            # Exact decimal text, read as Decimal by the builder.
            pl.col("price").round(3).map_elements(_money_text, return_dtype=pl.String),
            pl.col("units").cast(pl.Int64),
        )
        .sort("sku")
    )
    keep = set(products["sku"]) | set(SHIPPING_CODES)
    lines = (
        raw.filter(pl.col("CustomerID").is_not_null() & pl.col("StockCode").is_in(list(keep)))
        .select(
            pl.col("InvoiceNo").alias("invoice"),
            pl.col("StockCode").alias("sku"),
            pl.col("Quantity").cast(pl.Int32).alias("quantity"),
            pl.col("InvoiceDate").dt.cast_time_unit("ms").alias("at"),
            pl.col("UnitPrice").alias("price"),
            pl.col("CustomerID").cast(pl.Int32).alias("customer"),
            pl.col("Country").alias("country"),
        )
        .sort(["customer", "at", "invoice"], maintain_order=True)
    )
    target.mkdir(parents=True, exist_ok=True)
    products.write_parquet(target / "products.parquet", compression="zstd", compression_level=22)
    lines.write_parquet(target / "lines.parquet", compression="zstd", compression_level=22, statistics=False)
    return products.height, lines.height


def _money_text(value: float) -> str:
    """Pence, half up (a median of two prices can end in half a penny); tenths of a penny below 1p."""
    exact = Decimal(f"{value:.3f}")
    pence = exact.quantize(Decimal("0.01"), ROUND_HALF_UP)
    return str(pence if pence > 0 else exact)


if __name__ == "__main__":
    made = derive(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else DATA)
    print(f"{made[0]} products, {made[1]} lines written")
