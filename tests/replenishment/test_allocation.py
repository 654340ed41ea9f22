"""Order suggestions and constrained allocation: hand-computed cases and guarantees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restock.replenishment.allocation import allocate, customer_order_suggestions


def _sugg(rows, **extra) -> pd.DataFrame:
    """rows: (customer_id, suggested_qty, tier), all for SKU "S1"."""
    frame = pd.DataFrame(rows, columns=["customer_id", "suggested_qty", "tier"]).assign(sku="S1")
    return frame.assign(**extra)


def _by_customer(result: pd.DataFrame) -> dict:
    return dict(zip(result["customer_id"], result["allocated_qty"], strict=True))


# --- suggestions ----------------------------------------------------------------------------


def test_customer_order_suggestions_round_to_whole_units():
    forecasts = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "sku": "S1",
            "cycle_start": pd.Timestamp("2024-03-04"),
            "forecast_qty": [2.5, 2.49, 0.3, 0.0, 7.0],
            "customer_status": ["active", "active", "active", "active", "closed"],
        }
    )
    nearest = customer_order_suggestions(forecasts)
    assert list(nearest["customer_id"]) == ["c1", "c2", "c3", "c4"]  # closed customer dropped
    assert list(nearest["suggested_qty"]) == [3, 2, 0, 0]  # half up
    assert list(customer_order_suggestions(forecasts, rounding="up")["suggested_qty"]) == [3, 3, 1, 0]
    assert list(customer_order_suggestions(forecasts, rounding="down")["suggested_qty"]) == [2, 2, 0, 0]
    with pytest.raises(ValueError, match="forecast_qty"):
        customer_order_suggestions(forecasts.assign(forecast_qty=-1.0))
    with pytest.raises(ValueError, match="rounding"):
        customer_order_suggestions(forecasts, rounding="banker")


# --- hand-computed allocations ----------------------------------------------------------------


def test_unconstrained_sku_is_untouched():
    result = allocate(_sugg([("a", 10, 1), ("b", 20, 30)]), {"S1": 30}, cap_qty=5, min_qty=8)
    assert _by_customer(result) == {"a": 10, "b": 20}
    assert set(result["allocation_rule"]) == {"unconstrained"}


def test_proportional_exact_shares():
    # 10, 20, 30 (sum 60) sharing 30: λ = 1/2 → 5, 10, 15
    result = allocate(_sugg([("a", 10, 1), ("b", 20, 1), ("c", 30, 1)]), {"S1": 30}, rule="proportional")
    assert _by_customer(result) == {"a": 5, "b": 10, "c": 15}
    assert set(result["allocation_rule"]) == {"proportional"}


def test_largest_remainder_tie_broken_by_customer_id():
    # 3 × 1 sharing 2: 2/3 each → floors 0, 2 units left, equal fractions → lowest ids
    result = allocate(_sugg([("c", 1, 1), ("a", 1, 1), ("b", 1, 1)]), {"S1": 2}, rule="proportional")
    assert _by_customer(result) == {"a": 1, "b": 1, "c": 0}
    # 7, 5, 3 sharing 10: 10·7/15 = 4.667, 3.333, 2.0 → floors 4, 3, 2 = 9; one left → a (0.667)
    result = allocate(_sugg([("a", 7, 1), ("b", 5, 1), ("c", 3, 1)]), {"S1": 10}, rule="proportional")
    assert _by_customer(result) == {"a": 5, "b": 3, "c": 2}


def test_tier_weights_with_cap_water_filling():
    # tiers 1, 2, 3 each wanting 100, 12 available: weights 1:2:3 → 2, 4, 6
    result = allocate(_sugg([("a", 100, 1), ("b", 100, 2), ("c", 100, 3)]), {"S1": 12})
    assert _by_customer(result) == {"a": 2, "b": 4, "c": 6}
    assert set(result["allocation_rule"]) == {"tier_weights"}
    # tiers 1 and 3 wanting 10 each, 16 available: λ = 4 → 4 and 12 > 10 → c capped at its
    # suggestion 10, the 6 left go to a
    result = allocate(_sugg([("a", 10, 1), ("c", 10, 3)]), {"S1": 16})
    assert _by_customer(result) == {"a": 6, "c": 10}
    # a cap of 5 per tier-3 customer (by tier mapping): c = 5, a = min(10, 11) = 10 → 15 of 16
    result = allocate(_sugg([("a", 10, 1), ("c", 10, 3)]), {"S1": 16}, cap_qty={3: 5})
    assert _by_customer(result) == {"a": 10, "c": 5}


def test_custom_tier_weights_and_row_caps():
    frame = _sugg([("a", 50, 1), ("b", 50, 2), ("c", 50, 2)], cap_qty=[np.nan, 3, np.nan])
    # weights 1 → 1, 2 → 4: a:b:c = 1:4:4 over 18 → 2, 8, 8; b capped at 3 → 5 more split 1:4
    # λ: 1λ + 3 + 4λ = 18 → λ = 3 → a 3, b 3, c 12
    result = allocate(frame, {"S1": 18}, tier_weights={1: 1.0, 2: 4.0})
    assert _by_customer(result) == {"a": 3, "b": 3, "c": 12}


def test_minimums_are_floors():
    # proportional 2 : 18 over 10 → 1, 9; min 2 each → a 2, b clip(λ·18) = 8
    result = allocate(_sugg([("a", 2, 1), ("b", 18, 1)]), {"S1": 10}, rule="proportional", min_qty=2)
    assert _by_customer(result) == {"a": 2, "b": 8}
    # a minimum above the suggestion is cut to the suggestion
    result = allocate(_sugg([("a", 1, 1), ("b", 18, 1)]), {"S1": 10}, rule="proportional", min_qty=3)
    assert _by_customer(result) == {"a": 1, "b": 9}


def test_minimums_that_do_not_fit_are_served_by_priority():
    # 4 customers with minimum 3 but only 7 units: tier 10 first (b, c by id), then a (tier 5)
    # gets the remaining 1, d (tier 1) nothing; total = 7
    frame = _sugg([("a", 10, 5), ("b", 10, 10), ("c", 10, 10), ("d", 10, 1)])
    result = allocate(frame, {"S1": 7}, min_qty=3)
    assert _by_customer(result) == {"a": 1, "b": 3, "c": 3, "d": 0}


def test_selected_fixed():
    # a (tier 20) and c (tier 10) selected for 5 each; 8 available → a 5, c 3, b 0
    frame = _sugg([("a", 10, 20), ("b", 10, 30), ("c", 10, 10)], selected=[True, False, True], fixed_qty=5)
    result = allocate(frame, {"S1": 8}, rule="selected_fixed")
    assert _by_customer(result) == {"a": 5, "b": 0, "c": 3}
    assert set(result["allocation_rule"]) == {"selected_fixed"}
    # enough for every selected outlet: each gets its fixed quantity, capped by its suggestion
    frame = _sugg([("a", 3, 20), ("b", 10, 30), ("c", 10, 10)], selected=[True, False, True])
    result = allocate(frame, {"S1": 20}, rule="selected_fixed", fixed_qty=5)
    assert _by_customer(result) == {"a": 3, "b": 0, "c": 5}


def test_rules_by_sku_and_available_as_frame():
    frame = pd.concat(
        [
            _sugg([("a", 10, 1), ("b", 30, 3)]),
            _sugg([("a", 10, 1), ("b", 30, 3)]).assign(sku="S2"),
            _sugg([("a", 1, 1), ("b", 1, 3)]).assign(sku="S3"),
        ]
    )
    available = pd.DataFrame({"sku": ["S1", "S2", "S3"], "available_qty": [20, 20, 5.7]})
    result = allocate(frame, available, rule="tier_weights", rules_by_sku={"S2": "proportional"})
    s1 = result[result["sku"] == "S1"]
    s2 = result[result["sku"] == "S2"]
    assert _by_customer(s1) == {"a": 5, "b": 15}  # 1:3 of 20
    assert _by_customer(s2) == {"a": 5, "b": 15}  # 10:30 of 20
    rules = list(result.drop_duplicates("sku")["allocation_rule"])
    assert rules == ["tier_weights", "proportional", "unconstrained"]


@pytest.mark.parametrize(
    "frame, available, kwargs, match",
    [
        (_sugg([("a", 1, 1)]).drop(columns="suggested_qty"), {"S1": 1}, {}, "suggested_qty"),
        (_sugg([("a", -1, 1)]), {"S1": 1}, {}, "suggested_qty"),
        (_sugg([("a", 1.5, 1)]), {"S1": 1}, {}, "suggested_qty"),
        (_sugg([("a", 1, 1), ("a", 2, 1)]), {"S1": 1}, {}, "duplicate"),
        (_sugg([("a", 1, 1)]), {"S9": 1}, {}, "available_qty for sku"),
        (_sugg([("a", 1, 1)]), {"S1": -1}, {}, "available_qty"),
        (_sugg([("a", 5, 1)]), {"S1": 1}, {"rule": "random"}, "rule"),
        (_sugg([("a", 5, 1)]).drop(columns="tier"), {"S1": 1}, {}, "tier"),
        (_sugg([("a", 5, 31)]), {"S1": 1}, {}, "tier 31"),
        (_sugg([("a", 5, 1)]), {"S1": 1}, {"rule": "selected_fixed"}, "selected"),
        (_sugg([("a", 5, 1)], selected=True), {"S1": 1}, {"rule": "selected_fixed"}, "fixed_qty"),
    ],
)
def test_allocate_rejects_bad_input(frame, available, kwargs, match):
    with pytest.raises(ValueError, match=match):
        allocate(frame, available, **kwargs)


# --- guarantees (property-based) -------------------------------------------------------------

_customer = st.tuples(
    st.integers(0, 40),  # suggested
    st.integers(1, 30),  # tier
    st.booleans(),  # selected
    st.integers(0, 15),  # fixed_qty
    st.one_of(st.none(), st.integers(0, 30)),  # row cap
    st.one_of(st.none(), st.integers(0, 8)),  # row minimum
)


@st.composite
def _cases(draw):
    n_skus = draw(st.integers(1, 3))
    rows, available = [], {}
    for k in range(n_skus):
        customers = draw(st.lists(_customer, min_size=1, max_size=12))
        for i, (qty, tier, sel, fixed, cap, mn) in enumerate(customers):
            rows.append(
                {
                    "customer_id": f"c{i:02d}",
                    "sku": f"S{k}",
                    "suggested_qty": qty,
                    "tier": tier,
                    "selected": sel,
                    "fixed_qty": fixed,
                    "cap_qty": np.nan if cap is None else cap,
                    "min_qty": np.nan if mn is None else mn,
                }
            )
        total = sum(c[0] for c in customers)
        available[f"S{k}"] = draw(st.integers(0, total + 10))
    frame = pd.DataFrame(rows)
    permutation = draw(st.permutations(range(len(frame))))
    return frame, available, list(permutation)


@settings(max_examples=150, deadline=None)
@given(case=_cases(), rule=st.sampled_from(["tier_weights", "proportional", "selected_fixed"]))
def test_allocation_guarantees(case, rule):
    frame, available, permutation = case
    result = allocate(frame, available, rule=rule)
    assert result["allocated_qty"].dtype == np.int64
    assert (result["allocated_qty"] >= 0).all()
    assert (result["allocated_qty"] <= result["suggested_qty"]).all()
    for sku, rows in result.groupby("sku"):
        total_available = available[sku]
        assert rows["allocated_qty"].sum() <= total_available
        if rows["suggested_qty"].sum() <= total_available:
            assert (rows["allocated_qty"] == rows["suggested_qty"]).all()
            assert set(rows["allocation_rule"]) == {"unconstrained"}
            continue
        assert set(rows["allocation_rule"]) == {rule}
        capped = rows["cap_qty"].notna()
        assert (rows.loc[capped, "allocated_qty"] <= rows.loc[capped, "cap_qty"]).all()
        upper = np.minimum(rows["suggested_qty"], rows["cap_qty"].fillna(np.inf))
        if rule == "selected_fixed":
            assert (rows.loc[~rows["selected"], "allocated_qty"] == 0).all()
            assert (rows["allocated_qty"] <= rows["fixed_qty"]).all()
            continue
        floors = np.minimum(rows["min_qty"].fillna(0), upper)
        if floors.sum() <= total_available:
            # minimums hold, and no unit is held back while someone could still take it
            assert (rows["allocated_qty"] >= floors).all()
            if rule == "proportional" or (rows["tier"] > 0).all():
                assert rows["allocated_qty"].sum() == min(total_available, upper.sum())
        else:
            assert rows["allocated_qty"].sum() == total_available  # minimums use all of it

    # deterministic and independent of input row order
    shuffled = allocate(frame.iloc[permutation], available, rule=rule)
    pd.testing.assert_frame_equal(result, shuffled)
    pd.testing.assert_frame_equal(result, allocate(frame, available, rule=rule))


@settings(max_examples=50, deadline=None)
@given(case=_cases())
def test_scalar_caps_and_minimums_hold(case):
    frame, available, _ = case
    plain = frame.drop(columns=["cap_qty", "min_qty"])
    result = allocate(plain, available, rule="proportional", cap_qty=6, min_qty=1)
    for sku, rows in result.groupby("sku"):
        assert rows["allocated_qty"].sum() <= available[sku]
        if rows["suggested_qty"].sum() > available[sku]:
            assert (rows["allocated_qty"] <= 6).all()


@settings(max_examples=50, deadline=None)
@given(case=_cases(), weights=st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=30, max_size=30))
def test_tier_weights_with_zero_weights_keep_the_guarantees(case, weights):
    frame, available, permutation = case
    tier_weights = {t: w for t, w in zip(range(1, 31), weights, strict=True)}
    result = allocate(frame, available, tier_weights=tier_weights)
    assert (result["allocated_qty"] <= result["suggested_qty"]).all()
    for sku, rows in result.groupby("sku"):
        assert rows["allocated_qty"].sum() <= available[sku]
        if rows["suggested_qty"].sum() > available[sku]:  # caps apply to a shortage only
            assert (rows["allocated_qty"] <= rows["cap_qty"].fillna(np.inf)).all()
    pd.testing.assert_frame_equal(result, allocate(frame.iloc[permutation], available, tier_weights=tier_weights))
