"""Inventory alerts: each type triggered and not triggered at its boundary, severities."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from restock.replenishment.alerts import ALERT_COLUMNS, inventory_alerts
from restock.replenishment.policy import replenishment_plan

AS_OF = date(2024, 3, 1)


def _plan(**overrides) -> pd.DataFrame:
    # a quiet row: position 100 at 2/day → 50 days of supply (< 60); lead-time demand
    # 2·5 = 10 ≤ 100; on hand 100 ≥ SS 10
    row = {
        "warehouse_id": "W1",
        "sku": "S1",
        "on_hand_qty": 100.0,
        "inventory_position": 100.0,
        "daily_demand_mean": 2.0,
        "lead_time_days": 5.0,
        "safety_stock": 10.0,
        "days_of_supply": 50.0,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def _alerts(plan: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return inventory_alerts(plan, as_of_date=AS_OF, **kwargs)


def test_quiet_row_raises_nothing():
    result = _alerts(_plan())
    assert result.empty
    assert list(result.columns) == list(ALERT_COLUMNS)


@pytest.mark.parametrize(
    "position, severity",
    [
        (10.0, None),  # projected 10 − 2·5 = 0: not below zero
        (9.0, "medium"),  # projected −1; 9 ≥ 10/2
        (5.0, "medium"),  # exactly half the lead-time demand is not "less than half"
        (4.9, "high"),  # < 10/2
        (-3.0, "high"),
    ],
)
def test_stockout_risk_boundary(position, severity):
    result = _alerts(_plan(inventory_position=position, days_of_supply=max(position, 0) / 2))
    rows = result[result["alert_type"] == "stockout_risk"]
    if severity is None:
        assert rows.empty
    else:
        row = rows.iloc[0]
        assert row["severity"] == severity
        assert row["value"] == pytest.approx(position - 10)
        assert row["threshold"] == 0
        assert f"projected stock {position - 10:g}" in row["detail"]


@pytest.mark.parametrize(
    "on_hand, severity",
    [(10.0, None), (9.0, "low"), (5.0, "low"), (4.0, "medium"), (0.0, "medium")],
)
def test_below_safety_stock_boundary(on_hand, severity):
    # SS = 10: alert when on hand < 10; medium below 10/2 = 5
    rows = _alerts(_plan(on_hand_qty=on_hand))
    rows = rows[rows["alert_type"] == "below_safety_stock"]
    if severity is None:
        assert rows.empty
    else:
        assert rows.iloc[0]["severity"] == severity
        assert rows.iloc[0]["threshold"] == 10
        assert f"on hand {on_hand:g} below safety stock 10.0" == rows.iloc[0]["detail"]


def test_no_safety_stock_no_alert():
    rows = _alerts(_plan(on_hand_qty=0.0, safety_stock=0.0))
    assert "below_safety_stock" not in set(rows["alert_type"])


@pytest.mark.parametrize(
    "supply, severity",
    [(60.0, None), (60.5, "low"), (120.0, "low"), (120.5, "medium"), (np.inf, "medium")],
)
def test_overstock_boundary(supply, severity):
    # limit 60 days: alert above 60; medium above 2 × 60 = 120 or infinite
    rows = _alerts(_plan(days_of_supply=supply))
    rows = rows[rows["alert_type"] == "overstock"]
    if severity is None:
        assert rows.empty
    else:
        assert rows.iloc[0]["severity"] == severity
        assert rows.iloc[0]["threshold"] == 60
        assert ("infinite" in rows.iloc[0]["detail"]) == np.isinf(supply)


def test_overstock_limit_is_a_parameter():
    assert _alerts(_plan(), overstock_days=49)["alert_type"].tolist() == ["overstock"]
    assert _alerts(_plan(), overstock_days=50).empty


@pytest.mark.parametrize(
    "shelf_life, severity, days_left",
    [
        # oldest batch 2024-01-01; as of 2024-03-01 (60 days later, 2024 is a leap year)
        (91, None, 31),  # expires 2024-04-01: 31 days > 30
        (90, "low", 30),  # expires 2024-03-31: 30 days ≤ 30
        (76, "low", 16),
        (75, "medium", 15),  # ≤ 30/2
        (61, "medium", 1),
        (60, "high", 0),  # expires today
        (30, "high", -30),  # expired 30 days ago
    ],
)
def test_expiring_boundary(shelf_life, severity, days_left):
    plan = _plan(oldest_batch_date=pd.Timestamp("2024-01-01"), shelf_life_days=shelf_life)
    rows = _alerts(plan)
    rows = rows[rows["alert_type"] == "expiring"]
    if severity is None:
        assert rows.empty
    else:
        row = rows.iloc[0]
        assert row["severity"] == severity
        assert row["value"] == days_left
        assert row["threshold"] == 30
        assert "2024-01-01" in row["detail"]
        assert ("expired" in row["detail"]) == (days_left <= 0)


def test_expiring_needs_stock_known_dates_and_as_of():
    plan = _plan(on_hand_qty=0.0, oldest_batch_date=pd.Timestamp("2024-01-01"), shelf_life_days=10)
    assert "expiring" not in set(_alerts(plan)["alert_type"])
    unknown = _plan(oldest_batch_date=pd.NaT, shelf_life_days=10)
    assert _alerts(unknown).empty
    with pytest.raises(ValueError, match="as_of_date"):
        inventory_alerts(_plan(oldest_batch_date=pd.Timestamp("2024-01-01"), shelf_life_days=10))


@pytest.mark.parametrize(
    "weeks, severity",
    [(7.9, None), (8.0, "low"), (15.0, "low"), (16.0, "medium"), (np.nan, None)],
)
def test_dead_stock_boundary(weeks, severity):
    rows = _alerts(_plan(weeks_since_last_demand=weeks))
    rows = rows[rows["alert_type"] == "dead_stock"]
    if severity is None:
        assert rows.empty
    else:
        assert rows.iloc[0]["severity"] == severity
        assert rows.iloc[0]["threshold"] == 8
        assert f"no demand for {weeks:g} weeks" in rows.iloc[0]["detail"]


def test_dead_stock_needs_stock():
    result = _alerts(_plan(on_hand_qty=0.0, weeks_since_last_demand=20.0))
    assert "dead_stock" not in set(result["alert_type"])


def test_several_alerts_sorted_and_from_a_real_plan():
    positions = pd.DataFrame(
        {
            "warehouse_id": ["W2", "W1"],
            "sku": ["S1", "S1"],
            "on_hand_qty": [1.0, 500.0],
            "daily_demand_mean": [10.0, 0.0],
            "daily_demand_std": [3.0, 0.0],
            "lead_time_days": [3.0, 3.0],
        }
    )
    plan = replenishment_plan(positions).assign(
        weeks_since_last_demand=[20.0, 1.0], oldest_batch_date=pd.Timestamp("2024-02-25"), shelf_life_days=10
    )
    result = _alerts(plan)
    got = list(zip(result["warehouse_id"], result["alert_type"], result["severity"], strict=True))
    assert got == [
        # W1: 500 units and no demand → infinite days of supply; dead for 20 weeks;
        # batch expires 2024-03-06, in 5 days
        ("W1", "overstock", "medium"),
        ("W1", "expiring", "medium"),
        ("W1", "dead_stock", "medium"),
        # W2: 1 unit vs 30 lead-time demand, below its safety stock; expiring; not dead
        ("W2", "stockout_risk", "high"),
        ("W2", "below_safety_stock", "medium"),
        ("W2", "expiring", "medium"),
    ]
    assert (result.loc[result["warehouse_id"] == "W1", "on_hand_qty"] == 500).all()


@pytest.mark.parametrize(
    "plan, match",
    [
        (_plan().drop(columns="safety_stock"), "safety_stock"),
        (_plan(on_hand_qty=-1.0), "on_hand_qty"),
        (_plan(days_of_supply=np.nan), "days_of_supply"),
    ],
)
def test_alerts_reject_bad_input(plan, match):
    with pytest.raises(ValueError, match=match):
        _alerts(plan)


@pytest.mark.parametrize(
    ("demand", "minimum", "alerted"),
    [
        (0.01, 0.1, False),  # 0.01 a day: a carton every 100 days, nothing to alarm about
        (0.09, 0.1, False),
        (0.1, 0.1, True),  # exactly on the limit: alerts ("below which" none)
        (0.01, 0.0, True),  # 0 switches the filter off
    ],
)
def test_negligible_demand_raises_no_stockout_or_safety_stock_alert(demand, minimum, alerted):
    # position 0, on hand 0, SS 1: projected 0 − d·5 < 0 and on hand < SS whatever d > 0;
    # the stock is also 60 weeks without demand and its batch expired: those still alert
    plan = _plan(
        inventory_position=0.0, on_hand_qty=0.0, daily_demand_mean=demand, safety_stock=1.0, days_of_supply=0.0
    )
    result = _alerts(plan, min_daily_demand=minimum)
    demand_alerts = {"stockout_risk", "below_safety_stock"}
    assert set(result["alert_type"]) & demand_alerts == (demand_alerts if alerted else set())
    stocked = _plan(
        on_hand_qty=50.0,
        inventory_position=50.0,
        daily_demand_mean=demand,
        days_of_supply=50.0 / demand,
        weeks_since_last_demand=60.0,
        oldest_batch_date=pd.Timestamp("2023-01-01"),
        shelf_life_days=365,
    )
    kept = set(_alerts(stocked, min_daily_demand=minimum)["alert_type"])
    assert {"overstock", "expiring", "dead_stock"} <= kept


def test_default_minimum_daily_demand_is_a_tenth_of_a_unit():
    result = _alerts(_plan(inventory_position=0.0, on_hand_qty=0.0, daily_demand_mean=0.05, days_of_supply=0.0))
    assert result.empty
    with pytest.raises(ValueError, match="min_daily_demand"):
        _alerts(_plan(), min_daily_demand=-0.1)
