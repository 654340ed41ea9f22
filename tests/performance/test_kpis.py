"""analytics.kpis on a hand-made warehouse: every figure worked out by hand below.

One warehouse WH01 (regions R1), SKUs S1 and S2, two weeks 2024-01-01 (Mon) ..
2024-01-14 (Sun) = days 1..14; D = day 14; windows of 1 and 2 weeks; review cycles of
7 days. Customers: C1 tier 5 and C2 tier 10 in R1; C3 in R9, which no warehouse
serves (left out of every row). Rows dated day 15 must not count (point in time).

Order lines (customer sku day requested/supplied):
  S1: C1 d1 10/10, C2 d1 20/20, C1 d3 10/10, C1 d9 10/5, C2 d9 20/15, C2 d10 5/0, C1 d13 4/4
  S2: C1 d11 3/0
  C3 (unmapped): S1 d5 100/100; day 15: C1 S1 50/50
On hand (end of day) S1: 70 70 60 60 60 60 60 60 0 0 50 - 46 46 (day 12: no snapshot of
WH01 at all); S2: 5 on days 1..8, then missing from the snapshots (= 0). Day 15: S1 999.
Unit cost on D: S1 10.00, S2 2.00. Plan on D: S1 order_up_to 40, service 0.95, class B;
S2 order_up_to 10, service 0.90, class C.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from restock.config import RestockConfig
from restock.performance.kpis import cycle_days, run_kpi_days
from restock.warehouse import connect

DAY1 = date(2024, 1, 1)
D = date(2024, 1, 14)


def day(n: int) -> date:
    return DAY1 + timedelta(days=n - 1)


LINES = [  # customer, sku, day, requested, supplied
    ("C1", "S1", 1, 10, 10),
    ("C2", "S1", 1, 20, 20),
    ("C1", "S1", 3, 10, 10),
    ("C1", "S1", 9, 10, 5),
    ("C2", "S1", 9, 20, 15),
    ("C2", "S1", 10, 5, 0),
    ("C1", "S1", 13, 4, 4),
    ("C1", "S2", 11, 3, 0),
    ("C3", "S1", 5, 100, 100),
    ("C1", "S1", 15, 50, 50),
]
S1_ON_HAND = [70, 70, 60, 60, 60, 60, 60, 60, 0, 0, 50, None, 46, 46, 999]


@pytest.fixture
def warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "warehouse.duckdb")
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists analytics")
    con.execute(
        "create table marts.order_lines (customer_id varchar, sku varchar, order_date date, "
        "requested_qty decimal(18,3), ordered_qty decimal(18,3))"
    )
    con.executemany(
        "insert into marts.order_lines values (?, ?, ?, ?, ?)", [(c, s, day(n), r, o) for c, s, n, r, o in LINES]
    )
    con.execute("create table marts.customers (as_of_date date, customer_id varchar, region varchar, tier integer)")
    for n in range(1, 16):
        con.executemany(
            "insert into marts.customers values (?, ?, ?, ?)",
            [(day(n), "C1", "R1", 5), (day(n), "C2", "R1", 10), (day(n), "C3", "R9", 1)],
        )
    con.execute(
        "create table marts.inventory_positions (as_of_date date, warehouse_id varchar, sku varchar, "
        "on_hand_qty decimal(18,3))"
    )
    for n, on_hand in enumerate(S1_ON_HAND, 1):
        if on_hand is not None:
            con.execute("insert into marts.inventory_positions values (?, 'WH01', 'S1', ?)", [day(n), on_hand])
        if n <= 8:
            con.execute("insert into marts.inventory_positions values (?, 'WH01', 'S2', 5)", [day(n)])
    con.execute("create table marts.products (as_of_date date, sku varchar, unit_cost_amount decimal(18,2))")
    for n in range(1, 16):
        con.executemany("insert into marts.products values (?, ?, ?)", [(day(n), "S1", 10), (day(n), "S2", 2)])
    con.execute(
        "create table analytics.replenishment_plan (as_of_date date, warehouse_id varchar, sku varchar, "
        "order_up_to double, service_level double, abc_class varchar)"
    )
    con.executemany(
        "insert into analytics.replenishment_plan values (?, 'WH01', ?, ?, ?, ?)",
        [(D, "S1", 40, 0.95, "B"), (D, "S2", 10, 0.90, "C")],
    )
    con.execute("create table analytics.product_classes (as_of_date date, sku varchar, abc_class varchar)")
    con.executemany("insert into analytics.product_classes values (?, ?, ?)", [(D, "S1", "B"), (D, "S2", "C")])
    con.execute(
        "create table analytics.forecast_accuracy (as_of_date date, level varchar, key varchar, horizon integer, "
        "wape double, bias double)"
    )
    con.executemany(
        "insert into analytics.forecast_accuracy values (?, ?, ?, ?, ?, ?)",
        [(D, "warehouse", "WH01", 1, 0.2, -0.1), (D, "total", "all", 1, 0.15, 0.05), (D, "total", "all", 2, 0.9, 0.9)],
    )
    yield con
    con.close()


CONFIG = RestockConfig().override(
    {
        "kpis.windows_weeks": [1, 2],
        "accuracy.window_weeks": 2,
        "replenishment.region_warehouse": {"R1": "WH01"},
        "replenishment.review_period_days": 7,
    }
)


def rows(con: duckdb.DuckDBPyConnection, level: str, weeks: int) -> dict[str, dict]:
    frame = con.execute(
        "select * from analytics.kpis where as_of_date = ? and level = ? and window_weeks = ?", [D, level, weeks]
    ).df()
    return {r["key"]: r for r in frame.to_dict("records")}


def test_kpis_by_hand(warehouse):
    written = run_kpi_days(warehouse, [D], CONFIG)
    # per window: 2 SKUs + 1 warehouse + 1 total + 2 classes + 2 tiers
    assert written == 2 * 8

    s1, s2 = rows(warehouse, "warehouse_sku", 2)["WH01|S1"], rows(warehouse, "warehouse_sku", 2)["WH01|S2"]
    assert s1["window_start"].date() == day(1)
    assert (s1["order_lines"], s1["requested_qty"], s1["supplied_qty"]) == (7, 79, 64)
    assert s1["quantity_fill_rate"] == pytest.approx(64 / 79)
    assert s1["line_fill_rate"] == pytest.approx(4 / 7)  # d1 twice, d3, d13 in full
    assert s1["stockout_days"] == 2  # d9, d10: requests and 0 on hand
    # 13 snapshot days (day 12 has none): 70+70+6x60+0+0+50+46+46 = 642
    assert s1["avg_on_hand_qty"] == pytest.approx(642 / 13)
    assert s1["on_hand_qty"] == 46
    assert float(s1["inventory_value"]) == 460.00
    assert float(s1["avg_inventory_value"]) == round(642 / 13 * 10, 2)
    assert s1["overstock_qty"] == 6 and float(s1["overstock_value"]) == 60.00  # 46 above order-up-to 40
    assert float(s1["cogs_value"]) == 640.00
    assert s1["inventory_turnover"] == pytest.approx(640 / (642 / 13 * 10) * 365 / 14)
    assert s1["days_of_supply"] == pytest.approx(46 / (79 / 14))
    # cycles d1..d7 (requests, no stockout) and d8..d14 (stockouts d9, d10)
    assert (s1["demand_cycles"], s1["served_cycles"], s1["achieved_service_level"]) == (2, 1, 0.5)
    assert s1["target_service_level"] == 0.95 and s1["abc_class"] == "B"

    # S2 left the snapshots after day 8: 0 on hand, so its request on d11 is a stockout
    assert (s2["requested_qty"], s2["supplied_qty"], s2["stockout_days"]) == (3, 0, 1)
    assert s2["avg_on_hand_qty"] == pytest.approx(40 / 13)
    assert s2["on_hand_qty"] == 0 and s2["quantity_fill_rate"] == 0
    assert (s2["demand_cycles"], s2["served_cycles"]) == (1, 0)

    (wh,) = rows(warehouse, "warehouse", 2).values()
    (total,) = rows(warehouse, "total", 2).values()
    for row in (wh, total):  # C3 (region R9) is in no row
        assert (row["requested_qty"], row["supplied_qty"], row["stockout_days"]) == (82, 64, 3)
        assert row["achieved_service_level"] == pytest.approx(1 / 3)
        assert row["target_service_level"] == pytest.approx((0.95 * 2 + 0.90 * 1) / 3)
        assert row["avg_on_hand_qty"] == pytest.approx(682 / 13)
        assert row["inventory_turnover"] == pytest.approx(640 / (642 / 13 * 10 + 40 / 13 * 2) * 365 / 14)
    assert (wh["forecast_wape"], wh["forecast_bias"]) == (0.2, -0.1)
    assert (total["forecast_wape"], total["forecast_bias"]) == (0.15, 0.05)  # horizon 1, not 2

    classes = rows(warehouse, "abc_class", 2)
    assert classes["B"]["requested_qty"] == 79 and classes["C"]["achieved_service_level"] == 0

    tiers = rows(warehouse, "tier", 2)
    # tier 5 = C1: S1 10/10, 10/10, 10/5, 4/4 and S2 3/0; tier 10 = C2: 20/20, 20/15, 5/0
    assert (tiers["5"]["requested_qty"], tiers["5"]["supplied_qty"], tiers["5"]["order_lines"]) == (37, 29, 5)
    assert tiers["5"]["line_fill_rate"] == pytest.approx(3 / 5)
    assert tiers["10"]["quantity_fill_rate"] == pytest.approx(35 / 45)
    assert tiers["10"]["on_hand_qty"] is None or tiers["10"]["on_hand_qty"] != tiers["10"]["on_hand_qty"]

    week = rows(warehouse, "warehouse_sku", 1)["WH01|S1"]  # d8..d14
    assert week["window_start"].date() == day(8)
    assert (week["order_lines"], week["requested_qty"], week["supplied_qty"]) == (4, 39, 24)
    assert week["line_fill_rate"] == pytest.approx(1 / 4)
    assert week["avg_on_hand_qty"] == pytest.approx(202 / 6)  # 60 0 0 50 46 46
    assert (week["demand_cycles"], week["served_cycles"]) == (1, 0)
    assert week["inventory_turnover"] == pytest.approx(240 / (202 / 6 * 10) * 365 / 7)
    # forecast accuracy only on the window of the review (accuracy.window_weeks = 2)
    (total_week,) = rows(warehouse, "total", 1).values()
    assert total_week["forecast_wape"] != total_week["forecast_wape"]  # NaN


def test_a_rerun_replaces_the_day_and_other_days_stay(warehouse):
    run_kpi_days(warehouse, [D - timedelta(days=1), D], CONFIG)
    before = warehouse.execute("select * from analytics.kpis order by all").fetchall()
    assert {r[0] for r in before} == {D - timedelta(days=1), D}
    run_kpi_days(warehouse, [D], CONFIG)
    assert warehouse.execute("select * from analytics.kpis order by all").fetchall() == before


def test_a_day_reads_nothing_after_it(warehouse):
    run_kpi_days(warehouse, [D], CONFIG)
    with_later = warehouse.execute("select * from analytics.kpis order by all").fetchall()
    warehouse.execute("delete from marts.order_lines where order_date > ?", [D])
    warehouse.execute("delete from marts.inventory_positions where as_of_date > ?", [D])
    run_kpi_days(warehouse, [D], CONFIG)
    assert warehouse.execute("select * from analytics.kpis order by all").fetchall() == with_later


def test_cycle_days():
    assert (cycle_days(7), cycle_days(3.4), cycle_days(0.2), cycle_days(0)) == (7, 3, 1, 7)
