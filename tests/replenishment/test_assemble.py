"""The replenishment of one day on a small hand-made warehouse: every number of
the plan, the suggestions, the allocation and the alerts is worked out by hand below.

Day D = Sunday 2025-03-09 (a forecast origin). Customers (analytics.customer_segments,
order weekday from marts.customers):

  c1  R1 → WH1  tier 10  active               Mon  K1 share 0.4, K2 share 0.5
  c2  R1 → WH1  tier 20  suspended / at_risk  Thu  K1 share 0.2 (in demand, no suggestion)
  c3  R2 → WH2  tier 5   active               Fri  K1 share 0.2
  c4  R9 (unmapped)      active               -    K1 share 0.2 (left out, counted)
  c6  R1 → WH1  tier 30  active               Wed  K2 share 0.5

Segment S1 forecasts on D: K1 70 / 140 / 210 / 280 (h1..h4), K2 40 each week.
Lead time 7 days, R = 7 → protection 14 days: on the Sunday D the window D+1 .. D+14
is exactly the weeks of horizons 1 and 2 (each customer orders once in each).

- WH1 K1: weekly (0.6·70 + 0.6·140)/2 = 63 → d = 9/day. Past h1 forecasts 42/week
  (0.6 × 70) vs actual 40, 44, 42, 46 → errors 2, −2, 0, −4 → RMSE √(24/4) = √6 a week
  → σd = √(6/7). Class A (0.98). Position 100 + 20 − 10 = 110.
  SS = z·√(14·6/7) = z·√12; S = 9·14 + SS = 126 + 7.114 = 133.11 → 23.11 → 3 cases of
  10 = 30 (MOQ 2 cases is below).
- WH2 K1: weekly (14 + 28)/2 = 21 → 3/day; errors 0 → σd 0 → SS 0, S = 42; no stock
  → order 42 → 5 cases = 50. Stockout risk high (position 0 < 21/2).
- WH1 K2: weekly 40 → 40/7 a day; position 14 − 4 = 10; S = 80 → 70 → 7 cases = 70;
  stockout risk: 10 − 40 = −30, high (10 < 20). Suggestions c1 20, c6 20 (40 > 10
  available): tier weights 10:30 → 2.5 / 7.5 → 2 + 7 and the last unit to the tie's
  lower id c1 → c1 3, c6 7. Each suggestion's cycle_start is the customer's order day in
  the week after D (c1 Mon D+1, c3 Fri D+5, c6 Wed D+3).
- WH2 K3: 50 on hand, no forecast → days of supply inf → overstock medium; oldest batch
  D−100 + 120 days shelf life → expires in 20 days ≤ 30 → low (> 15); never ordered
  at WH2, whose first order line is D−70 → 10 weeks ≥ 8 → dead stock low. No ABC row
  → unclassified service level.

Mid-week day D2 = Wednesday 2025-03-12 (same inputs, same origin D): see
test_mid_week_* below for the hand computation.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from scipy.stats import norm

from restock.forecasting import tables as forecasting_tables
from restock.replenishment.assemble import build_replenishment
from restock.replenishment.tables import write_replenishment
from restock.segmentation import tables as segmentation_tables

D = date(2025, 3, 9)  # a Sunday: the forecast origin of the day
D2 = date(2025, 3, 12)  # the Wednesday after: same origin, horizon 1 partly past
WEEKDAYS = {"c1": 1, "c2": 4, "c3": 5, "c4": None, "c6": 3}
WEEKS = [date(2025, 2, 10), date(2025, 2, 17), date(2025, 2, 24), date(2025, 3, 3)]  # review window
Z98 = norm.ppf(0.98)


def _insert(con, table: str, rows: list[tuple], columns: list[str]) -> None:
    frame = pd.DataFrame(rows, columns=columns)
    con.register("_rows", frame)
    con.execute(f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from _rows")
    con.unregister("_rows")


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    segmentation_tables.ensure_tables(con)
    forecasting_tables.ensure_tables(con)
    customers = [
        ("c1", "R1", 10, "active", "active"),
        ("c2", "R1", 20, "suspended", "at_risk"),
        ("c3", "R2", 5, "active", "active"),
        ("c4", "R9", 5, "active", "active"),
        ("c6", "R1", 30, "active", "active"),
    ]
    _insert(
        con,
        "analytics.customer_segments",
        [(D, c, r, t, s, life, "S1") for c, r, t, s, life in customers],
        ["as_of_date", "customer_id", "region", "tier", "customer_status", "lifecycle_state", "segment_id"],
    )
    _insert(
        con,
        "analytics.product_classes",
        [(D, "K1", "A", "smooth"), (D, "K2", "B", "smooth")],
        ["as_of_date", "sku", "abc_class", "demand_class"],
    )
    con.execute("create table marts.customers (as_of_date date, customer_id varchar, order_weekday integer)")
    _insert(
        con, "marts.customers", [(D, c, w) for c, w in WEEKDAYS.items()], ["as_of_date", "customer_id", "order_weekday"]
    )
    # Forecasts: the day's origin (h1..h4) and the four past origins' horizon 1.
    _insert(con, "analytics.forecast_runs", [(D, D)], ["as_of_date", "forecast_origin"])
    cols = [
        "forecast_origin",
        "segment_id",
        "sku",
        "period_start",
        "horizon",
        "forecast_qty",
        "lower_qty",
        "upper_qty",
        "model",
        "method",
    ]
    rows = []
    for h in range(1, 5):
        start = D + timedelta(days=1 + 7 * (h - 1))
        rows.append((D, "S1", "K1", start, h, 70.0 * h, 70.0 * h - 10, 70.0 * h + 10, "m", "refit"))
        rows.append((D, "S1", "K2", start, h, 40.0, 30.0, 50.0, "m", "refit"))
    for week in WEEKS:
        rows.append((week - timedelta(days=1), "S1", "K1", week, 1, 70.0, 60.0, 80.0, "m", "refit"))
    _insert(con, "analytics.segment_forecasts", rows, cols)
    shares = []
    for origin in [D, *(w - timedelta(days=1) for w in WEEKS)]:
        shares += [
            (origin, "S1", "K1", c, s, "own_history") for c, s in (("c1", 0.4), ("c2", 0.2), ("c3", 0.2), ("c4", 0.2))
        ]
        shares += [(origin, "S1", "K2", c, 0.5, "own_history") for c in ("c1", "c6")]
    _insert(
        con,
        "analytics.customer_forecast_shares",
        shares,
        ["forecast_origin", "segment_id", "sku", "customer_id", "share", "basis"],
    )
    # Weekly demand (requested): WH1 = c1 + c2 = 40, 44, 42, 46; WH2 = c3 = 14.
    weekly = []
    for week, (q1, q2) in zip(WEEKS, ((25, 15), (30, 14), (28, 14), (30, 16)), strict=True):
        weekly += [("c1", "K1", week, q1), ("c2", "K1", week, q2), ("c3", "K1", week, 14)]
    con.register("_weekly", pd.DataFrame(weekly, columns=["customer_id", "sku", "week_start", "requested_qty"]))
    con.execute("""create table marts.customer_sku_weekly_demand as
                   select customer_id, sku, week_start::date as week_start, requested_qty::double as requested_qty,
                          requested_qty::double as ordered_qty from _weekly""")
    lines = [
        ("c1", "K1", D - timedelta(days=3), 5.0),
        ("c3", "K1", D - timedelta(days=70), 14.0),
        ("c3", "K1", D - timedelta(days=6), 14.0),
        ("c3", "K1", D + timedelta(days=1), 9.0),
    ]  # after D: unseen
    con.register("_lines", pd.DataFrame(lines, columns=["customer_id", "sku", "order_date", "requested_qty"]))
    con.execute("""create table marts.order_lines as select customer_id, sku, order_date::date as order_date,
                   requested_qty, requested_qty as ordered_qty from _lines""")
    con.execute("""create table marts.products (as_of_date date, sku varchar, lead_time_days integer,
                   lead_time_std_days decimal(9,2), units_per_case integer, moq_cases integer,
                   unit_cost_amount decimal(18,2), shelf_life_days integer, launched_on date, is_active boolean)""")
    _insert(
        con,
        "marts.products",
        [
            (D, "K1", 7, 0, 10, 2, 50, 365, None, True),
            (D, "K2", 7, 0, 10, 1, 80, 365, None, True),
            (D, "K3", 14, 0, 10, 1, 20, 120, None, True),
        ],
        [
            "as_of_date",
            "sku",
            "lead_time_days",
            "lead_time_std_days",
            "units_per_case",
            "moq_cases",
            "unit_cost_amount",
            "shelf_life_days",
            "launched_on",
            "is_active",
        ],
    )
    con.execute("""create table marts.inventory_positions (as_of_date date, warehouse_id varchar, sku varchar,
                   on_hand_qty decimal(18,3), in_transit_qty decimal(18,3), allocated_qty decimal(18,3),
                   oldest_batch_date date)""")
    _insert(
        con,
        "marts.inventory_positions",
        [
            (D, "WH1", "K1", 100, 20, 10, D - timedelta(days=10)),
            (D, "WH1", "K2", 14, 0, 4, D - timedelta(days=5)),
            (D, "WH2", "K3", 50, 0, 0, D - timedelta(days=100)),
        ],
        ["as_of_date", "warehouse_id", "sku", "on_hand_qty", "in_transit_qty", "allocated_qty", "oldest_batch_date"],
    )
    return con


@pytest.fixture(scope="module")
def built(tmp_path_factory, config):
    con = _warehouse(tmp_path_factory.mktemp("rep") / "w.duckdb")
    frames = build_replenishment(con, D, config)
    yield con, frames
    con.close()


def _row(frame: pd.DataFrame, warehouse: str, sku: str) -> pd.Series:
    rows = frame[(frame["warehouse_id"] == warehouse) & (frame["sku"] == sku)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_plan_numbers_by_hand(built):
    _, frames = built
    plan = frames["replenishment_plan"]
    assert sorted(zip(plan["warehouse_id"], plan["sku"], strict=True)) == [
        ("WH1", "K1"),
        ("WH1", "K2"),
        ("WH2", "K1"),
        ("WH2", "K3"),
    ]
    assert (plan["as_of_date"] == D).all()
    k1 = _row(plan, "WH1", "K1")
    assert k1["forecast_weeks"] == 2 and k1["inventory_position"] == 110
    assert k1["daily_demand_mean"] == pytest.approx(9.0)
    assert k1["daily_demand_std"] == pytest.approx(math.sqrt(6 / 7))
    assert k1["error_basis"] == "rmse_h1_4w" and k1["service_level"] == 0.98
    assert k1["safety_stock"] == pytest.approx(Z98 * math.sqrt(12))
    assert k1["order_up_to"] == pytest.approx(126 + Z98 * math.sqrt(12))
    assert k1["recommended_order_qty"] == 30
    assert k1["customers"] == 3  # c1, c2, c6 (c4 unmapped)
    wh2 = _row(plan, "WH2", "K1")  # forecast only: no inventory row
    assert (wh2["on_hand_qty"], wh2["daily_demand_mean"], wh2["daily_demand_std"]) == (0, pytest.approx(3.0), 0)
    assert wh2["order_up_to"] == pytest.approx(42.0) and wh2["recommended_order_qty"] == 50
    k2 = _row(plan, "WH1", "K2")
    assert k2["daily_demand_mean"] == pytest.approx(40 / 7) and k2["recommended_order_qty"] == 70
    k3 = _row(plan, "WH2", "K3")
    assert k3["service_level"] == 0.90 and pd.isna(k3["abc_class"]) and math.isinf(k3["days_of_supply"])
    assert k3["recommended_order_qty"] == 0
    assert list(frames["unmapped_customers"]["customer_id"]) == ["c4"]


def test_suggestions_and_allocation(built):
    _, frames = built
    s = frames["customer_order_suggestions"].set_index(["warehouse_id", "sku", "customer_id"])
    assert sorted(s.index) == [("WH1", "K1", "c1"), ("WH1", "K2", "c1"), ("WH1", "K2", "c6"), ("WH2", "K1", "c3")]
    assert s["cycle_start"].to_dict() == {
        ("WH1", "K1", "c1"): D + timedelta(days=1),
        ("WH1", "K2", "c1"): D + timedelta(days=1),
        ("WH1", "K2", "c6"): D + timedelta(days=3),
        ("WH2", "K1", "c3"): D + timedelta(days=5),
    }
    assert s.loc[("WH1", "K1", "c1"), ["suggested_qty", "allocated_qty", "allocation_rule"]].tolist() == [
        28,
        28,
        "unconstrained",
    ]
    assert s.loc[("WH2", "K1", "c3"), ["suggested_qty", "allocated_qty"]].tolist() == [14, 0]  # WH2 holds no K1
    assert s.loc[("WH1", "K2", "c1"), ["suggested_qty", "allocated_qty", "allocation_rule"]].tolist() == [
        20,
        3,
        "tier_weights",
    ]
    assert s.loc[("WH1", "K2", "c6"), ["suggested_qty", "allocated_qty", "tier"]].tolist() == [20, 7, 30]


def test_alerts(built):
    _, frames = built
    got = {
        (r.warehouse_id, r.sku, r.alert_type): (r.severity, r.value) for r in frames["inventory_alerts"].itertuples()
    }
    assert got == {
        ("WH1", "K2", "stockout_risk"): ("high", pytest.approx(-30.0)),
        ("WH2", "K1", "stockout_risk"): ("high", pytest.approx(-21.0)),
        ("WH2", "K3", "overstock"): ("medium", math.inf),
        ("WH2", "K3", "expiring"): ("low", 20.0),
        ("WH2", "K3", "dead_stock"): ("low", 10.0),
    }


def test_write_replaces_the_day(built, config):
    con, frames = built
    first = write_replenishment(con, D, frames)
    again = write_replenishment(con, D, build_replenishment(con, D, config))
    assert first == again == {"replenishment_plan": 4, "customer_order_suggestions": 4, "inventory_alerts": 5}
    for table, n in first.items():
        assert con.execute(f"select count(*) from analytics.{table} where as_of_date = ?", [D]).fetchone()[0] == n


def test_default_warehouse_and_interval_fallback(built, config):
    con, _ = built
    # 4 weeks of errors: too few
    cfg = config.override({"replenishment.default_warehouse": "WH2", "replenishment.min_error_weeks": 5})
    frames = build_replenishment(con, D, cfg)
    assert frames["unmapped_customers"].empty
    wh2 = _row(frames["replenishment_plan"], "WH2", "K1")  # c3 + c4: 0.4 of the segment
    assert wh2["daily_demand_mean"] == pytest.approx((28 + 56) / 2 / 7)
    # h1 interval 60..80 → ±10 at 80 % → σ = 10 / z(0.9) per 0.2 share... summed: 0.4 × 20 / (2 z)
    assert wh2["error_basis"] == "interval_h1"
    assert wh2["daily_demand_std"] == pytest.approx(0.4 * 20 / (2 * norm.ppf(0.9)) / math.sqrt(7))


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("delete from analytics.forecast_runs", "analytics.forecast_runs has no row with as_of_date = 2025-03-09"),
        ("drop table analytics.product_classes", "analytics.product_classes does not exist"),
        ("delete from marts.inventory_positions", "marts.inventory_positions has no row"),
        ("drop table marts.customers", "marts.customers does not exist"),
    ],
)
def test_missing_input_is_named(tmp_path, config, sql, message):
    con = _warehouse(tmp_path / "w.duckdb")
    con.execute(sql)
    with pytest.raises(ValueError, match=message):
        build_replenishment(con, D, config)


# --- a mid-week day ----------------------------------------------------------------------
#
# D2 = Wednesday 2025-03-12, forecast origin D (Sunday 2025-03-09): horizon 1 is the week
# Mon 03-10 .. Sun 03-16, of which Mon..Wed are past (their orders are in the stock
# figures). Weeks: h1 03-10, h2 03-17, h3 03-24, h4 03-31. Window: T = 14 days after D2,
# 03-13 .. 03-26 (3 forecast weeks touched: h1, h2, h3).
#
# - WH1 K1: c1 (Mon) orders on 03-10 (past), 03-17 (h2) and 03-24 (h3) → 0.4·(140 + 210)
#   = 140; c2 (Thu) on 03-13 (h1) and 03-20 (h2); 03-27 is after the window → 0.2·(70 +
#   140) = 42. 182 over 14 days → d = 13/day (the old rule, mean of h1 and h2 ÷ 7, gave
#   9/day: it counted c1's past order of 03-10 and missed its order of 03-24).
#   S = 13·14 + z·√12 = 189.11, position 110 → 79.11 → 8 cases = 80.
# - WH1 K2 (flat 40 a week): c1 03-17, 03-24; c6 (Wed) 03-12 is D2 itself (taken), then
#   03-19 and 03-26 (last day of the window) → 4 × 20 = 80 → 40/7 a day.
# - WH2 K1: c3 (Fri) 03-14 and 03-21 → 0.2·(70 + 140) = 42 → 3/day.
# - Suggestions (next cycle strictly after D2): c1 03-17 → K1 0.4·140 = 56, K2 20;
#   c3 03-14 → K1 14; c6 03-19 → K2 20. (Before: every customer's horizon-1 week,
#   cycle 03-10, c1 K1 28: an order already taken suggested again.)
# - Without an order weekday (c2, c6 set to null): c2's weeks are spread over their days:
#   h1 4/7 (Thu..Sun), h2 1, h3 3/7 (03-24..26) → 0.2·(40 + 140 + 90) = 54 → WH1 K1
#   (140 + 54)/14 a day; c6's next cycle is the first week starting after D2 (03-17),
#   cycle_start 03-17, K2 20; WH1 K2 = c1 40 + c6 (h1 4/7 + h2 + h3 3/7)·20 = 80.

DAY_TABLES = (
    "analytics.customer_segments",
    "analytics.product_classes",
    "marts.customers",
    "marts.products",
    "marts.inventory_positions",
)


def _mid_week(path: Path) -> duckdb.DuckDBPyConnection:
    con = _warehouse(path)
    for table in DAY_TABLES:
        con.execute(
            f"insert into {table} by name select * replace (?::date as as_of_date) from {table} where as_of_date = ?",
            [D2, D],
        )
    con.execute("insert into analytics.forecast_runs values (?, ?)", [D2, D])
    return con


@pytest.fixture(scope="module")
def mid_week(tmp_path_factory, config):
    con = _mid_week(tmp_path_factory.mktemp("mid") / "w.duckdb")
    yield con, build_replenishment(con, D2, config)
    con.close()


def test_mid_week_plan_counts_only_the_days_after_the_day(mid_week):
    _, frames = mid_week
    plan = frames["replenishment_plan"]
    k1 = _row(plan, "WH1", "K1")
    assert k1["daily_demand_mean"] == pytest.approx(13.0)
    assert k1["weekly_forecast_qty"] == pytest.approx(91.0) and k1["forecast_weeks"] == 3
    assert k1["daily_demand_std"] == pytest.approx(math.sqrt(6 / 7))  # same review window as on D
    assert k1["order_up_to"] == pytest.approx(182 + Z98 * math.sqrt(12))
    assert k1["recommended_order_qty"] == 80
    assert _row(plan, "WH1", "K2")["daily_demand_mean"] == pytest.approx(40 / 7)
    assert _row(plan, "WH2", "K1")["daily_demand_mean"] == pytest.approx(3.0)


def test_mid_week_suggestions_are_for_the_next_cycle(mid_week):
    _, frames = mid_week
    s = frames["customer_order_suggestions"].set_index(["warehouse_id", "sku", "customer_id"])
    assert s[["cycle_start", "forecast_qty", "suggested_qty", "allocated_qty"]].to_dict("index") == {
        ("WH1", "K1", "c1"): {
            "cycle_start": date(2025, 3, 17),
            "forecast_qty": pytest.approx(56.0),
            "suggested_qty": 56,
            "allocated_qty": 56,
        },
        ("WH1", "K2", "c1"): {
            "cycle_start": date(2025, 3, 17),
            "forecast_qty": pytest.approx(20.0),
            "suggested_qty": 20,
            "allocated_qty": 3,
        },
        ("WH1", "K2", "c6"): {
            "cycle_start": date(2025, 3, 19),
            "forecast_qty": pytest.approx(20.0),
            "suggested_qty": 20,
            "allocated_qty": 7,
        },
        ("WH2", "K1", "c3"): {
            "cycle_start": date(2025, 3, 14),
            "forecast_qty": pytest.approx(14.0),
            "suggested_qty": 14,
            "allocated_qty": 0,
        },
    }
    assert (s["cycle_start"] > D2).all()


def test_mid_week_without_an_order_weekday(tmp_path, config):
    con = _mid_week(tmp_path / "w.duckdb")
    con.execute("update marts.customers set order_weekday = null where customer_id in ('c2', 'c6')")
    frames = build_replenishment(con, D2, config)
    plan = frames["replenishment_plan"]
    assert _row(plan, "WH1", "K1")["daily_demand_mean"] == pytest.approx((140 + 54) / 14)
    assert _row(plan, "WH1", "K2")["daily_demand_mean"] == pytest.approx(80 / 14)
    s = frames["customer_order_suggestions"].set_index(["warehouse_id", "sku", "customer_id"])
    assert s.loc[("WH1", "K2", "c6"), ["cycle_start", "suggested_qty"]].tolist() == [date(2025, 3, 17), 20]


def test_min_daily_demand_comes_from_the_config(built, config):
    con, _ = built
    assert config.replenishment.alerts.min_daily_demand == 0.1  # restock.yaml
    cfg = config.override({"replenishment.alerts.min_daily_demand": 6.0})  # above WH1 K2 (40/7) and WH2 K1 (3)
    got = {
        (r.warehouse_id, r.sku, r.alert_type) for r in build_replenishment(con, D, cfg)["inventory_alerts"].itertuples()
    }
    assert got == {("WH2", "K3", "overstock"), ("WH2", "K3", "expiring"), ("WH2", "K3", "dead_stock")}


def test_allocation_rules_come_from_the_config(built, config):
    con, _ = built
    # WH1 K2 is short (40 suggested, 10 available): caps per tier bind before the tier weights.
    cfg = config.override({"replenishment.allocation.cap_qty": {10: 2, 30: 5}})
    s = build_replenishment(con, D, cfg)["customer_order_suggestions"].set_index(["warehouse_id", "sku", "customer_id"])
    assert s.loc[[("WH1", "K2", "c1"), ("WH1", "K2", "c6")], "allocated_qty"].tolist() == [2, 5]
    cfg = config.override({"replenishment.allocation.tier_weights": {5: 1, 10: 1, 20: 1, 30: 1}})
    s = build_replenishment(con, D, cfg)["customer_order_suggestions"].set_index(["warehouse_id", "sku", "customer_id"])
    assert s.loc[[("WH1", "K2", "c1"), ("WH1", "K2", "c6")], "allocated_qty"].tolist() == [5, 5]


def test_policy_comes_from_the_config(built, config):
    con, _ = built
    plan = build_replenishment(con, D, config.override({"replenishment.policy": "min_max"}))["replenishment_plan"]
    k1 = _row(plan, "WH1", "K1")  # min-max protects the lead time only: window 7 days, horizon 1
    assert k1["policy"] == "min_max" and k1["forecast_weeks"] == 1
    assert k1["daily_demand_mean"] == pytest.approx(0.6 * 70 / 7)


# --- what is stored: suggestions of at least one carton ----------------------------------
#
# c7 (R1 → WH1, tier 1, active, orders Mondays) has shares K1 0.005 and K2 0.01 on D: its
# next-cycle forecasts are 0.35 and 0.4 cartons, rounded to 0. K2 is short at WH1 (40
# suggested, 10 available), so c7's K2 row goes through the tier-weights rationing with
# an upper bound of 0: it gets 0 and changes nobody's share (c1 3, c6 7 as before).


def _with_small_customer(path: Path) -> duckdb.DuckDBPyConnection:
    con = _warehouse(path)
    con.execute(
        "insert into analytics.customer_segments (as_of_date, customer_id, region, tier, customer_status, "
        "lifecycle_state, segment_id) values (?, 'c7', 'R1', 1, 'active', 'active', 'S1')",
        [D],
    )
    con.execute("insert into marts.customers values (?, 'c7', 1)", [D])
    con.execute(
        "insert into analytics.customer_forecast_shares (forecast_origin, segment_id, sku, customer_id, share, basis) "
        "values (?, 'S1', 'K1', 'c7', 0.005, 'own_history'), (?, 'S1', 'K2', 'c7', 0.01, 'own_history')",
        [D, D],
    )
    return con


def _sums(frame: pd.DataFrame, keys: list[str]) -> dict:
    return frame.groupby(keys)[["suggested_qty", "allocated_qty"]].sum().to_dict("index")


def test_zero_suggestions_are_not_stored_and_the_totals_do_not_change(tmp_path, config):
    from restock.replenishment import inputs
    from restock.replenishment.assemble import allocated_suggestions

    con = _with_small_customer(tmp_path / "w.duckdb")
    customers, _ = inputs.read_customers(con, D, config)
    # Before: every customer × SKU with a positive forecast, zero suggestions included.
    before = allocated_suggestions(con, D, config, customers, inputs.read_inventory(con, D))
    zero = before[before["suggested_qty"] == 0].set_index(["sku", "customer_id"])
    assert sorted(zero.index) == [("K1", "c7"), ("K2", "c7")]
    assert zero["forecast_qty"].tolist() == [pytest.approx(0.35), pytest.approx(0.4)]
    assert zero["allocated_qty"].tolist() == [0, 0]
    assert zero.loc[("K2", "c7"), "allocation_rule"] == "tier_weights"  # rationed SKU, 0 of 0

    write_replenishment(con, D, build_replenishment(con, D, config))
    after = con.execute(
        "select * from analytics.customer_order_suggestions where as_of_date = ? order by warehouse_id, sku, customer_id",
        [D],
    ).df()
    assert (after["suggested_qty"] > 0).all() and "c7" not in set(after["customer_id"])
    kept = before[before["suggested_qty"] > 0].reset_index(drop=True)
    assert len(after) == len(kept) == 4 and len(before) == 6
    dates = {c: pd.to_datetime(kept[c]) for c in ("as_of_date", "cycle_start")}
    # the same rows, value for value
    pd.testing.assert_frame_equal(after[kept.columns], kept.assign(**dates), check_dtype=False)
    for keys in (["sku"], ["customer_id"], ["warehouse_id", "sku"]):
        assert _sums(after, keys) == {k: v for k, v in _sums(before, keys).items() if k != "c7"}, keys
    rationed = after.set_index(["warehouse_id", "sku", "customer_id"])
    assert rationed.loc[("WH2", "K1", "c3"), ["suggested_qty", "allocated_qty"]].tolist() == [14, 0]  # kept
    assert rationed.loc[[("WH1", "K2", "c1"), ("WH1", "K2", "c6")], "allocated_qty"].tolist() == [3, 7]
    con.close()


def test_zero_rows_of_an_older_warehouse_are_deleted_once_and_a_rerun_counts_once(tmp_path, config):
    from restock.replenishment.tables import drop_zero_suggestions, run_days

    con = _with_small_customer(tmp_path / "w.duckdb")
    write_replenishment(con, D, build_replenishment(con, D, config))
    # An older Restock stored zero suggestions, here on a past day and on D.
    past = D - timedelta(days=1)
    con.execute(
        """insert into analytics.customer_order_suggestions
           select * replace (?::date as as_of_date) from analytics.customer_order_suggestions where as_of_date = ?""",
        [past, D],
    )
    con.execute(
        """insert into analytics.customer_order_suggestions values
           (?, 'WH1', 'c7', 'K1', ?, 1, 0.35, 0, 0, 'unconstrained'),
           (?, 'WH1', 'c7', 'K2', ?, 1, 0.4, 0, 0, 'tier_weights'),
           (?, 'WH1', 'c7', 'K2', ?, 1, 0.4, 0, 0, 'tier_weights')""",
        [past, past + timedelta(days=1), past, past + timedelta(days=1), D, D + timedelta(days=1)],
    )

    def count(day: date) -> tuple[int, int]:
        return con.execute(
            "select count(*), count(*) filter (where suggested_qty = 0) from analytics.customer_order_suggestions "
            "where as_of_date = ?",
            [day],
        ).fetchone()

    assert count(past) == (6, 2) and count(D) == (5, 1)
    totals, skipped = run_days(con, [D], config)  # deletes the zero rows of every day, then rewrites D
    assert skipped == [] and totals["customer_order_suggestions"] == 4
    assert count(past) == (4, 0) and count(D) == (4, 0)
    assert drop_zero_suggestions(con) == 0  # nothing left: idempotent
    run_days(con, [D], config)
    assert count(past) == (4, 0) and count(D) == (4, 0)  # a re-run of a day never counts twice
    con.close()
