"""analytics.replenishment_replay read from a real DuckDB warehouse: the replay of each
warehouse × SKU is the simulation of restock.performance.replay on the warehouse's own
rows, the actual columns are worked out by hand, the levels add up, a delisted SKU
orders nothing and nothing after the day is read.

One warehouse WH01 (region R1), replay_weeks 3: D = 2024-01-21, window 2024-01-01 ..
01-21 (days 1..21), start = the end of 2023-12-31.
  S1: 10 requested every day by C1; supplied 10 except days 5 and 6 (0); actual on hand
      25 every day except days 5 and 6 (0); start on hand 30, in transit 20. Plan every
      day: periodic_review, s = S = 60, lead time 2 days, cases of 10.
  S2: delisted (is_active false): 5 requested on days 2 and 9, supplied; actual on hand
      10 every day; start on hand 10. Same plan.
  C9 (region R9, no warehouse) requests 100 of S1 on day 3: in no row.
  Day 22: requests and stock that must not count.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from restock.config import RestockConfig
from restock.performance.replay import review_mask, simulate_sku
from restock.performance.replay_table import days_to_replay, run_replay_days
from restock.warehouse import connect

START = date(2023, 12, 31)
D = date(2024, 1, 21)
CONFIG = RestockConfig().override(
    {"kpis.replay_weeks": 3, "replenishment.region_warehouse": {"R1": "WH01"}, "replenishment.review_period_days": 7}
)


def day(n: int) -> date:
    return START + timedelta(days=n)


def s1_on_hand(n: int) -> float:
    return 0.0 if n in (5, 6) else 25.0


@pytest.fixture
def warehouse(tmp_path) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "warehouse.duckdb")
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists analytics")
    con.execute(
        "create table marts.order_lines (customer_id varchar, sku varchar, order_date date, "
        "requested_qty decimal(18,3), ordered_qty decimal(18,3))"
    )
    con.execute("create table marts.customers (as_of_date date, customer_id varchar, region varchar, tier integer)")
    con.execute(
        "create table marts.inventory_positions (as_of_date date, warehouse_id varchar, sku varchar, "
        "on_hand_qty decimal(18,3), in_transit_qty decimal(18,3))"
    )
    con.execute("create table marts.products (as_of_date date, sku varchar, unit_cost_amount decimal(18,2))")
    con.execute(
        "create table analytics.replenishment_plan (as_of_date date, warehouse_id varchar, sku varchar, "
        "policy varchar, reorder_point double, order_up_to double, lead_time_days double, units_per_case double, "
        "moq_cases double, is_active boolean)"
    )
    for n in range(0, 23):
        con.executemany("insert into marts.customers values (?, ?, ?, 1)", [(day(n), "C1", "R1"), (day(n), "C9", "R9")])
        con.executemany("insert into marts.products values (?, ?, ?)", [(day(n), "S1", 3), (day(n), "S2", 2)])
        later = n == 22
        con.execute(
            "insert into marts.inventory_positions values (?, 'WH01', 'S1', ?, ?)",
            [day(n), 999 if later else (30 if n == 0 else s1_on_hand(n)), 20 if n == 0 else 0],
        )
        con.execute("insert into marts.inventory_positions values (?, 'WH01', 'S2', 10, 0)", [day(n)])
        if n >= 1:
            con.execute(
                "insert into marts.order_lines values ('C1', 'S1', ?, ?, ?)",
                [day(n), 50 if later else 10, 50 if later else (0 if n in (5, 6) else 10)],
            )
            con.executemany(
                "insert into analytics.replenishment_plan values (?, 'WH01', ?, 'periodic_review', 60, 60, 2, 10, 0, ?)",
                [(day(n), "S1", True), (day(n), "S2", False)],
            )
    con.executemany(
        "insert into marts.order_lines values (?, ?, ?, ?, ?)",
        [("C1", "S2", day(2), 5, 5), ("C1", "S2", day(9), 5, 5), ("C9", "S1", day(3), 100, 100)],
    )
    yield con
    con.close()


def replay_rows(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    frame = con.execute("select * from analytics.replenishment_replay where as_of_date = ?", [D]).df()
    return {r["key"]: r for r in frame.to_dict("records")}


def test_the_replay_of_the_warehouse_rows(warehouse):
    assert run_replay_days(warehouse, [D], CONFIG) == 4  # S1, S2, WH01, total
    rows = replay_rows(warehouse)
    s1, s2 = rows["WH01|S1"], rows["WH01|S2"]
    assert s1["window_start"].date() == day(1) and s1["replay_weeks"] == 3

    # The plan side is the simulation of the same inputs, read here by hand.
    expected = simulate_sku(
        [10.0] * 21,
        policy="periodic_review",
        reorder_point=60,
        order_up_to=60,
        lead_time_days=2,
        review_days=review_mask(21, "periodic_review", 7),
        units_per_case=10,
        start_on_hand=30,
        start_in_transit=20,
    )
    assert expected.orders > 0  # the case is not empty
    assert s1["plan_supplied_qty"] == expected.served_qty
    assert s1["plan_stockout_days"] == expected.stockout_days
    assert s1["plan_avg_on_hand_qty"] == pytest.approx(expected.avg_on_hand_qty)
    assert (s1["plan_orders"], s1["plan_ordered_qty"]) == (expected.orders, expected.ordered_qty)
    assert s1["plan_end_on_hand_qty"] == expected.end_on_hand_qty
    assert s1["plan_fill_rate"] == pytest.approx(expected.served_qty / 210)
    assert s1["plan_avg_inventory_value"] == pytest.approx(round(expected.avg_on_hand_qty * 3, 2))
    assert (s1["start_on_hand_qty"], s1["start_in_transit_qty"]) == (30, 20)

    # What happened, by hand: 210 requested, 190 supplied, stockouts on days 5 and 6.
    assert (s1["demand_qty"], s1["actual_supplied_qty"], s1["actual_stockout_days"]) == (210, 190, 2)
    assert s1["actual_fill_rate"] == pytest.approx(190 / 210)
    assert s1["actual_avg_on_hand_qty"] == pytest.approx(25 * 19 / 21)
    assert s1["avg_on_hand_change"] == pytest.approx(expected.avg_on_hand_qty / (25 * 19 / 21) - 1)

    # S2 is delisted: the replay orders nothing and sells its 10 cartons.
    assert (s2["plan_orders"], s2["plan_ordered_qty"], s2["plan_supplied_qty"]) == (0, 0, 10)
    assert (s2["demand_qty"], s2["actual_supplied_qty"], s2["actual_avg_on_hand_qty"]) == (10, 10, 10)

    # C9's region has no warehouse; the warehouse and the total add up.
    for level_row in (rows["WH01"], rows["all"]):
        for column in ("demand_qty", "actual_supplied_qty", "plan_supplied_qty", "plan_orders", "plan_avg_on_hand_qty"):
            assert level_row[column] == pytest.approx(s1[column] + s2[column]), column
        assert level_row["plan_fill_rate"] == pytest.approx((expected.served_qty + 10) / 220)


def test_a_day_reads_nothing_after_it_and_a_rerun_replaces_it(warehouse):
    run_replay_days(warehouse, [D], CONFIG)
    before = warehouse.execute("select * from analytics.replenishment_replay order by all").fetchall()
    warehouse.execute("delete from marts.order_lines where order_date > ?", [D])
    warehouse.execute("delete from marts.inventory_positions where as_of_date > ?", [D])
    run_replay_days(warehouse, [D], CONFIG)
    assert warehouse.execute("select * from analytics.replenishment_replay order by all").fetchall() == before


def test_only_the_days_a_run_can_publish_are_replayed():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
    assert days_to_replay(days, 28) == days[-28:]
    assert days_to_replay([D], 28) == [D]
    assert days_to_replay([], 28) == []


def test_a_plan_younger_than_the_window_is_replayed_from_its_first_day(warehouse):
    warehouse.execute("delete from analytics.replenishment_plan where as_of_date < ?", [day(15)])
    run_replay_days(warehouse, [D], CONFIG)
    s1 = replay_rows(warehouse)["WH01|S1"]
    assert s1["window_start"].date() == day(15)
    # The replay starts from the actual stock at the end of day 14 (25, nothing in transit).
    assert (s1["start_on_hand_qty"], s1["start_in_transit_qty"], s1["demand_qty"]) == (25, 0, 70)
    assert s1["plan_days"] == 7
    warehouse.execute("delete from analytics.replenishment_plan")
    run_replay_days(warehouse, [D], CONFIG)
    assert replay_rows(warehouse) == {}  # no plan in the window: nothing to replay
