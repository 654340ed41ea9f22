"""Inventory policy formulas on hand-computed numbers, the periodic-review pitfall, the plan."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restock.replenishment.policy import (
    PLAN_COLUMNS,
    cycle_service_level,
    daily_demand_from_period,
    days_of_supply,
    demand_std_over,
    eoq,
    order_up_to,
    protection_interval,
    reorder_point,
    replenishment_plan,
    round_to_case_and_moq,
    safety_stock,
    z_value,
)

Z95 = 1.6448536269514722  # Φ⁻¹(0.95)


def test_z_values():
    assert z_value(0.95) == pytest.approx(1.644854, abs=1e-6)
    assert z_value(0.98) == pytest.approx(2.053749, abs=1e-6)
    assert z_value(0.90) == pytest.approx(1.281552, abs=1e-6)
    assert z_value(0.5) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_service_level_outside_open_interval_is_rejected(level):
    with pytest.raises(ValueError, match="service_level"):
        z_value(level)


def test_demand_std_over_protection_interval():
    # d = 10/day, σd = 6, σL = 0.5 day
    # L = 4:       √(4·6² + 10²·0.5²)  = √(144 + 25) = √169 = 13
    # R + L = 11:  √(11·6² + 10²·0.5²) = √(396 + 25) = √421 ≈ 20.518285
    assert demand_std_over(4, 10, 6, 0.5) == pytest.approx(13.0)
    assert demand_std_over(11, 10, 6, 0.5) == pytest.approx(math.sqrt(421))
    # without lead-time variability it is σd·√T: 6·√4 = 12
    assert demand_std_over(4, 10, 6) == pytest.approx(12.0)
    # demand known exactly, only the lead time varies: d·σL = 10·0.5 = 5
    assert demand_std_over(4, 10, 0, 0.5) == pytest.approx(5.0)


def test_safety_stock_reorder_point_order_up_to_by_hand():
    # continuous review: SS = 1.644854·13 = 21.383097; s = 10·4 + 21.383097 = 61.383097
    ss_l = safety_stock(0.95, 4, 10, 6, 0.5)
    assert ss_l == pytest.approx(Z95 * 13)
    assert ss_l == pytest.approx(21.383097, abs=1e-6)
    assert reorder_point(10, 4, ss_l) == pytest.approx(61.383097, abs=1e-6)
    # periodic review, R = 7: SS = 1.644854·√421 = 1.644854·20.518285 = 33.749575
    # S = 10·(7 + 4) + 33.749575 = 143.749575
    ss_rl = safety_stock(0.95, protection_interval("periodic_review", 4, 7), 10, 6, 0.5)
    assert ss_rl == pytest.approx(33.749575, abs=1e-6)
    assert order_up_to(10, 7, 4, ss_rl) == pytest.approx(143.749575, abs=1e-6)


def test_protection_interval():
    assert protection_interval("periodic_review", 4, 7) == 11
    assert protection_interval("min_max", 4, 7) == 4
    assert protection_interval("continuous_review", 4, 7) == 4
    with pytest.raises(ValueError, match="policy"):
        protection_interval("weekly", 4, 7)


def test_eoq_by_hand():
    # √(2·100·1200 / 6) = √40000 = 200
    assert eoq(1200, 100, 6) == pytest.approx(200.0)
    # d = 10/day → D = 3650/year; K = 200; h = 0.20·100 = 20 → √(2·200·3650/20) = √73000 ≈ 270.185
    assert eoq(3650, 200, 20) == pytest.approx(270.1851217, abs=1e-6)
    assert eoq(0, 200, 20) == 0.0
    with pytest.raises(ValueError, match="holding_cost"):
        eoq(3650, 200, 0)


@pytest.mark.parametrize(
    "qty, per_case, moq, expected",
    [
        (101, 50, 4, 200),  # 101/50 → 3 cases → MOQ 4 cases → 200
        (101, 50, 0, 150),  # 3 cases
        (100, 50, 0, 100),  # exactly 2 cases
        (100.0000000001, 50, 0, 100),  # float noise does not add a case
        (0.2, 1, 0, 1),  # a positive need is at least one unit
        (0, 50, 4, 0),  # no need, no order (MOQ does not force one)
        (-5, 50, 4, 0),
        (30, 12, 2.5, 36),  # 30/12 → 3 cases ≥ ceil(2.5) = 3 → 36
    ],
)
def test_round_to_case_and_moq(qty, per_case, moq, expected):
    assert round_to_case_and_moq(qty, per_case, moq) == expected


def test_round_to_case_rejects_bad_case_size():
    with pytest.raises(ValueError, match="units_per_case"):
        round_to_case_and_moq(10, 0, 0)


def test_days_of_supply():
    assert days_of_supply(70, 10) == 7.0  # 70 / 10
    assert days_of_supply(70, 0) == math.inf  # stock with no demand never runs out
    assert days_of_supply(0, 0) == 0.0
    assert days_of_supply(-5, 10) == 0.0  # a negative position covers no day


def test_daily_demand_from_period():
    # a week of 70 with weekly error std 14 → 10/day and 14/√7 ≈ 5.291503/day
    d, sd = daily_demand_from_period(70, 14, 7)
    assert d == pytest.approx(10.0)
    assert sd == pytest.approx(14 / math.sqrt(7))


# --- the periodic-review pitfall (domain.md) -----------------------------------------------


def test_periodic_review_pitfall_continuous_safety_stock_gives_75_percent():
    # Weekly review on a 5-day week (R = 5), next-day delivery (L = 1), d = 100, σd = 20.
    # Right: S = d(R+L) + z·σd·√(R+L) = 600 + 1.644854·20·√6 = 600 + 80.581 = 680.581 → 95 %.
    right = 600 + Z95 * 20 * math.sqrt(6)
    assert right == pytest.approx(680.581, abs=1e-3)
    assert cycle_service_level(right, 6, 100, 20) == pytest.approx(0.95, abs=1e-9)
    # Pitfall: safety stock sized for continuous review (√L): 600 + 1.644854·20·√1 = 632.897.
    # Achieved: Φ((632.897 − 600) / (20·√6)) = Φ(32.897 / 48.990) = Φ(0.6715) ≈ 0.749.
    wrong = 600 + Z95 * 20 * math.sqrt(1)
    achieved = cycle_service_level(wrong, 6, 100, 20)
    assert achieved == pytest.approx(0.749, abs=1e-3)
    assert achieved < 0.80
    # Worse: the continuous-review reorder point itself (d·L + SS_L = 132.9) as the review
    # trigger covers only a sixth of the protection interval's mean demand: ≈ 0 %.
    assert cycle_service_level(100 * 1 + Z95 * 20, 6, 100, 20) < 1e-6


def test_plan_periodic_review_protects_review_plus_lead_time():
    positions = pd.DataFrame(
        {
            "warehouse_id": ["W1"],
            "sku": ["S1"],
            "on_hand_qty": [5.0],
            "daily_demand_mean": [100.0],
            "daily_demand_std": [20.0],
            "lead_time_days": [1.0],
            "abc_class": ["B"],  # 0.95
        }
    )
    periodic = replenishment_plan(positions, policy="periodic_review", review_period_days=5).iloc[0]
    continuous = replenishment_plan(positions, policy="continuous_review", review_period_days=5).iloc[0]
    assert periodic["order_up_to"] == pytest.approx(680.581, abs=1e-3)
    # the plan's own levels achieve the target over their own protection interval
    assert cycle_service_level(periodic["order_up_to"], 6, 100, 20) == pytest.approx(0.95)
    assert cycle_service_level(continuous["reorder_point"], 1, 100, 20) == pytest.approx(0.95)
    # the continuous safety stock used under weekly review: ≈ 75 % instead of 95 %
    assert cycle_service_level(600 + continuous["safety_stock"], 6, 100, 20) == pytest.approx(0.749, abs=1e-3)


# --- the vectorised plan -------------------------------------------------------------------


def _positions(**overrides) -> pd.DataFrame:
    row = {
        "warehouse_id": "W1",
        "sku": "S1",
        "on_hand_qty": 60.0,
        "in_transit_qty": 20.0,
        "allocated_qty": 10.0,
        "daily_demand_mean": 10.0,
        "daily_demand_std": 6.0,
        "lead_time_days": 4.0,
        "lead_time_std_days": 0.5,
        "units_per_case": 50.0,
        "moq_cases": 3.0,
        "abc_class": "B",
        "unit_cost": 100.0,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def test_plan_periodic_review_by_hand():
    plan = replenishment_plan(_positions(), review_period_days=7)
    assert list(plan.columns) == list(PLAN_COLUMNS)
    row = plan.iloc[0]
    # position = 60 + 20 − 10 = 70
    assert row["inventory_position"] == 70
    assert row["service_level"] == 0.95  # class B
    # SS = 1.644854·√(11·36 + 100·0.25) = 33.749575; S = 110 + 33.749575 = 143.749575
    assert row["safety_stock"] == pytest.approx(33.749575, abs=1e-6)
    assert row["order_up_to"] == pytest.approx(143.749575, abs=1e-6)
    assert row["reorder_point"] == row["order_up_to"]  # (R, S): order whenever below S
    # raw 143.75 − 70 = 73.75 → 2 cases of 50 → MOQ 3 cases → 150
    assert row["recommended_order_qty"] == 150
    assert row["days_of_supply"] == pytest.approx(7.0)  # 70 / 10
    assert row["policy"] == "periodic_review"


def test_plan_periodic_review_no_order_at_or_above_s():
    # position 60 + 90 − 0 = 150 ≥ S = 143.75 → no order
    plan = replenishment_plan(_positions(in_transit_qty=90.0, allocated_qty=0.0))
    assert plan.iloc[0]["recommended_order_qty"] == 0


def test_plan_min_max_by_hand():
    # s = 10·4 + 1.644854·13 = 61.383097; EOQ = √(2·200·3650 / (0.2·100)) = 270.185122
    # S = 61.383097 + 270.185122 = 331.568219
    high = replenishment_plan(_positions(), policy="min_max").iloc[0]
    assert high["safety_stock"] == pytest.approx(21.383097, abs=1e-6)
    assert high["reorder_point"] == pytest.approx(61.383097, abs=1e-6)
    assert high["order_up_to"] == pytest.approx(331.568219, abs=1e-6)
    assert high["recommended_order_qty"] == 0  # position 70 > s
    # position 40 + 20 − 10 = 50 ≤ s → 331.57 − 50 = 281.57 → 6 cases of 50 = 300
    low = replenishment_plan(_positions(on_hand_qty=40.0), policy="min_max").iloc[0]
    assert low["recommended_order_qty"] == 300


def test_plan_continuous_review_by_hand():
    # position 50 ≤ s = 61.38 → one batch Q = EOQ 270.19 → 6 cases = 300
    row = replenishment_plan(_positions(on_hand_qty=40.0), policy="continuous_review").iloc[0]
    assert row["recommended_order_qty"] == 300
    # position −290 (allocated beyond stock): floor((61.38 + 290) / 270.19) + 1 = 2 batches
    # = 540.37 → 11 cases = 550
    deep = replenishment_plan(
        _positions(on_hand_qty=0.0, in_transit_qty=0.0, allocated_qty=290.0), policy="continuous_review"
    ).iloc[0]
    assert deep["inventory_position"] == -290
    assert deep["recommended_order_qty"] == 550
    assert deep["days_of_supply"] == 0.0


def test_plan_eoq_falls_back_to_review_period_demand_without_cost():
    # no unit cost → S − s = d·R = 10·7 = 70
    row = replenishment_plan(_positions(unit_cost=np.nan), policy="min_max").iloc[0]
    assert row["order_up_to"] - row["reorder_point"] == pytest.approx(70.0)


def test_plan_optional_columns_and_class_defaults():
    positions = pd.DataFrame(
        {
            "warehouse_id": ["W1", "W1"],
            "sku": ["S2", "S1"],
            "on_hand_qty": [0.0, 0.0],
            "daily_demand_mean": [1.0, 0.0],
            "lead_time_days": [2.0, 2.0],
            "abc_class": ["A", None],
        }
    )
    plan = replenishment_plan(positions, review_period_days=7)
    assert list(plan["sku"]) == ["S1", "S2"]  # sorted by key
    s1, s2 = plan.iloc[0], plan.iloc[1]
    assert s1["service_level"] == 0.90 and s2["service_level"] == 0.98
    # no spread: SS = 0, S = 1·9 = 9 → order 9 (case of 1, no MOQ)
    assert s2["safety_stock"] == 0 and s2["order_up_to"] == 9 and s2["recommended_order_qty"] == 9
    # no demand and no stock: nothing to order, 0 days of supply
    assert s1["recommended_order_qty"] == 0 and s1["days_of_supply"] == 0
    custom = replenishment_plan(positions, service_levels={"A": 0.99}, unclassified_service_level=0.5)
    assert list(custom["service_level"]) == [0.5, 0.99]


def test_plan_zero_demand_with_stock_has_infinite_days_of_supply():
    plan = replenishment_plan(_positions(daily_demand_mean=0.0, daily_demand_std=0.0))
    assert plan.iloc[0]["days_of_supply"] == math.inf
    assert plan.iloc[0]["recommended_order_qty"] == 0


@pytest.mark.parametrize(
    "positions, match",
    [
        (_positions().drop(columns="on_hand_qty"), "on_hand_qty"),
        (_positions().drop(columns="sku"), "'sku'"),
        (_positions(on_hand_qty=-1.0), "on_hand_qty"),
        (_positions(in_transit_qty=-1.0), "in_transit_qty"),
        (_positions(daily_demand_std=-1.0), "daily_demand_std"),
        (_positions(daily_demand_mean=np.nan), "daily_demand_mean"),
        (_positions(lead_time_days="soon"), "lead_time_days"),
        (_positions(units_per_case=0.0), "units_per_case"),
        (pd.concat([_positions(), _positions()]), "duplicate"),
    ],
)
def test_plan_rejects_bad_input(positions, match):
    with pytest.raises(ValueError, match=match):
        replenishment_plan(positions)


def test_plan_rejects_bad_parameters():
    with pytest.raises(ValueError, match="service_levels"):
        replenishment_plan(_positions(), service_levels={"A": 1.0})
    with pytest.raises(ValueError, match="policy"):
        replenishment_plan(_positions(), policy="sS")


@settings(max_examples=60, deadline=None)
@given(
    on_hand=st.integers(0, 500),
    in_transit=st.integers(0, 500),
    allocated=st.integers(0, 500),
    d=st.floats(0, 50),
    sd=st.floats(0, 30),
    lead=st.floats(0, 20),
    per_case=st.sampled_from([1, 10, 50]),
    moq=st.integers(0, 5),
    policy=st.sampled_from(["periodic_review", "min_max", "continuous_review"]),
)
def test_plan_order_is_whole_cases_and_reaches_the_target(
    on_hand, in_transit, allocated, d, sd, lead, per_case, moq, policy
):
    plan = replenishment_plan(
        _positions(
            on_hand_qty=on_hand,
            in_transit_qty=in_transit,
            allocated_qty=allocated,
            daily_demand_mean=d,
            daily_demand_std=sd,
            lead_time_days=lead,
            units_per_case=per_case,
            moq_cases=moq,
        ),
        policy=policy,
    ).iloc[0]
    qty = plan["recommended_order_qty"]
    assert qty >= 0 and qty % per_case == 0
    if qty > 0:
        assert qty >= moq * per_case
        assert plan["inventory_position"] <= plan["reorder_point"] + 1e-9
        # after ordering, the position is at or above the order-up-to level (rounding is up)
        if policy != "continuous_review":
            assert plan["inventory_position"] + qty >= plan["order_up_to"] - 1e-6
        else:
            assert plan["inventory_position"] + qty > plan["reorder_point"]
    elif policy == "periodic_review":
        assert plan["inventory_position"] >= plan["order_up_to"] - 1e-9
    else:
        position = plan["inventory_position"]
        assert position > plan["reorder_point"] or plan["order_up_to"] <= position + 1e-9
