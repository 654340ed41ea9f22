"""The KPI paragraph `make demo` prints (restock/report.py) from serving.duckdb's views."""

from __future__ import annotations

from datetime import date

import duckdb

from restock.report import kpi_line


def _serving() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        """create table kpis_latest as select * from (values
           (date '2025-12-31', 'total', 13, 0.984477, 0.993085, 37, 52090.0, 8684391.93::decimal(18,2), 33.54, 10.44,
            0.992128, 0.924232, 0.087004, 0.024909),
           (date '2025-12-31', 'total', 1, 0.5, 0.5, 3, 52090.0, 8684391.93::decimal(18,2), 35.9, 10.6,
            0.99, 0.92, null, null),
           (date '2025-12-31', 'warehouse', 13, 0.1, 0.1, 1, 1.0, 1.0::decimal(18,2), 1.0, 1.0, 0.1, 0.1, 0.1, 0.1))
           as t(as_of_date, level, window_weeks, quantity_fill_rate, line_fill_rate, stockout_days, on_hand_qty,
                inventory_value, inventory_turnover, days_of_supply, achieved_service_level, target_service_level,
                forecast_wape, forecast_bias)"""
    )
    con.execute(
        """create table replenishment_replay_latest as select * from (values
           ('total', 13, -0.083998, 0.979374, 0.984477, 214, 37), ('warehouse', 13, 0.5, 0.1, 0.1, 1, 1))
           as t(level, replay_weeks, avg_on_hand_change, plan_fill_rate, actual_fill_rate, plan_stockout_days,
                actual_stockout_days)"""
    )
    return con


def test_the_kpi_line_reads_the_total_of_the_longest_window_and_the_replay():
    con = _serving()
    line = kpi_line(con, with_replay=True)
    assert line.startswith(
        f"KPIs {date(2025, 12, 31)} (last 13 weeks, all warehouses): fill rate 98.4 %".replace(" %", "%")
    )
    assert "(99.3% of the lines in full), 37 stockout SKU-days, on hand 52,090 cartons worth 8,684,392" in line
    assert "turnover 33.5 a year, 10.4 days of supply, cycle service level 99.2% (target 92.4%)" in line
    assert "forecast WAPE 8.7%, bias +2.5%." in line
    assert (
        "Replay of the last 13 weeks: following the plan would have held 8.4% less stock at a fill rate of "
        "97.9% (actual 98.4%; stockout SKU-days 214 vs 37)." in line
    )
    assert "Replay" not in kpi_line(con, with_replay=False)


def test_without_a_total_row_the_line_says_so():
    con = _serving()
    con.execute("delete from kpis_latest where level = 'total'")
    assert kpi_line(con, with_replay=True) == "KPIs: no total row published yet."
