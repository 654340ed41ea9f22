"""restock.asset_charts: the Markdown of the asset pages' charts, built from a real
DuckDB warehouse (tables made by Restock's own DDL, rows written here): one PNG per
chart, small, and tables whose numbers are the warehouse rows of the day (never a row
dated after it); a chart that fails is left out with a warning."""

from __future__ import annotations

import base64
import logging
import re
import struct
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from restock.asset_charts import (
    AT_RISK_SKUS,
    DPI,
    TRACKING_SIGNAL_REVIEWS,
    TRACKING_SIGNAL_SKUS,
    demand_forecast_charts,
    forecast_accuracy_charts,
    kpi_charts,
    replenishment_charts,
)
from restock.config import load_config
from restock.forecasting.tables import ensure_tables as ensure_forecast_tables
from restock.performance.kpis import ensure_table as ensure_kpi_table
from restock.publish.daily_report import fmt_number, fmt_share
from restock.replenishment.tables import ensure_tables as ensure_replenishment_tables
from restock.settings import PROJECT_ROOT

DAY = date(2024, 3, 31)  # a Sunday: the week of 03-25 is complete, the forecast origin of the day
ORIGINS = [DAY - timedelta(weeks=k) for k in range(15, -1, -1)]  # weekly origins up to DAY
LATER = DAY + timedelta(days=7)  # rows of a later day: never charted
SKU_DEMAND = {f"S{i:02d}": 1000 - 60 * i for i in range(1, 15)}  # S01 has the most demand
MAX_PNG = 60_000


@pytest.fixture(scope="module")
def config():
    return load_config(PROJECT_ROOT / "restock.yaml")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("asset_charts") / "w.duckdb"
    con = duckdb.connect(str(path))
    try:
        ensure_forecast_tables(con)
        ensure_replenishment_tables(con)
        ensure_kpi_table(con)
        _demand_and_forecasts(con)
        _accuracy(con)
        _plan(con)
        _kpis(con)
    finally:
        con.close()
    return path


@pytest.fixture()
def con(warehouse):
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()


def _demand_and_forecasts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists marts")
    con.execute(
        "create table marts.customer_sku_weekly_demand (customer_id varchar, sku varchar, week_start date, "
        "ordered_qty decimal(38,3), requested_qty decimal(38,3), order_line_count bigint, customer_active_days bigint)"
    )
    weeks = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(14)]  # 01-01 .. 04-01 (not complete on DAY)
    for k, week in enumerate(weeks):
        for sku, base in SKU_DEMAND.items():
            for customer in ("C1", "C2"):
                qty = (base + 10 * k) / 2
                con.execute(
                    "insert into marts.customer_sku_weekly_demand values (?, ?, ?, ?, ?, 1, 1)",
                    [customer, sku, week, qty - 1, qty],
                )
    for origin in [*ORIGINS, LATER]:
        con.execute("insert into analytics.forecast_runs values (?, ?)", [origin, origin])
        horizons = 4 if origin >= DAY else 1
        for h in range(1, horizons + 1):
            start = origin + timedelta(days=1 + 7 * (h - 1))
            bump = 10_000 if origin == LATER else 0
            rows = [("total", "total", 9000.0 + h + bump)] + [
                ("sku", sku, base + 0.5 * h + bump) for sku, base in SKU_DEMAND.items()
            ]
            for level, key, qty in rows:
                con.execute(
                    "insert into analytics.level_forecasts (forecast_origin, level, key, period_start, horizon, "
                    "forecast_qty, lower_qty, upper_qty, base_qty, model, method) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ets', 'bottom_up')",
                    [origin, level, key, start, h, qty, 0.8 * qty, 1.2 * qty, qty],
                )


def _accuracy(con: duckdb.DuckDBPyConnection) -> None:
    for i, origin in enumerate([*ORIGINS, LATER]):
        total_signal = 5.0 if origin == LATER else (i % 7) - 3.0 + 0.25
        con.execute(
            "insert into analytics.accuracy_reviews values (?, 'total', 'total', 1, 13, 13, 9000, 9100, "
            "0.1, 0.8, 0.01, ?, ?, 0.8)",
            [origin, total_signal, abs(total_signal) > 4],
        )
        for j, (sku, demand) in enumerate(SKU_DEMAND.items()):
            signal = (j % 5) * 2.0 - 4.5 + (0.1 if origin == DAY else 0.0)  # -4.5 .. 3.5 (+0.1 on DAY)
            con.execute(
                "insert into analytics.accuracy_reviews values (?, 'sku', ?, 1, 13, 13, ?, ?, 0.2, 0.9, ?, ?, ?, 0.7)",
                [origin, sku, demand * 13, demand * 13 * 1.05, 0.05, signal, abs(signal) > 4],
            )


PLAN_SQL = (
    "insert into analytics.replenishment_plan values (?, ?, ?, ?, 0, 0, ?, ?, 2.0, ?, 1, 0.95, ?, ?, ?, ?, ?, "
    "'periodic_review', 'A', 10, 1, 5, ?, 2, 70, 5, 'rmse_h1_8w', 3)"
)


def _plan(con: duckdb.DuckDBPyConnection) -> None:
    # 12 warehouse x SKU with demand, days of supply 1.5 .. 12.5; the inactive one and the
    # one without demand have fewer days but are not at risk; a later day has other rows.
    for i in range(12):
        warehouse, sku = ("WH01", "WH02")[i % 2], f"S{i + 1:02d}"
        mean, on_hand = 10.0 + i, (10.0 + i) * (i + 1.5)
        lead = 3 + i % 4
        con.execute(
            PLAN_SQL,
            [DAY, warehouse, sku, on_hand, on_hand, mean, lead, 2 * mean, 5 * mean, 9 * mean, 100 + i, i + 1.5, True],
        )
    con.execute(PLAN_SQL, [DAY, "WH01", "S13", 0, 0, 5.0, 3, 10, 25, 45, 0, 0.0, False])  # inactive
    con.execute(PLAN_SQL, [DAY, "WH02", "S14", 0, 0, 0.0, 3, 0, 0, 0, 0, 0.0, True])  # no demand
    con.execute(PLAN_SQL, [LATER, "WH01", "S01", 0, 0, 10.0, 3, 20, 50, 90, 90, 0.0, True])


def _kpis(con: duckdb.DuckDBPyConnection) -> None:
    first = DAY - timedelta(days=120)
    for n in range((LATER - first).days + 1):
        day = first + timedelta(days=n)
        for weeks in (1, 13):
            fill = 0.9 + (n % 10) / 100 + (0.05 if weeks == 13 else 0)
            con.execute(
                "insert into analytics.kpis (as_of_date, window_weeks, level, key, window_start, requested_qty, "
                "supplied_qty, quantity_fill_rate, line_fill_rate, on_hand_qty, avg_on_hand_qty) "
                "values (?, ?, 'total', 'all', ?, 100, 90, ?, ?, ?, ?)",
                [day, weeks, day - timedelta(days=7 * weeks - 1), fill, fill - 0.02, 1000.0 + n, 990.0 + n + weeks],
            )


# ------------------------------------------------------------------ reading the Markdown


def images(text: str) -> list[tuple[str, bytes]]:
    return [
        (alt, base64.b64decode(data))
        for alt, data in re.findall(r"!\[([^\]]*)\]\(data:image/png;base64,([^)]+)\)", text)
    ]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table: rows of cells, the header row first (the |---| row dropped)."""
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(re.fullmatch(r"-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    return found


def check_images(text: str, count: int) -> list[tuple[str, bytes]]:
    found = images(text)
    assert len(found) == count
    for _, data in found:
        width, height = png_size(data)
        assert width >= 6 * DPI and height > 100  # 6.4 or 7.2 inches at DPI
        assert len(data) <= MAX_PNG
    return found


# ------------------------------------------------------------------ the charts


def test_forecast_charts_show_the_total_and_the_top_skus_as_in_the_warehouse(con, config):
    warnings: list[str] = []
    charts = demand_forecast_charts(con, DAY, config, warnings.append)
    assert not warnings and set(charts) == {"chart_forecast_total", "chart_forecast_top_skus"}
    check_images(charts["chart_forecast_total"], 1)
    top = charts["chart_forecast_top_skus"]
    alts = [alt for alt, _ in check_images(top, 3)]
    assert alts == [f"Forecast vs actual: {s}" for s in ("S01", "S02", "S03")]  # the most demand first

    sections = {"total": charts["chart_forecast_total"]}
    sections.update(zip(("S01", "S02", "S03"), top.split("\n\n---\n\n"), strict=True))
    for key, text in sections.items():
        (table,) = tables(text)
        assert table[0] == ["week", "actual", "1-week-ahead forecast", "forecast", "80 % interval"]
        rows = {r[0]: r[1:] for r in table[1:]}
        sku = "" if key == "total" else "and sku = ?"
        params = [] if key == "total" else [key]
        actual = dict(
            con.execute(
                f"select week_start::varchar, sum(requested_qty) from marts.customer_sku_weekly_demand "
                f"where week_start between '2024-01-01' and '2024-03-25' {sku} group by 1",
                params,
            ).fetchall()
        )
        level = "level = 'total'" if key == "total" else "level = 'sku' and key = ?"
        current = con.execute(
            f"select period_start::varchar, forecast_qty, lower_qty, upper_qty from analytics.level_forecasts "
            f"where forecast_origin = ? and {level}",
            [DAY, *params],
        ).fetchall()
        past = dict(
            con.execute(
                f"select period_start::varchar, forecast_qty from analytics.level_forecasts where horizon = 1 "
                f"and period_start between '2024-01-01' and '2024-03-25' and {level}",
                params,
            ).fetchall()
        )
        assert len(actual) == 13 and len(current) == 4 and len(past) == 13
        assert set(rows) == set(actual) | {c[0] for c in current}  # not the incomplete week of 04-01
        for week, qty in actual.items():
            assert rows[week][0] == fmt_number(qty)
            assert rows[week][1] == fmt_number(past[week])
            assert rows[week][2:] == ["—", "—"]
        for week, qty, lower, upper in current:
            assert rows[week] == ["—", "—", fmt_number(qty), f"{fmt_number(lower)} – {fmt_number(upper)}"]
        assert "10," not in "".join(rows[w][2] for w in rows)  # nothing of the later day's forecast


def test_tracking_signal_charts_are_the_days_review_against_the_limit(con, config):
    warnings: list[str] = []
    charts = forecast_accuracy_charts(con, DAY, config, warnings.append)
    assert not warnings and set(charts) == {"chart_tracking_signal_skus", "chart_tracking_signal_trend"}
    limit = config.accuracy.tracking_signal_limit

    skus = charts["chart_tracking_signal_skus"]
    check_images(skus, 1)
    (table,) = tables(skus)
    expected = con.execute(
        "select key, tracking_signal, out_of_control, actual_qty from analytics.accuracy_reviews "
        "where review_date = ? and level = 'sku' and horizon = 1 order by actual_qty desc, key limit ?",
        [DAY, TRACKING_SIGNAL_SKUS],
    ).fetchall()
    assert [r[0] for r in table[1:]] == [e[0] for e in expected]
    assert [r[5] for r in table[1:]] == [fmt_number(e[1], 2) for e in expected]
    assert [r[6] for r in table[1:]] == ["yes" if e[2] else "no" for e in expected]
    assert [r[1] for r in table[1:]] == [fmt_number(e[3]) for e in expected]
    out = sum(abs((j % 5) * 2.0 - 4.5 + 0.1) > limit for j in range(len(SKU_DEMAND)))
    assert f"{out} of {len(SKU_DEMAND)} SKUs are out of control" in skus and f"±{limit:g}" in skus

    trend = charts["chart_tracking_signal_trend"]
    check_images(trend, 1)
    (table,) = tables(trend)
    reviews = ORIGINS[-TRACKING_SIGNAL_REVIEWS:]  # the last reviews known on DAY, not LATER's
    assert [r[0] for r in table[1:]] == [d.isoformat() for d in reviews]
    signals = dict(
        con.execute(
            "select review_date::varchar, tracking_signal from analytics.accuracy_reviews where level = 'total'"
        ).fetchall()
    )
    assert [r[1] for r in table[1:]] == [fmt_number(signals[d.isoformat()], 2) for d in reviews]
    assert table[-1][3] == f"{out} of {len(SKU_DEMAND)}"


def test_the_at_risk_chart_lists_the_fewest_days_of_supply_of_the_day(con, config):
    warnings: list[str] = []
    charts = replenishment_charts(con, DAY, config, warnings.append)
    assert not warnings and set(charts) == {"chart_at_risk_skus"}
    text = charts["chart_at_risk_skus"]
    check_images(text, 2)  # positions and the projection
    (table,) = tables(text)
    assert table[0][:3] == ["warehouse", "SKU", "ABC"] and table[0][-2:] == ["days of supply", "order qty"]
    expected = con.execute(
        "select warehouse_id, sku, on_hand_qty, inventory_position, safety_stock, reorder_point, order_up_to, "
        "days_of_supply, recommended_order_qty from analytics.replenishment_plan "
        "where as_of_date = ? and is_active and daily_demand_mean > 0 order by days_of_supply limit ?",
        [DAY, AT_RISK_SKUS],
    ).fetchall()
    assert len(expected) == AT_RISK_SKUS == len(table) - 1
    assert [(r[0], r[1]) for r in table[1:]] == [(e[0], e[1]) for e in expected]  # not S13 (inactive), S14
    for row, e in zip(table[1:], expected, strict=True):
        assert row[3] == fmt_number(e[2]) and row[5] == fmt_number(e[3])
        assert row[8:11] == [fmt_number(v, 1) for v in e[4:7]]
        assert row[11] == fmt_number(e[7], 1) and row[12] == fmt_number(e[8])


def test_inactive_skus_are_at_risk_when_they_may_be_ordered(con, config):
    ordering = config.override({"replenishment.order_inactive_products": True})
    (table,) = tables(replenishment_charts(con, DAY, ordering)["chart_at_risk_skus"])
    assert table[1][:2] == ["WH01", "S13"]


def test_kpi_trends_are_the_one_week_window_of_the_last_13_weeks(con, config):
    warnings: list[str] = []
    charts = kpi_charts(con, DAY, config, warnings.append)
    assert not warnings and set(charts) == {"chart_fill_rate_trend", "chart_stock_trend"}
    rows = {
        d.isoformat(): (fill, line, on_hand, avg)
        for d, fill, line, on_hand, avg in con.execute(
            "select as_of_date, quantity_fill_rate, line_fill_rate, on_hand_qty, avg_on_hand_qty "
            "from analytics.kpis where window_weeks = 1 and level = 'total'"
        ).fetchall()
    }
    days = [(DAY - timedelta(days=7 * k)).isoformat() for k in range(12, -1, -1)]  # every 7th day of 91
    (fill,) = tables(charts["chart_fill_rate_trend"])
    (stock,) = tables(charts["chart_stock_trend"])
    check_images(charts["chart_fill_rate_trend"], 1)
    check_images(charts["chart_stock_trend"], 1)
    assert [r[0] for r in fill[1:]] == days == [r[0] for r in stock[1:]]
    assert [r[1:] for r in fill[1:]] == [[fmt_share(rows[d][0]), fmt_share(rows[d][1])] for d in days]
    assert [r[1:] for r in stock[1:]] == [[fmt_number(rows[d][2]), fmt_number(rows[d][3])] for d in days]
    assert "91 days up to 2024-03-31" in charts["chart_stock_trend"]


def test_a_chart_that_fails_is_left_out_with_a_warning(tmp_path, config, caplog):
    empty = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        warnings: list[str] = []
        assert kpi_charts(empty, DAY, config, warnings.append) == {}
        assert len(warnings) == 2 and all("analytics.kpis" in w or "kpis" in w for w in warnings)
        assert warnings[0].startswith("chart chart_fill_rate_trend left out: CatalogException")
        with caplog.at_level(logging.WARNING, logger="restock.asset_charts"):
            assert replenishment_charts(empty, DAY, config) == {}  # the default: the module's logger
        assert "chart chart_at_risk_skus left out" in caplog.text
    finally:
        empty.close()
    # one chart failing leaves the other: without the forecast_accuracy view the SKUs'
    # chart fails, the trend (read from accuracy_reviews) is drawn
    partial = duckdb.connect(str(tmp_path / "partial.duckdb"))
    try:
        ensure_forecast_tables(partial)
        partial.execute("drop view analytics.forecast_accuracy")
        partial.execute("insert into analytics.forecast_runs values (?, ?)", [DAY, DAY])
        partial.execute(
            "insert into analytics.accuracy_reviews values (?, 'total', 'total', 1, 13, 13, 9000, 9100, "
            "0.1, 0.8, 0.01, 1.5, false, 0.8)",
            [DAY],
        )
        warnings = []
        charts = forecast_accuracy_charts(partial, DAY, config, warnings.append)
        assert (
            list(charts) == ["chart_tracking_signal_trend"] and len(images(charts["chart_tracking_signal_trend"])) == 1
        )
        assert len(warnings) == 1 and warnings[0].startswith("chart chart_tracking_signal_skus left out")
    finally:
        partial.close()


def test_a_day_without_rows_gets_a_note_and_no_image(con, config):
    warnings: list[str] = []
    before = date(2023, 1, 1)
    texts = {
        **demand_forecast_charts(con, before, config, warnings.append),
        **forecast_accuracy_charts(con, before, config, warnings.append),
        **replenishment_charts(con, before, config, warnings.append),
        **kpi_charts(con, before, config, warnings.append),
    }
    assert not warnings and not images("".join(texts.values()))
    assert "No accuracy review as of 2023-01-01" in texts["chart_tracking_signal_skus"]
    assert "No KPI rows as of 2023-01-01" in texts["chart_stock_trend"]
