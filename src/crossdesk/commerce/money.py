"""Money: ``Decimal`` amounts with an ISO 4217 currency, never floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from crossdesk.db import MONEY_SCALE


def _exact(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("amount must be a finite number")
    if abs(value) >= Decimal(10) ** 14:
        raise ValueError("amount is too large")
    if value != value.quantize(Decimal(1).scaleb(-MONEY_SCALE)):  # "19.990000" is fine, "0.00001" is not
        raise ValueError(f"amount has more than {MONEY_SCALE} decimal places")
    return value


Amount = Annotated[Decimal, AfterValidator(_exact)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def line_total(quantity: int, unit_price: Decimal) -> Decimal:
    return quantity * unit_price
