"""RFM segments: recency, frequency and monetary scores (1-5, by quintile within the workspace) and named
groups, read off a grid of recency score against the frequency-monetary score by editable rules.

The default grid is the one Shopify and most RFM guides use (recency against frequency; here frequency and
monetary averaged, so a customer who bought rarely but much is not taken for a one-off): Champions bought
recently and often, Can't lose them bought often but long ago, Lost bought once long ago, and so on.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.stats import rankdata

SCORES = range(1, 6)


class Rule(BaseModel):
    """Customers whose recency score and frequency-monetary score fall in these ranges (both inclusive)
    belong to ``segment``; the first rule that matches wins."""

    model_config = ConfigDict(extra="forbid")

    segment: str = Field(min_length=1, max_length=40)
    recency: tuple[int, int] = Field(description="Lowest and highest recency score, 1-5 (5: most recent).")
    fm: tuple[int, int] = Field(description="Lowest and highest frequency-monetary score, 1-5.")

    @model_validator(mode="after")
    def _ranges(self) -> Rule:
        for low, high in (self.recency, self.fm):
            if not 1 <= low <= high <= 5:
                raise ValueError("score ranges go from 1 to 5, low to high")
        return self

    def matches(self, r: int, fm: int) -> bool:
        return self.recency[0] <= r <= self.recency[1] and self.fm[0] <= fm <= self.fm[1]


class Rules(BaseModel):
    """Ordered rules that name every cell of the 5 x 5 grid."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(min_length=1, max_length=25)

    @model_validator(mode="after")
    def _covers_the_grid(self) -> Rules:
        missing = [(r, fm) for r in SCORES for fm in SCORES if self.segment(r, fm) is None]
        if missing:
            cells = ", ".join(f"R{r}/FM{fm}" for r, fm in missing)
            raise ValueError(f"no rule names these scores: {cells}")
        return self

    def segment(self, r: int, fm: int) -> str | None:
        return next((rule.segment for rule in self.rules if rule.matches(r, fm)), None)

    def grid(self) -> list[list[str]]:
        """grid[r - 1][fm - 1]: the segment of each cell."""
        return [[str(self.segment(r, fm)) for fm in SCORES] for r in SCORES]

    def names(self) -> list[str]:
        return list(dict.fromkeys(rule.segment for rule in self.rules))


def _rule(segment: str, recency: tuple[int, int], fm: tuple[int, int]) -> Rule:
    return Rule(segment=segment, recency=recency, fm=fm)


DEFAULT_RULES = Rules(
    rules=[
        _rule("Champions", (4, 5), (4, 5)),
        _rule("Loyal", (3, 3), (4, 5)),
        _rule("New", (5, 5), (1, 1)),
        _rule("Promising", (4, 4), (1, 1)),
        _rule("Potential loyalists", (4, 5), (2, 3)),
        _rule("Need attention", (3, 3), (1, 3)),
        _rule("Can't lose them", (1, 2), (5, 5)),
        _rule("At risk", (1, 2), (3, 4)),
        _rule("Hibernating", (2, 2), (1, 2)),
        _rule("Lost", (1, 1), (1, 2)),
    ]
)


def quintile_scores(values: NDArray[np.float64]) -> NDArray[np.int8]:
    """1-5 by rank within the population (higher value, higher score). Ties share the lowest score their
    value reaches, so where most bought once they are all F1, and the repeat buyers stand out."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int8)
    share = np.asarray(rankdata(values, method="min"), dtype=np.float64) / len(values)  # in (0, 1]
    scored: NDArray[np.int8] = np.clip(np.ceil(share * 5), 1, 5).astype(np.int8)
    return scored


def scores(
    days_since_last: NDArray[np.float64], orders: NDArray[np.float64], spend: NDArray[np.float64]
) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8], NDArray[np.int8]]:
    """(R, F, M, FM) per customer. FM is the mean of F and M rounded half up."""
    r = quintile_scores(-days_since_last)
    f = quintile_scores(orders)
    m = quintile_scores(spend)
    fm = np.floor((f.astype(np.int16) + m + 1) / 2).astype(np.int8)
    return r, f, m, fm


def segments(r: NDArray[np.int8], fm: NDArray[np.int8], rules: Rules = DEFAULT_RULES) -> list[str]:
    grid = rules.grid()
    return [grid[a - 1][b - 1] for a, b in zip(r.tolist(), fm.tolist(), strict=True)]
