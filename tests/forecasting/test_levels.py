"""Coherent levels on a real DuckDB file (issue 11, item 4): the SKU and total series
get forecasts of their own, reconciled with the segment × SKU ones so that every
level adds up; the method is chosen by backtest from stored origins only."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.config import load_config
from restock.forecasting import origins, tables
from restock.forecasting.levels import ALL, _past_origins, aggregate_tasks
from restock.settings import PROJECT_ROOT

START = date(2024, 1, 1)  # a Monday
FIRST_DAY, LAST_DAY = date(2025, 1, 5), date(2025, 3, 2)  # 9 origins (Sundays)
SEGMENTS = {"c1": "S1", "c2": "S1", "c3": "S2", "c4": "S2"}


def _config(method: str = "auto"):
    return load_config(PROJECT_ROOT / "restock.yaml").override(
        {"forecasting.workers": 1, "forecasting.reconciliation": method, "forecasting.reconciliation_window_weeks": 6}
    )


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(3)
    rows = []
    week = START
    while week <= LAST_DAY:
        for customer in SEGMENTS:
            rows.append((customer, "K1", week, float(rng.poisson(12))))
            rows.append((customer, "K2", week, float(rng.poisson(3) if rng.random() < 0.7 else 0)))
        week += timedelta(weeks=1)
    demand = pd.DataFrame(rows, columns=["customer_id", "sku", "week_start", "requested_qty"])
    demand["ordered_qty"] = demand["requested_qty"]
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.register("_demand", demand)
    con.execute("create table marts.customer_sku_weekly_demand as select * from _demand")
    con.execute("create table marts.customers (as_of_date date, customer_id varchar)")
    con.execute("create schema analytics")
    con.execute(
        """create table analytics.customer_segments (as_of_date date, customer_id varchar, segment_id varchar,
           lifecycle_state varchar, region varchar)"""
    )
    day = START
    while day <= LAST_DAY:
        for customer, segment in SEGMENTS.items():
            region = "城东区" if customer in ("c1", "c3") else "城北区"  # WH01 / WH02 in restock.yaml
            con.execute(
                "insert into analytics.customer_segments values (?, ?, ?, 'active', ?)",
                [day, customer, segment, region],
            )
        day += timedelta(days=1)
    tables.ensure_tables(con)
    return con


def _days() -> list[date]:
    return [FIRST_DAY + timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]


@pytest.fixture(scope="module")
def auto(tmp_path_factory):
    con = _warehouse(tmp_path_factory.mktemp("levels") / "auto.duckdb")
    results = origins.run_forecasts(con, _days(), _config("auto"))
    yield con, results
    con.close()


def test_aggregate_tasks_by_hand():
    tasks = [
        {"key": ("S1", "K1"), "first_week": date(2025, 1, 6), "y": np.array([1.0, 2.0, 3.0])},
        {"key": ("S2", "K1"), "first_week": date(2025, 1, 13), "y": np.array([10.0, 20.0])},
        {"key": ("S2", "K2"), "first_week": date(2025, 1, 20), "y": np.array([5.0])},
    ]
    out = {task["key"]: task for task in aggregate_tasks(tasks)}
    assert list(out) == [(ALL, "K1"), (ALL, "K2"), (ALL, ALL)]
    np.testing.assert_array_equal(out[(ALL, "K1")]["y"], [1.0, 12.0, 23.0])
    assert out[(ALL, "K1")]["first_week"] == date(2025, 1, 6)
    np.testing.assert_array_equal(out[(ALL, "K2")]["y"], [5.0])
    np.testing.assert_array_equal(out[(ALL, ALL)]["y"], [1.0, 12.0, 28.0])
    assert aggregate_tasks([]) == []


def test_every_level_adds_up_on_every_origin(auto):
    con, results = auto
    assert [r.status for r in results] == ["computed"] * 9
    gaps = con.execute(
        """with seg as (
               select forecast_origin, sku, period_start, sum(forecast_qty) as qty
               from analytics.segment_forecasts group by all),
           total as (select forecast_origin, period_start, sum(qty) as qty from seg group by all)
           select max(abs(l.forecast_qty - coalesce(seg.qty, total.qty))) as gap, count(*) as n
           from analytics.level_forecasts l
           left join seg on l.level = 'sku' and seg.forecast_origin = l.forecast_origin
                and seg.sku = l.key and seg.period_start = l.period_start
           left join total on l.level = 'total' and total.forecast_origin = l.forecast_origin
                and total.period_start = l.period_start"""
    ).fetchone()
    assert gaps[1] == 9 * 3 * 8  # (2 SKUs + total) x 8 weeks per origin
    assert gaps[0] < 1e-9
    checks = con.execute("select max(coherence_error), min(clipped_cells) from analytics.reconciliations").fetchone()
    assert checks[0] < 1e-9 and checks[1] >= 0
    # Each level has a base forecast of its own (not the sum of the segments' bases).
    differs = con.execute(
        """select count(*) from analytics.level_forecasts l
           join (select forecast_origin, sku, period_start, sum(base_qty) as base
                 from analytics.segment_forecasts group by all) s
             on l.level = 'sku' and s.forecast_origin = l.forecast_origin and s.sku = l.key
            and s.period_start = l.period_start
           where abs(l.base_qty - s.base) > 1e-6"""
    ).fetchone()[0]
    assert differs > 0


def test_the_method_is_chosen_by_backtest_from_the_second_origin_on(auto):
    con, _ = auto
    rows = con.execute(
        "select forecast_origin, method, reason, scores_json from analytics.reconciliations order by 1"
    ).df()
    assert len(rows) == 9
    assert rows["method"].iloc[0] == "bottom_up" and "no past origin" in rows["reason"].iloc[0]
    later = rows.iloc[1:]
    assert later["scores_json"].str.contains("mint_wls").all()
    assert later["method"].isin(["bottom_up", "top_down", "ols", "mint_wls"]).all()
    # Where the chosen method is not bottom-up, the segment forecasts moved off their base.
    moved = con.execute(
        """select r.method, max(abs(f.forecast_qty - f.base_qty)) as moved
           from analytics.segment_forecasts f join analytics.reconciliations r using (forecast_origin)
           group by all"""
    ).df()
    for method, amount in zip(moved["method"], moved["moved"], strict=True):
        assert (amount == 0) == (method == "bottom_up")


def test_the_backtest_reads_only_weeks_complete_on_the_origin(auto):
    con, _ = auto
    origin = date(2025, 2, 2)
    records = _past_origins(con, origin, 3, "requested_qty")
    # Origins 01-12, 01-19, 01-26: 3, 2 and 1 weeks complete on 02-02.
    assert [(r.label, r.base_bottom.shape[1]) for r in records] == [
        ("2025-01-12", 3),
        ("2025-01-19", 2),
        ("2025-01-26", 1),
    ]
    # Actuals by hand: the total of the week of 2025-01-27 (horizon 1 of 01-26).
    week_total = con.execute(
        "select sum(requested_qty) from marts.customer_sku_weekly_demand where week_start = '2025-01-27'"
    ).fetchone()[0]
    last = records[-1]
    assert last.actual_agg[last.hierarchy.total_row, 0] == pytest.approx(week_total)


def test_a_fixed_method_from_restock_yaml(tmp_path):
    con = _warehouse(tmp_path / "bu.duckdb")
    origins.run_forecasts(con, _days()[:14], _config("bottom_up"))
    assert con.execute("select distinct method from analytics.reconciliations").fetchall() == [("bottom_up",)]
    assert con.execute("select max(abs(forecast_qty - base_qty)) from analytics.segment_forecasts").fetchone()[0] == 0
    con.close()


@pytest.mark.parametrize("seed", range(6))
def test_pivot_places_cells_as_pandas_pivot_table_does(seed, monkeypatch):
    """levels._pivot (cells placed directly) against the pivot_table it replaced, on
    frames with missing cells, rows of unknown series, horizons out of range, one and
    two key columns, duplicate cells and missing values (those take the pivot)."""
    from restock.forecasting.levels import _pivot, _pivot_table

    rng = np.random.default_rng(seed)
    keys = pd.DataFrame({"segment_id": rng.choice(["A", "B", "C"], 40), "sku": [f"K{i}" for i in range(40)]})
    keys = keys.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    rows = pd.DataFrame(
        {
            "segment_id": np.concatenate([keys["segment_id"], ["Z"] * 5]),
            "sku": np.concatenate([keys["sku"], [f"X{i}" for i in range(5)]]),
        }
    )
    values = pd.concat([rows.assign(horizon=h) for h in range(0, 10)], ignore_index=True)
    values["qty"] = rng.normal(10.0, 5.0, len(values)).round(3)
    values = values.sample(frac=0.8 if seed % 2 else 1.0, random_state=seed).reset_index(drop=True)
    if seed == 4:
        values = pd.concat([values, values.head(3)], ignore_index=True)  # duplicate cells: summed
    if seed == 5:
        values.loc[values.index[:4], "qty"] = np.nan
    from restock.forecasting import levels

    for on, fill in ((["segment_id", "sku"], None), (["segment_id", "sku"], 0.0), (["sku"], 0.0), (["sku"], None)):
        expected = _pivot_table(keys, values, on, "qty", 8, fill=fill)
        if seed < 4:  # no duplicate cell, no missing value: placed without the pivot
            monkeypatch.setattr(levels, "_pivot_table", None)
        got = _pivot(keys, values, on, "qty", 8, fill=fill)
        monkeypatch.undo()
        if expected is None:
            assert got is None
        else:
            assert got is not None and np.array_equal(got, expected), (on, fill)
    assert _pivot(keys, values.iloc[:0], ["segment_id", "sku"], "qty", 8, fill=0.0).sum() == 0.0
