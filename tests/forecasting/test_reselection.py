"""Series out of control are selected again at the next origin (issue 11, item 3):
the signal by hand, the eligibility rule, and on a real DuckDB file a level shift that
the grid's choice cannot follow is re-selected well before the next grid origin."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.config import load_config
from restock.forecasting import origins, tables
from restock.forecasting.panel import is_selection_origin
from restock.forecasting.reselection import series_to_reselect, series_tracking_signals
from restock.settings import PROJECT_ROOT

START = date(2024, 1, 1)  # a Monday
GRID = date(2024, 12, 8)  # an origin of the 26-week selection grid
SHIFT = date(2024, 12, 16)  # K1's demand triples from this week on
FIRST_DAY, LAST_DAY = GRID, date(2025, 4, 27)
CUSTOMERS = ("c1", "c2", "c3")


def _config(reselect: bool = True):
    return load_config(PROJECT_ROOT / "restock.yaml").override(
        {"forecasting.workers": 1, "forecasting.reselect_out_of_control": reselect}
    )


def _demand() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    week = START
    while week <= LAST_DAY:
        for customer in CUSTOMERS:
            k1 = rng.poisson(7.0 if week < SHIFT else 21.0)
            k2 = rng.poisson(10.0)
            rows += [(customer, "K1", week, float(k1)), (customer, "K2", week, float(k2))]
        week += timedelta(weeks=1)
    frame = pd.DataFrame(rows, columns=["customer_id", "sku", "week_start", "requested_qty"])
    frame["ordered_qty"] = frame["requested_qty"]
    return frame


def _warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.register("_demand", _demand())
    con.execute("create table marts.customer_sku_weekly_demand as select * from _demand")
    con.execute("create table marts.customers (as_of_date date, customer_id varchar)")
    con.execute("create schema analytics")
    con.execute(
        """create table analytics.customer_segments as
           select d::date as as_of_date, c as customer_id, 'S1' as segment_id, 'active' as lifecycle_state,
                  '城东区' as region
           from range(?::date, ?::date + 1, interval 1 day) t(d), unnest(?) u(c)""",
        [START, LAST_DAY, list(CUSTOMERS)],
    )
    tables.ensure_tables(con)
    return con


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reselect")
    on = _warehouse(folder / "on.duckdb")
    results = origins.run_forecasts(on, _days(FIRST_DAY, LAST_DAY), _config(True))
    off = _warehouse(folder / "off.duckdb")
    origins.run_forecasts(off, _days(FIRST_DAY, LAST_DAY), _config(False))
    yield on, off, results
    on.close()
    off.close()


def test_eligibility_by_hand():
    origin = date(2025, 3, 16)  # last complete week 2025-03-10, 13-week window from 2024-12-16
    signals = pd.DataFrame(
        {
            "segment_id": ["S"] * 5,
            "sku": ["a", "b", "c", "d", "e"],
            "n_periods": [13, 13, 13, 13, 4],
            "tracking_signal": [-12.5, 9.0, 12.0, 13.0, -4.0],
        }
    )
    last = {
        ("S", "a"): date(2024, 12, 8),  # before the window: the window judges this choice
        ("S", "b"): date(2024, 12, 8),
        ("S", "c"): date(2024, 12, 15),  # the window's first forecast came from it: eligible
        ("S", "d"): date(2024, 12, 22),  # selected inside the window: wait
        ("S", "e"): date(2024, 12, 8),
    }
    # Bound at n = 13: max(4, 2.6 x 1.25 x sqrt(13)) = 11.72; at n = 4: max(4, 6.5) = 6.5.
    # b: |9| is beyond the review's limit 4 but within the noise of 13 unbiased weeks;
    # e: |-4| within 6.5; d: too recent.
    assert series_to_reselect(signals, last, origin, 13, 4.0) == {("S", "a"), ("S", "c")}
    assert series_to_reselect(signals, {}, origin, 13, 4.0) == {("S", "a"), ("S", "c"), ("S", "d")}
    # A limit above the noise bound is the bound.
    assert series_to_reselect(signals, last, origin, 13, 12.2) == {("S", "a")}
    with pytest.raises(ValueError, match="limit"):
        series_to_reselect(signals, last, origin, 13, 0)


def test_tracking_signal_by_hand(tmp_path):
    con = duckdb.connect(str(tmp_path / "ts.duckdb"))
    con.execute("create schema marts")
    con.execute("create schema analytics")
    tables.ensure_tables(con)
    con.execute(
        "create table marts.customer_sku_weekly_demand (customer_id varchar, sku varchar, week_start date,"
        " requested_qty double, ordered_qty double)"
    )
    # Two h1 forecasts of S|K made on 03-02 and 03-09 for the weeks of 03-03 and 03-10;
    # one made on the review origin itself (03-16) must not count.
    for made, week, qty in ((date(2025, 3, 2), date(2025, 3, 3), 10.0), (date(2025, 3, 9), date(2025, 3, 10), 12.0)):
        con.execute(
            "insert into analytics.segment_forecasts (forecast_origin, segment_id, sku, period_start, horizon,"
            " forecast_qty, lower_qty, upper_qty, model, method) values (?, 'S', 'K', ?, 1, ?, 0, 99, 'm', 'refit')",
            [made, week, qty],
        )
        con.execute(
            "insert into analytics.forecast_members (forecast_origin, customer_id, segment_id) values (?, 'c1', 'S')",
            [made],
        )
    con.execute(
        "insert into analytics.segment_forecasts (forecast_origin, segment_id, sku, period_start, horizon,"
        " forecast_qty, lower_qty, upper_qty, model, method) values ('2025-03-16', 'S', 'K', '2025-03-17', 1, 500, 0, 999, 'm', 'refit')"
    )
    # c1 asked 4 then 16; c2 (not a member) asked 100 in the first week: not counted.
    con.execute(
        """insert into marts.customer_sku_weekly_demand values
           ('c1', 'K', '2025-03-03', 4, 4), ('c1', 'K', '2025-03-10', 16, 16), ('c2', 'K', '2025-03-03', 100, 100)"""
    )
    out = series_tracking_signals(con, date(2025, 3, 16), 13)
    # errors: 10 - 4 = +6, 12 - 16 = -4; TS = (6 - 4) / mean(6, 4) = 2 / 5 = 0.4
    assert out.to_dict("records") == [{"segment_id": "S", "sku": "K", "n_periods": 2, "tracking_signal": 0.4}]
    con.close()


def test_a_level_shift_is_selected_again_before_the_next_grid_origin(runs):
    on, _, results = runs
    assert is_selection_origin(GRID, 26) and not any(is_selection_origin(r.origin, 26) for r in results[1:])
    again = on.execute(
        "select selection_origin, segment_id, sku from analytics.model_choices where selection_origin > ? order by all",
        [GRID],
    ).fetchall()
    k1 = sorted({made for made, _, sku in again if sku == "K1"})
    # Once, as soon as the 13-week window holds only forecasts of the grid's choice
    # (window from 2024-12-09 on the origin 2025-03-09), not again within 13 weeks.
    assert k1 == [date(2025, 3, 9)]
    # The SKU's own series (levels) shifted too: selected again with it.
    assert {(segment_id, sku) for made, segment_id, sku in again if made == k1[0]} >= {("S1", "K1"), ("*", "K1")}
    method = on.execute(
        "select method from analytics.segment_forecasts where forecast_origin = ? and sku = 'K1' and horizon = 1",
        [k1[0]],
    ).fetchone()[0]
    assert method == "selection"
    assert sum(r.reselected for r in results) == len(again)
    # Every reselection was beyond the noise bound on its origin (11.7 at 13 weeks).
    for made, segment_id, sku in again:
        signals = series_tracking_signals(on, made, 13)
        row = signals[(signals["segment_id"] == segment_id) & (signals["sku"] == sku)]
        assert abs(float(row["tracking_signal"].iloc[0])) > 11.7


def test_reselection_makes_the_following_forecasts_better(runs):
    on, off, _ = runs
    query = """select f.period_start, f.forecast_qty, sum(w.requested_qty) as actual
               from analytics.segment_forecasts f join marts.customer_sku_weekly_demand w
                 on w.sku = f.sku and w.week_start = f.period_start
               where f.sku = 'K1' and f.horizon = 1 and f.forecast_origin >= '2025-03-09'
               group by all order by 1"""
    with_rule, without = on.execute(query).df(), off.execute(query).df()
    assert len(with_rule) == len(without) >= 3
    error_on = float((with_rule["forecast_qty"] - with_rule["actual"]).abs().mean())
    error_off = float((without["forecast_qty"] - without["actual"]).abs().mean())
    bias_off = float((without["forecast_qty"] - without["actual"]).sum() / without["actual"].sum())
    assert bias_off < -0.05  # without the rule the grid's choice still lags the shift
    assert error_on < 0.8 * error_off


def test_the_rule_gives_the_same_tables_whichever_runs_compute_the_days(runs, tmp_path):
    on, _, _ = runs
    split = _warehouse(tmp_path / "split.duckdb")
    middle = date(2025, 3, 5)
    origins.run_forecasts(split, _days(FIRST_DAY, middle), _config(True))
    origins.run_forecasts(split, _days(middle + timedelta(days=1), LAST_DAY), _config(True))
    for name in ("segment_forecasts", "model_choices", "customer_forecast_shares"):
        query = f"select * from analytics.{name} order by all"
        pd.testing.assert_frame_equal(on.execute(query).df(), split.execute(query).df(), obj=name)
