"""RFM scoring: quintiles that respect ties, a grid every rule set must cover, the default segments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from crossdesk.retention.rfm import DEFAULT_RULES, Rule, Rules, quintile_scores, scores, segments


def test_quintiles_of_distinct_values() -> None:
    assert quintile_scores(np.arange(10, dtype=np.float64)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_tied_customers_share_a_score() -> None:
    # Most bought once: they are all alike, and the few repeat buyers stand out.
    values = np.array([1.0] * 8 + [2.0, 5.0])
    assert quintile_scores(values).tolist() == [1] * 8 + [5, 5]


@given(st.lists(st.floats(min_value=-1e9, max_value=1e9), min_size=1, max_size=200))
def test_quintiles_are_monotonic_and_in_range(values: list[float]) -> None:
    array = np.array(values)
    scored = quintile_scores(array)
    assert set(scored.tolist()) <= {1, 2, 3, 4, 5}
    order = np.argsort(array, kind="stable")
    assert np.all(np.diff(scored[order]) >= 0), "a higher value never gets a lower score"


def test_recent_frequent_big_spenders_are_champions_and_the_opposite_is_lost() -> None:
    days = np.array([2.0, 400.0, 0.5, 380.0, 200.0] * 4)
    orders = np.array([12.0, 1.0, 1.0, 15.0, 3.0] * 4)
    spend = np.array([900.0, 10.0, 8.0, 1200.0, 80.0] * 4)
    r, _, _, fm = scores(days, orders, spend)
    named = segments(r, fm)
    assert named[:5] == ["Champions", "Lost", "New", "Can't lose them", "Need attention"]


def test_default_rules_name_all_ten_segments_and_cover_the_grid() -> None:
    assert DEFAULT_RULES.names() == [
        "Champions",
        "Loyal",
        "New",
        "Promising",
        "Potential loyalists",
        "Need attention",
        "Can't lose them",
        "At risk",
        "Hibernating",
        "Lost",
    ]
    assert all(cell != "None" for row in DEFAULT_RULES.grid() for cell in row)


def test_rules_that_leave_cells_unnamed_are_refused_with_the_cells() -> None:
    with pytest.raises(ValidationError, match="R1/FM1, R1/FM2"):
        Rules(rules=[Rule(segment="Everyone else", recency=(2, 5), fm=(1, 5)), *DEFAULT_RULES.rules[:1]])
    with pytest.raises(ValidationError, match="from 1 to 5"):
        Rule(segment="Upside down", recency=(4, 2), fm=(1, 5))


def test_the_first_matching_rule_wins() -> None:
    vip = Rule(segment="VIP", recency=(1, 5), fm=(5, 5))
    rules = Rules(rules=[vip, *DEFAULT_RULES.rules])
    assert rules.segment(1, 5) == "VIP" and rules.segment(5, 4) == "Champions"
