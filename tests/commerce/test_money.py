"""Money: exact Decimal amounts through validation, the database and SQL sums."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from crossdesk.commerce.models import Product
from crossdesk.commerce.money import Amount, line_total
from crossdesk.db import Database
from crossdesk.workspaces import service as workspaces

AMOUNT = TypeAdapter(Amount)
LIMIT = Decimal(10) ** 14
amounts = st.decimals(
    min_value=-LIMIT + 1, max_value=LIMIT - 1, places=4, allow_nan=False, allow_infinity=False
)
# The db fixture is per session; hypothesis only worries about function-scoped ones being reused.
DB_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
async def workspace_id(db: Database) -> AsyncIterator[int]:
    async with db.transaction(system=True) as session:
        ws = await workspaces.create_workspace(session, f"Money {uuid.uuid4().hex[:6]}")
    yield ws.id


def product(price: Decimal, sku: str | None = None) -> Product:
    return Product(sku=sku or uuid.uuid4().hex[:20], title="Thing", price=price, currency="EUR")


@DB_SETTINGS
@given(price=amounts)
async def test_amount_round_trips_exactly(db: Database, workspace_id: int, price: Decimal) -> None:
    row = product(price)
    async with db.transaction(workspace_id) as session:
        session.add(row)
    async with db.transaction(workspace_id) as session:
        stored = await session.scalar(select(Product.price).where(Product.id == row.id))
    assert isinstance(stored, Decimal)
    assert stored == price


@pytest.mark.parametrize("price", [Decimal("0.00001"), Decimal("19.99999"), Decimal("-1.23456")])
async def test_five_decimal_places_are_refused_by_the_column(
    db: Database, workspace_id: int, price: Decimal
) -> None:
    sku = uuid.uuid4().hex[:20]
    with pytest.raises((ValueError, StatementError), match="decimal places"):
        async with db.transaction(workspace_id) as session:
            session.add(product(price, sku))
    async with db.transaction(workspace_id) as session:
        assert await session.scalar(select(Product.id).where(Product.sku == sku)) is None


@DB_SETTINGS
@given(prices=st.lists(st.decimals(min_value=-(10**9), max_value=10**9, places=4), min_size=1, max_size=12))
async def test_sql_sum_is_exact(db: Database, workspace_id: int, prices: list[Decimal]) -> None:
    batch = uuid.uuid4().hex[:12]
    async with db.transaction(workspace_id) as session:
        session.add_all(product(p, f"{batch}-{i}") for i, p in enumerate(prices))
    async with db.transaction(workspace_id) as session:
        total = await session.scalar(select(func.sum(Product.price)).where(Product.sku.startswith(batch)))
    assert total == sum(prices, Decimal(0))


async def test_sum_of_tenths_has_no_float_error(db: Database, workspace_id: int) -> None:
    batch = uuid.uuid4().hex[:12]
    async with db.transaction(workspace_id) as session:
        session.add_all(product(Decimal("0.1"), f"{batch}-{i}") for i in range(1000))
        session.add(product(Decimal("0.0003"), f"{batch}-x"))
    async with db.transaction(workspace_id) as session:
        total = await session.scalar(select(func.sum(Product.price)).where(Product.sku.startswith(batch)))
    assert total == Decimal("100.0003")  # sum(0.1 float * 1000) would be 99.9999999999986


@given(value=amounts)
def test_validated_amount_keeps_its_value(value: Decimal) -> None:
    assert AMOUNT.validate_python(value) == value
    assert AMOUNT.validate_python(str(value)) == value


@pytest.mark.parametrize(
    "value", ["0.00001", "1.23456", "NaN", "Infinity", "-Infinity", "100000000000000", "1e20"]
)
def test_invalid_amounts_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError):
        AMOUNT.validate_python(value)


def test_trailing_zeros_are_not_extra_places() -> None:
    """19.990000 is 19.99 exactly and the column stores it; validation should accept it too."""
    assert AMOUNT.validate_python("19.990000") == Decimal("19.99")


@given(quantity=st.integers(0, 1_000_000), unit=st.decimals(min_value=0, max_value=10**6, places=4))
def test_line_total_is_exact(quantity: int, unit: Decimal) -> None:
    total = line_total(quantity, unit)
    assert isinstance(total, Decimal)
    # Reference in integer 1/10,000ths.
    assert total == Decimal(int(unit.scaleb(4)) * quantity).scaleb(-4)
