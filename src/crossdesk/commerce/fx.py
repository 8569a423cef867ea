"""Exchange rates: the European Central Bank's reference rates, shipped inside ``currencyconverter`` (no
network at run time). Decimal in, Decimal out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache

from currency_converter import CurrencyConverter, RateNotFoundError


@lru_cache(maxsize=1)
def _converter() -> CurrencyConverter:
    # Loading the rate history takes a moment: once per process, on first use. A date without a rate
    # (a weekend, or after the shipped history ends) takes the nearest one.
    return CurrencyConverter(decimal=True, fallback_on_missing_rate=True, fallback_on_wrong_date=True)


def known(currency: str) -> bool:
    return currency in _converter().currencies


def convert(amount: Decimal, currency: str, to: str, on: dt.date | None = None) -> Decimal | None:
    """``amount`` in ``currency`` as ``to`` at the ECB rate of ``on`` (the latest when None); None when
    the ECB has no rate for either currency."""
    if currency == to:
        return amount
    try:
        converted = _converter().convert(amount, currency, to, date=on)
    except (ValueError, RateNotFoundError):
        return None
    return Decimal(converted)
