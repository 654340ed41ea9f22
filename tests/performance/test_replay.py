"""Replay of the replenishment plan on hand-computed days (restock/performance/replay.py)."""

from __future__ import annotations

import math
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from restock.performance.replay import (
    SUMMARY_COLUMNS,
    arrival_day,
    order_quantity,
    replay_frame,
    replay_frames,
    review_mask,
    simulate_sku,
)
from restock.replenishment.policy import replenishment_plan

# Test 1's SKU: three weeks, periodic review every 7 days, S = 60, L = 3, start on hand 40.
WEEKS3_DEMAND = [10, 10, 10, 15, 10, 10, 10, 5, 5, 5, 5, 20, 20, 20, 0, 10, 10, 10, 10, 10, 10]


def _weeks3():
    return simulate_sku(
        WEEKS3_DEMAND,
        policy="periodic_review",
        reorder_point=60,  # the plan reports s = S under periodic review
        order_up_to=60,
        lead_time_days=3,
        review_days=review_mask(21, "periodic_review", 7),
        start_on_hand=40,
    )


def test_three_weeks_periodic_review_by_hand():
    # Review days 0, 7, 14. An order placed at the end of day t (L = 3) is received at the
    # start of day t + 3 + 1. Lost sales: unmet demand is gone.
    # day dem  recv served unmet on_hand  review: position → order (arrives)
    #  0   10    0    10     0    30      30 < 60 → 30 (day 4)
    #  1   10    0    10     0    20
    #  2   10    0    10     0    10
    #  3   15    0    10     5     0      stockout, lost
    #  4   10   30    10     0    20
    #  5   10    0    10     0    10
    #  6   10    0    10     0     0      stockout (last unit sold), not lost
    #  7    5    0     0     5     0      stockout, lost; 0 < 60 → 60 (day 11)
    #  8    5    0     0     5     0      stockout, lost
    #  9    5    0     0     5     0      stockout, lost
    # 10    5    0     0     5     0      stockout, lost
    # 11   20   60    20     0    40
    # 12   20    0    20     0    20
    # 13   20    0    20     0     0      stockout, not lost
    # 14    0    0     0     0     0      no demand: not a stockout; 0 < 60 → 60 (day 18)
    # 15   10    0     0    10     0      stockout, lost
    # 16   10    0     0    10     0      stockout, lost
    # 17   10    0     0    10     0      stockout, lost
    # 18   10   60    10     0    50
    # 19   10    0    10     0    40
    # 20   10    0    10     0    30
    r = _weeks3()
    assert r.on_hand.tolist() == [30, 20, 10, 0, 20, 10, 0, 0, 0, 0, 0, 40, 20, 0, 0, 0, 0, 0, 50, 40, 30]
    assert r.order_days == [0, 7, 14]
    assert r.ordered[[0, 7, 14]].tolist() == [30, 60, 60]
    assert r.receipt_days == [4, 11, 18]
    assert r.received[[4, 11, 18]].tolist() == [30, 60, 60]
    assert r.unmet.tolist() == [0, 0, 0, 5, 0, 0, 0, 5, 5, 5, 5, 0, 0, 0, 0, 10, 10, 10, 0, 0, 0]
    # demand 75 + 80 + 60 = 215; unmet 5 + 20 + 30 = 55; served 160 (= 40 + 150 − 30)
    assert r.demand_qty == 215
    assert r.served_qty == 160
    assert r.lost_qty == 55
    assert r.fill_rate == pytest.approx(160 / 215)  # 0.744186
    assert r.stockout_days == 10  # days 3, 6, 7, 8, 9, 10, 13, 15, 16, 17
    assert r.lost_days == 8  # days 3, 7, 8, 9, 10, 15, 16, 17
    # end-of-day on hand sums to 90 + 60 + 120 = 270 over 21 days
    assert r.avg_on_hand_qty == pytest.approx(270 / 21)  # 12.857143
    assert (r.orders, r.ordered_qty, r.received_qty) == (3, 150, 150)
    assert (r.end_on_hand_qty, r.end_on_order_qty) == (30, 0)


def test_arrival_day_convention():
    assert arrival_day(0, 3) == 4  # in transit days 1..3, serves from day 4
    assert arrival_day(5, 0) == 6  # lead time 0: next morning
    assert arrival_day(5, 2.2) == 9  # ceil(2.2) = 3
    assert arrival_day(5, 3.0000000001) == 9  # float noise does not add a day


def test_review_mask():
    assert np.flatnonzero(review_mask(21, "periodic_review", 7)).tolist() == [0, 7, 14]
    # R = 3.5: first whole day at or after 0, 3.5, 7, 10.5, 14, 17.5 → 0, 4, 7, 11, 14, 18
    assert np.flatnonzero(review_mask(21, "periodic_review", 3.5)).tolist() == [0, 4, 7, 11, 14, 18]
    assert review_mask(5, "periodic_review", 0).all()  # R = 0: every day
    assert review_mask(5, "min_max", 7).all()
    assert review_mask(5, "continuous_review", 7).all()
    # per day: no plan → no review; periodic days on the grid only
    per_day = [None, "min_max", "periodic_review", "periodic_review", "periodic_review"]
    assert review_mask(5, per_day, 3).tolist() == [False, True, False, True, False]
    with pytest.raises(ValueError, match="weekly"):
        review_mask(3, "weekly", 7)


def test_case_and_moq_rounding():
    # units_per_case 50, MOQ 2 cases, S = 230, L = 2, weekly review, demand 10 a day, start 139.
    # day 0: 139 − 10 = 129; raw 230 − 129 = 101 → 3 cases (above the MOQ) = 150, arrives day 3
    # days 1, 2: 119, 109; day 3: 109 + 150 − 10 = 249; days 4..6: 239, 229, 219
    # day 7: 209; raw 21 → 1 case → MOQ 2 cases = 100, arrives day 10
    # days 8, 9: 199, 189; day 10: 189 + 100 − 10 = 279; days 11..13: 269, 259, 249
    r = simulate_sku(
        [10] * 14,
        policy="periodic_review",
        reorder_point=230,
        order_up_to=230,
        lead_time_days=2,
        units_per_case=50,
        moq_cases=2,
        review_days=review_mask(14, "periodic_review", 7),
        start_on_hand=139,
    )
    assert r.order_days == [0, 7]
    assert r.ordered[[0, 7]].tolist() == [150, 100]
    assert r.receipt_days == [3, 10]
    assert r.on_hand.tolist() == [129, 119, 109, 249, 239, 229, 219, 209, 199, 189, 279, 269, 259, 249]
    assert all(q % 50 == 0 and q >= 100 for q in r.ordered[r.ordered > 0])


def test_min_max_orders_only_at_or_below_s():
    # s = 30, S = 100, L = 1, every day a review, demand 10 a day, start 50, 10 days.
    # day 0: 40, position 40 > 30 → none
    # day 1: 30, position 30 ≤ 30 → 100 − 30 = 70, arrives day 3
    # day 2: 20, position 20 + 70 = 90 > 30 → none (the order on its way counts)
    # day 3: 20 + 70 − 10 = 80; days 4..7: 70, 60, 50, 40 (positions > 30)
    # day 8: 30 ≤ 30 → 70, arrives day 10 (after the window: stays on order)
    # day 9: 20, position 90 → none
    r = simulate_sku(
        [10] * 10,
        policy="min_max",
        reorder_point=30,
        order_up_to=100,
        lead_time_days=1,
        review_days=review_mask(10, "min_max", 7),
        start_on_hand=50,
    )
    assert r.on_hand.tolist() == [40, 30, 20, 80, 70, 60, 50, 40, 30, 20]
    assert r.order_days == [1, 8]
    assert r.ordered[[1, 8]].tolist() == [70, 70]
    assert r.receipt_days == [3]
    assert (r.ordered_qty, r.received_qty, r.end_on_order_qty) == (140, 70, 70)
    assert r.stockout_days == 0 and r.fill_rate == 1.0


def test_continuous_review_orders_the_smallest_multiple_of_q_above_s():
    # s = 30, Q = 20 (the plan reports S = s + Q = 50), L = 2, start 45.
    # day 0: demand 10 → 35 > 30 → none
    # day 1: demand 50 → served 35, unmet 15, on hand 0; position 0 ≤ 30:
    #        ⌊(30 − 0)/20⌋ + 1 = 2 batches = 40 (one batch, 20, would leave it ≤ 30); arrives day 4
    # days 2, 3: no demand, 0 on hand, position 40 > 30 → none
    # day 4: + 40 → 40; day 5: demand 30 → 10, position 10: ⌊20/20⌋ + 1 = 2 → 40 (position 30
    #        after one batch is not above s), arrives day 8
    # days 6, 7: 10; day 8: 50; day 9: 50
    # demand 90, served 75; stockout days: day 1 only (days 2, 3 have no demand)
    r = simulate_sku(
        [10, 50, 0, 0, 0, 30, 0, 0, 0, 0],
        policy="continuous_review",
        reorder_point=30,
        order_up_to=50,
        lead_time_days=2,
        review_days=review_mask(10, "continuous_review", 7),
        start_on_hand=45,
    )
    assert r.on_hand.tolist() == [35, 0, 0, 0, 40, 10, 10, 10, 50, 50]
    assert r.order_days == [1, 5]
    assert r.ordered[[1, 5]].tolist() == [40, 40]
    assert r.receipt_days == [4, 8]
    assert (r.stockout_days, r.lost_days) == (1, 1)
    assert r.fill_rate == pytest.approx(75 / 90)


@pytest.mark.parametrize("policy", ["periodic_review", "min_max", "continuous_review"])
def test_replay_orders_what_the_plan_recommends(policy):
    # The same position through replenishment_plan (policy.py) and through one replayed day
    # (no demand, review day): the replayed order must equal recommended_order_qty.
    # d = 2/day, K = 1, unit cost 100 → h = 20, EOQ = √(2·1·730/20) ≈ 8.54 (> one case of 4),
    # so continuous review needs up to 3 batches on the grid of positions below.
    positions = np.arange(0.0, 40.0, 1.5)
    frame = pd.DataFrame(
        {
            "warehouse_id": "W",
            "sku": [f"S{i:02d}" for i in range(len(positions))],
            "on_hand_qty": np.maximum(positions - 3.0, 0.0),
            "in_transit_qty": positions - np.maximum(positions - 3.0, 0.0),
            "daily_demand_mean": 2.0,
            "daily_demand_std": 1.5,
            "lead_time_days": 4.0,
            "units_per_case": 4.0,
            "moq_cases": 2.0,
            "unit_cost": 100.0,
        }
    )
    plan = replenishment_plan(frame, policy=policy, ordering_cost=1.0)
    assert plan["recommended_order_qty"].nunique() >= 3  # the grid crosses several order sizes
    assert (plan["recommended_order_qty"] == 0).any()
    for row, on_hand, in_transit in zip(plan.itertuples(), frame["on_hand_qty"], frame["in_transit_qty"], strict=True):
        r = simulate_sku(
            [0.0],
            policy=policy,
            reorder_point=row.reorder_point,
            order_up_to=row.order_up_to,
            lead_time_days=row.lead_time_days,  # 4: the start in-transit is not received on day 0
            units_per_case=4,
            moq_cases=2,
            review_days=[True],
            start_on_hand=on_hand,
            start_in_transit=in_transit,
        )
        assert r.ordered[0] == row.recommended_order_qty, row
        position = row.inventory_position
        expected = order_quantity(policy, position, row.reorder_point, row.order_up_to, 4, 2)
        assert expected == row.recommended_order_qty


def test_no_plan_row_no_order_and_start_in_transit_arrival():
    # 10 days, demand 5 a day, start on hand 10, start in transit 25. No plan row on days
    # 0..2; min_max s = 40, S = 80, L = 2.5 from day 3. L₀ = 2.5 → the in-transit arrives at
    # the start of day ceil(2.5) = 3.
    # day 0: 5, position 30 ≤ 40 but no plan → no order
    # day 1: 0, position 25 → none; day 2: demand 5 unmet, 0 on hand → none
    # day 3: + 25 → 25 − 5 = 20; position 20 ≤ 40 → 80 − 20 = 60, arrives 3 + 3 + 1 = day 7
    # days 4..6: 15, 10, 5 (positions 75, 70, 65); day 7: 5 + 60 − 5 = 60; days 8, 9: 55, 50
    nan = math.nan
    r = simulate_sku(
        [5] * 10,
        policy=[None, None, None] + ["min_max"] * 7,
        reorder_point=[nan] * 3 + [40] * 7,
        order_up_to=[nan] * 3 + [80] * 7,
        lead_time_days=[nan] * 3 + [2.5] * 7,
        review_days=[True] * 10,
        start_on_hand=10,
        start_in_transit=25,
    )
    assert r.plan_days == 7
    assert r.on_hand.tolist() == [5, 0, 0, 20, 15, 10, 5, 60, 55, 50]
    assert r.order_days == [3]
    assert r.ordered[3] == 60
    assert r.receipt_days == [3, 7]
    assert r.received[[3, 7]].tolist() == [25, 60]
    # 10 + 85 received − 45 served = 50
    assert (r.received_qty, r.served_qty, r.end_on_hand_qty) == (85, 45, 50)
    assert (r.stockout_days, r.lost_days) == (2, 1)  # day 1 (last unit sold) and day 2


def test_start_in_transit_without_lead_time_and_after_the_window():
    # no lead time anywhere → day 0
    r = simulate_sku(
        [0, 0],
        policy=None,
        reorder_point=None,
        order_up_to=None,
        lead_time_days=None,
        review_days=[True, True],
        start_in_transit=7,
    )
    assert r.receipt_days == [0] and r.on_hand.tolist() == [7, 7] and r.orders == 0
    # L₀ = 5 ≥ 3 days: not received in the window, still on order at the end
    r = simulate_sku(
        [0, 0, 0],
        policy="periodic_review",
        reorder_point=0,
        order_up_to=0,
        lead_time_days=5,
        review_days=[True, False, False],
        start_in_transit=7,
    )
    assert r.receipt_days == [] and (r.received_qty, r.end_on_order_qty) == (0, 7)


def test_order_not_allowed_places_no_order():
    r = simulate_sku(
        [0, 0, 0],
        policy="min_max",
        reorder_point=10,
        order_up_to=20,
        lead_time_days=0,
        review_days=[True] * 3,
        order_allowed=[False, None, True],  # null → allowed
    )
    # day 0 barred; day 1: position 0 ≤ 10 → 20 (arrives day 2); day 2: position 20 → none
    assert r.order_days == [1] and r.receipt_days == [2] and r.on_hand.tolist() == [0, 0, 20]


# --- replay_frame -------------------------------------------------------------------------

START_DAY = date(2024, 3, 4)


def _key_rows(warehouse, sku, demand, policy, s, big_s, lead, actual, per_case=1.0, moq=0.0):
    n = len(demand)
    return pd.DataFrame(
        {
            "warehouse_id": warehouse,
            "sku": sku,
            "day": [START_DAY + timedelta(days=t) for t in range(n)],
            "demand_qty": demand,
            "policy": policy,
            "reorder_point": s,
            "order_up_to": big_s,
            "lead_time_days": lead,
            "units_per_case": per_case,
            "moq_cases": moq,
            "unit_cost": 3.0,
            "actual_on_hand_qty": actual,
        }
    )


def _three_keys():
    nan = math.nan
    # W1/A: test 1's SKU. Actual on hand 10 every day except day 3 → 0, day 7 → −2,
    # day 14 → 0, no snapshot on days 19 and 20.
    actual_a = [10.0] * 21
    actual_a[3], actual_a[7], actual_a[14], actual_a[19], actual_a[20] = 0.0, -2.0, 0.0, nan, nan
    a = _key_rows("W1", "A", WEEKS3_DEMAND, "periodic_review", 60.0, 60.0, 3.0, actual_a)
    # W1/B: min_max s = 30, S = 100, L = 1, demand 10 a day, 21 days; the plan row is missing
    # on days 5..9 (policy null) and the case is 25.
    policy_b = ["min_max"] * 21
    for t in range(5, 10):
        policy_b[t] = None
    b = _key_rows("W1", "B", [10.0] * 21, policy_b, 30.0, 100.0, 1.0, 50.0, per_case=25.0)
    b.loc[b["policy"].isna(), ["reorder_point", "order_up_to", "lead_time_days"]] = nan
    # W2/A: no plan at all, demand on day 0 only; no actual snapshot at all.
    c = _key_rows("W2", "A", [4.0] + [0.0] * 20, None, nan, nan, nan, nan)
    daily = pd.concat([a, b, c], ignore_index=True).sample(frac=1.0, random_state=3)  # any row order
    start = pd.DataFrame(
        {
            "warehouse_id": ["W1", "W1", "W9"],  # W2/A missing → starts at 0; W9/Z ignored
            "sku": ["A", "B", "Z"],
            "start_on_hand_qty": [40.0, 35.0, 5.0],
            "start_in_transit_qty": [0.0, 12.0, 1.0],
        }
    )
    return daily, start


def test_replay_frame_equals_simulate_sku_per_key_and_actuals_by_hand():
    daily, start = _three_keys()
    out = replay_frames(daily, start, review_period_days=7)
    summary = out.summary
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert list(zip(summary["warehouse_id"], summary["sku"], strict=True)) == [("W1", "A"), ("W1", "B"), ("W2", "A")]
    assert (summary["window_days"] == 21).all()

    nan = math.nan
    policy_b = ["min_max"] * 5 + [None] * 5 + ["min_max"] * 11
    level_b = [30.0] * 5 + [nan] * 5 + [30.0] * 11
    expected = {
        ("W1", "A"): _weeks3(),
        ("W1", "B"): simulate_sku(
            [10.0] * 21,
            policy=policy_b,
            reorder_point=level_b,
            order_up_to=[100.0 if v == v else nan for v in level_b],
            lead_time_days=[1.0 if v == v else nan for v in level_b],
            units_per_case=25.0,
            review_days=review_mask(21, policy_b, 7),
            start_on_hand=35.0,
            start_in_transit=12.0,
        ),
        ("W2", "A"): simulate_sku(
            [4.0] + [0.0] * 20,
            policy=None,
            reorder_point=None,
            order_up_to=None,
            lead_time_days=None,
            review_days=[False] * 21,
        ),
    }
    for row in summary.itertuples():
        r = expected[(row.warehouse_id, row.sku)]
        assert row.demand_qty == r.demand_qty
        assert row.plan_days == r.plan_days
        assert row.plan_served_qty == r.served_qty
        assert row.plan_lost_qty == r.lost_qty
        assert row.plan_stockout_days == r.stockout_days
        assert row.plan_lost_days == r.lost_days
        assert row.plan_avg_on_hand_qty == pytest.approx(r.avg_on_hand_qty)
        assert row.plan_orders == r.orders
        assert row.plan_ordered_qty == r.ordered_qty
        assert row.plan_received_qty == r.received_qty
        assert row.plan_end_on_hand_qty == r.end_on_hand_qty
        assert row.plan_end_on_order_qty == r.end_on_order_qty
        if math.isnan(r.fill_rate):
            assert math.isnan(row.plan_fill_rate)
        else:
            assert row.plan_fill_rate == pytest.approx(r.fill_rate)
        days = out.daily[(out.daily["warehouse_id"] == row.warehouse_id) & (out.daily["sku"] == row.sku)]
        assert days["day"].tolist() == [START_DAY + timedelta(days=t) for t in range(21)]
        assert days["plan_on_hand_qty"].tolist() == r.on_hand.tolist()
        assert days["plan_ordered_qty"].tolist() == r.ordered.tolist()

    a, b, c = (summary.iloc[i] for i in range(3))
    # W1/A plan figures: test 1. Actual: 19 snapshot days; (16·10 + 0 − 2 + 0) / 19 = 158/19;
    # stockouts with demand: day 3 (0, demand 15) and day 7 (−2, demand 5); day 14 has no demand.
    assert (a["plan_stockout_days"], a["plan_fill_rate"]) == (10, pytest.approx(160 / 215))
    assert a["actual_snapshot_days"] == 19
    assert a["actual_avg_on_hand_qty"] == pytest.approx(158 / 19)
    assert a["actual_stockout_days"] == 2
    # W1/B by hand: start 35 + 12 in transit arriving day ceil(1) = 1. Days 0..4 (min_max):
    # d0: 25, pos 37 > 30; d1: +12 → 27, pos 27 ≤ 30 → 73 → 3 cases of 25 = 75, arrives day 3;
    # d2: 17, pos 92; d3: 17 + 75 − 10 = 82; d4: 72. Days 5..9 no plan: 62, 52, 42, 32, 22.
    # d10: 12 ≤ 30 → 88 → 4 cases = 100, arrives day 12; d11: 2, pos 102; d12: 2 + 100 − 10 = 92;
    # d13..d18: 82, 72, 62, 52, 42, 32; d19: 22 ≤ 30 → 78 → 4 cases = 100, arrives day 21
    # (after the window); d20: 12. Never short: fill rate 1; end on order 100.
    assert expected[("W1", "B")].on_hand.tolist() == [
        25, 27, 17, 82, 72, 62, 52, 42, 32, 22, 12, 2, 92, 82, 72, 62, 52, 42, 32, 22, 12
    ]  # fmt: skip
    assert (b["plan_orders"], b["plan_ordered_qty"], b["plan_received_qty"]) == (
        3,
        275,
        187,
    )  # 12 in transit + 75 + 100
    assert (b["plan_end_on_hand_qty"], b["plan_end_on_order_qty"], b["plan_fill_rate"]) == (12, 100, 1.0)
    assert (b["plan_days"], b["actual_snapshot_days"], b["actual_avg_on_hand_qty"]) == (16, 21, 50.0)
    assert (b["start_on_hand_qty"], b["start_in_transit_qty"]) == (35, 12)
    # W2/A: no start row → 0; demand 4 on day 0 all lost; no snapshot → NaN, 0 stockouts.
    assert (c["start_on_hand_qty"], c["plan_served_qty"], c["plan_fill_rate"]) == (0, 0, 0.0)
    assert (c["plan_stockout_days"], c["plan_orders"], c["plan_days"]) == (1, 0, 0)
    assert c["actual_snapshot_days"] == 0 and math.isnan(c["actual_avg_on_hand_qty"])
    assert c["actual_stockout_days"] == 0
    assert replay_frame(daily, start, 7).equals(summary)
    # as read from DuckDB: policy as a pandas string column (pd.NA), days as strings
    as_read = daily.astype({"policy": "string"}).assign(day=daily["day"].astype(str))
    assert replay_frame(as_read, start, 7).equals(summary)


def test_replay_frame_speed():
    # 300 keys × 91 days, min_max every day: well under a second (measured ≈ 0.1 s)
    rng = np.random.default_rng(0)
    keys, n = 300, 91
    days = [START_DAY + timedelta(days=t) for t in range(n)]
    daily = pd.DataFrame(
        {
            "warehouse_id": np.repeat([f"W{k % 3}" for k in range(keys)], n),
            "sku": np.repeat([f"S{k:04d}" for k in range(keys)], n),
            "day": days * keys,
            "demand_qty": rng.poisson(5, keys * n).astype(float),
            "policy": "min_max",
            "reorder_point": 30.0,
            "order_up_to": 80.0,
            "lead_time_days": 3.0,
            "units_per_case": 10.0,
            "moq_cases": 1.0,
            "actual_on_hand_qty": 20.0,
        }
    )
    start = daily[["warehouse_id", "sku"]].drop_duplicates().assign(start_on_hand_qty=50.0, start_in_transit_qty=0.0)
    t0 = time.perf_counter()
    out = replay_frame(daily, start, 7)
    elapsed = time.perf_counter() - t0
    assert len(out) == keys and out["plan_orders"].gt(0).all()
    assert elapsed < 3.0, elapsed  # generous: the machine is shared


# --- bad input ------------------------------------------------------------------------------


def _bad(mutate):
    daily, start = _three_keys()
    daily = daily.sort_values(["warehouse_id", "sku", "day"]).reset_index(drop=True)
    daily, start = mutate(daily, start)
    return daily, start


def _set(mask_fn, column, value):
    def mutate(daily, start):
        daily = daily.copy()
        if isinstance(value, str):
            daily[column] = daily[column].astype(object)
        daily.loc[mask_fn(daily), column] = value
        return daily, start

    return mutate


def _w1b_day(t):
    return lambda d: (d["warehouse_id"] == "W1") & (d["sku"] == "B") & (d["day"] == START_DAY + timedelta(days=t))


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (
            _set(_w1b_day(2), "demand_qty", -1.0),
            r"'demand_qty'.*non-negative.*warehouse_id='W1', sku='B', day=2024-03-06",
        ),
        (_set(_w1b_day(2), "demand_qty", math.nan), r"'demand_qty'.*sku='B', day=2024-03-06"),
        (_set(_w1b_day(4), "policy", "weekly"), r"'policy'.*sku='B', day=2024-03-08"),
        (_set(_w1b_day(4), "lead_time_days", math.nan), r"'lead_time_days'.*plan row.*sku='B', day=2024-03-08"),
        (_set(_w1b_day(4), "units_per_case", 0.0), r"'units_per_case'.*> 0.*sku='B'"),
        (_set(_w1b_day(4), "demand_qty", "many"), r"'demand_qty' must be numeric"),
        (
            lambda d, s: (pd.concat([d, d.iloc[[3]]], ignore_index=True), s),
            r"duplicate .*warehouse_id='W1', sku='A', day=2024-03-07",
        ),
        (lambda d, s: (d.drop(columns=["order_up_to"]), s), r"daily: missing .*'order_up_to'"),
        (lambda d, s: (d, s.drop(columns=["start_in_transit_qty"])), r"start: missing .*'start_in_transit_qty'"),
        (
            lambda d, s: (d[~_w1b_day(6)(d)], s),
            r"warehouse_id='W1', sku='B' has no row for 2024-03-10",
        ),
        (
            lambda d, s: (d[d["day"] != START_DAY + timedelta(days=6)], s),
            r"consecutive; no row for 2024-03-10",
        ),
        (
            lambda d, s: (d, s.assign(start_on_hand_qty=[40.0, -1.0, 5.0])),
            r"'start_on_hand_qty'.*non-negative.*warehouse_id='W1', sku='B'",
        ),
        (
            lambda d, s: (d, pd.concat([s, s.iloc[[0]]], ignore_index=True)),
            r"start: duplicate .*warehouse_id='W1', sku='A'",
        ),
        (_set(lambda d: d.index == 5, "sku", None), r"'sku' has a null value"),
    ],
)
def test_bad_input_names_column_and_key(mutate, pattern):
    daily, start = _bad(mutate)
    with pytest.raises(ValueError, match=pattern):
        replay_frame(daily, start, 7)


def test_simulate_sku_bad_input():
    kwargs = dict(policy="min_max", reorder_point=1, order_up_to=2, lead_time_days=1, review_days=[True] * 3)
    with pytest.raises(ValueError, match=r"demand must be non-negative \(W1/A: day 2\)"):
        simulate_sku([1, 1, -1], key="W1/A", **kwargs)
    with pytest.raises(ValueError, match="start_on_hand"):
        simulate_sku([1, 1, 1], start_on_hand=-1, **kwargs)
    with pytest.raises(ValueError, match="order_up_to: expected 3 days"):
        simulate_sku([1, 1, 1], **{**kwargs, "order_up_to": [2, 2]})
    with pytest.raises(ValueError, match="must exceed reorder_point under continuous_review"):
        simulate_sku([1, 1, 1], **{**kwargs, "policy": "continuous_review", "order_up_to": 1})
    with pytest.raises(ValueError, match="review_period_days"):
        replay_frame(*_three_keys(), review_period_days=-1)
