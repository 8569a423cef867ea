"""Currency minor units (ISO 4217) and the float-to-Decimal edge of the retention models.

The models compute in floats; what leaves them as money is a ``Decimal`` rounded to the currency's minor
unit (cents for USD, none for JPY, fils for KWD), so amounts shown to a seller are never floats.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

# ISO 4217 currencies whose minor unit is not 1/100; every other code has two decimals.
_EXPONENTS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}


def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 unless ISO 4217 says otherwise)."""
    return _EXPONENTS.get(currency, 2)


def to_money(values: npt.NDArray[np.float64], currency: str, name: str) -> pl.Series:
    """Float model output as Decimal, rounded half-to-even to the currency's minor unit."""
    places = minor_unit(currency)
    return pl.Series(name, values).round(places).cast(pl.Decimal(38, places))
