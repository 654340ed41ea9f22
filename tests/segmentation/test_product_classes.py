"""ADI / CV², demand classes, ABC and XYZ on hand-computed numbers and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restock.segmentation.product_classes import (
    abc_classes,
    adi_cv2,
    classify_demand,
    coefficient_of_variation,
    demand_class,
    demand_intervals,
    validate_demand,
    xyz_classes,
)


def test_adi_cv2_by_hand():
    # demands at t = 1, 4, 5 -> intervals 3, 1 -> ADI = 2
    # sizes 3, 2, 1: mean 2, population variance (1 + 0 + 1) / 3 = 2/3 -> CV² = (2/3) / 2² = 1/6
    np.testing.assert_array_equal(demand_intervals([0, 3, 0, 0, 2, 1]), [3, 1])
    adi, cv2 = adi_cv2([0, 3, 0, 0, 2, 1])
    assert adi == pytest.approx(2.0)
    assert cv2 == pytest.approx(1 / 6)
    # sample variance (ddof=1): 2 / 2 = 1 -> CV² = 1/4
    assert adi_cv2([0, 3, 0, 0, 2, 1], ddof=1)[1] == pytest.approx(0.25)


def test_leading_and_trailing_zeros_are_not_intervals():
    assert adi_cv2([0, 0, 0, 3, 0, 0, 2, 1, 0, 0, 0, 0]) == adi_cv2([3, 0, 0, 2, 1])


def test_fewer_than_two_demands():
    assert adi_cv2([0, 0, 5, 0]) == (4.0, 0.0)  # ADI = series length, CV² = 0
    assert classify_demand([0, 0, 5, 0]) == "intermittent"
    adi, cv2 = adi_cv2([0, 0, 0])
    assert math.isnan(adi) and math.isnan(cv2)
    assert classify_demand([0, 0, 0]) == "no_demand"


@pytest.mark.parametrize(
    "adi, cv2, expected",
    [
        (1.0, 0.10, "smooth"),
        (1.31, 0.48, "smooth"),
        (1.0, 0.49, "erratic"),  # exactly on the CV² cut -> high side
        (1.32, 0.10, "intermittent"),  # exactly on the ADI cut -> high side
        (1.32, 0.49, "lumpy"),
        (4.0, 2.0, "lumpy"),
        (math.nan, math.nan, "no_demand"),
    ],
)
def test_demand_class_table(adi, cv2, expected):
    assert demand_class(adi, cv2) == expected


def test_demand_class_custom_cuts_and_errors():
    assert demand_class(1.5, 0.3, adi_cut=2.0, cv2_cut=0.25) == "erratic"
    with pytest.raises(ValueError, match="cv2 is NaN"):
        demand_class(1.0, math.nan)
    with pytest.raises(ValueError, match="non-negative"):
        demand_class(-1.0, 0.1)


@settings(deadline=None)
@given(
    adi=st.floats(min_value=1.0, max_value=50.0),
    cv2=st.floats(min_value=0.0, max_value=10.0),
    adi_cut=st.floats(min_value=1.0, max_value=5.0),
    cv2_cut=st.floats(min_value=0.01, max_value=5.0),
)
def test_demand_class_matches_the_threshold_definition(adi, cv2, adi_cut, cv2_cut):
    label = demand_class(adi, cv2, adi_cut=adi_cut, cv2_cut=cv2_cut)
    assert (label in ("smooth", "erratic")) == (adi < adi_cut)
    assert (label in ("smooth", "intermittent")) == (cv2 < cv2_cut)


@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=20), min_size=2, max_size=40))
def test_adi_at_least_one_and_cv2_non_negative(values):
    adi, cv2 = adi_cv2(values)
    if any(values):
        assert adi >= 1.0 and cv2 >= 0.0


def test_abc_item_crossing_the_cut_is_still_a():
    # total 100; share before each item: 0, .50, .75, .85, .93, .97
    # .75 < .80 -> the third item (which takes the total to 85 %) is A; .93 < .95 -> B
    values = pd.Series([50, 25, 10, 8, 4, 3], index=list("pqrstu"))
    assert abc_classes(values).tolist() == ["A", "A", "A", "B", "B", "C"]


def test_abc_share_exactly_on_a_cut_starts_the_next_class():
    # share before: 0, 80/100 = 0.8 (not < 0.8 -> B), 95/100 = 0.95 (not < 0.95 -> C)
    assert abc_classes(pd.Series([80, 15, 5])).tolist() == ["A", "B", "C"]


def test_abc_ties_get_the_same_class_whatever_the_order():
    # 70, 20, 20 of 110: share before each 20 is 70/110 = .64 for both -> both A
    values = pd.Series({"x": 20.0, "y": 70.0, "z": 20.0})
    result = abc_classes(values)
    assert result.to_dict() == {"x": "A", "y": "A", "z": "A"}
    assert result.name == "abc_class"
    # 60, 30, 30, 10 of 130: 30s start at 60/130 = .46 -> A; 10 starts at 120/130 = .92 -> B
    assert abc_classes(pd.Series([30, 60, 10, 30])).tolist() == ["A", "A", "B", "A"]


def test_abc_zero_values_and_errors():
    assert abc_classes(pd.Series([10, 0])).tolist() == ["A", "C"]
    assert abc_classes(pd.Series([0, 0])).tolist() == ["C", "C"]
    assert abc_classes(pd.Series([], dtype=float)).empty
    assert abc_classes(pd.Series([60, 30, 10]), cuts=(0.5, 0.9)).tolist() == ["A", "B", "C"]
    with pytest.raises(ValueError, match="non-negative"):
        abc_classes(pd.Series([1.0, -1.0]))
    with pytest.raises(ValueError, match="cuts"):
        abc_classes(pd.Series([1.0]), cuts=(0.95, 0.8))


@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=50), st.randoms())
def test_abc_is_monotone_in_value_and_order_independent(values, rng):
    series = pd.Series(values, dtype=float)
    result = abc_classes(series)
    if series.sum() > 0:
        assert result[series.idxmax()] == "A"
    ranks = result.map({"A": 0, "B": 1, "C": 2})
    ordered = ranks[series.sort_values(ascending=False, kind="stable").index]
    assert ordered.is_monotonic_increasing  # a larger value never gets a worse class
    shuffled = series.sample(frac=1.0, random_state=rng.randint(0, 2**31))
    pd.testing.assert_series_equal(abc_classes(shuffled).sort_index(), result.sort_index())


def test_xyz_by_hand_with_inclusive_cuts():
    cv = pd.Series([0.2, 0.5, 0.7, 1.0, 1.5, np.nan], index=list("abcdef"))
    result = xyz_classes(cv)
    assert result.iloc[:5].tolist() == ["X", "X", "Y", "Y", "Z"]
    assert pd.isna(result["f"])
    assert result.name == "xyz_class"
    assert xyz_classes(pd.Series([0.15, 0.3]), cuts=(0.1, 0.25)).tolist() == ["Y", "Z"]


def test_coefficient_of_variation_by_hand():
    assert coefficient_of_variation([2, 2, 2]) == 0.0
    # [0, 2]: mean 1, population std 1 -> 1
    assert coefficient_of_variation([0, 2]) == pytest.approx(1.0)
    assert math.isnan(coefficient_of_variation([0, 0]))


@pytest.mark.parametrize("bad, message", [([1, np.nan], "NaN"), ([1, -2], "non-negative"), ([], "empty")])
def test_validate_demand(bad, message):
    with pytest.raises(ValueError, match=message):
        validate_demand(bad)
