"""Forecast tables on a real DuckDB file: point in time, backfill = daily runs,
customer numbers summing to the segment, refits between selections, the review."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.config import ForecastingConfig, load_config
from restock.forecasting import accuracy_review, origins, tables
from restock.forecasting.panel import forecast_origin, forecast_panel
from restock.settings import PROJECT_ROOT

START = date(2024, 1, 1)  # a Monday
WEEKS = 70
CUSTOMERS = {"c1": "S1", "c2": "S1", "c3": "S1", "c4": "S2", "c5": "S2", "c6": "S2"}
SKUS = ("K1", "K2", "K3")
FIRST_DAY, LAST_DAY = date(2025, 2, 17), date(2025, 3, 11)  # 3+ weeks, 4 origins
CLOSED_FROM = date(2025, 2, 3)  # c3 closes (a Monday): no orders from that week on
CHURNED_FROM = date(2025, 1, 1)
# restock.yaml maps 城东区 to WH01 and 城北区 to WH02; a region it does not list has no warehouse
REGIONS = {
    "c1": "城东区",
    "c2": "城东区",
    "c3": "城东区",
    "c4": "城北区",
    "c5": "城北区",
    "c6": "外地",
}  # c6 is "churned" from then on, yet keeps buying (irregular)


@pytest.fixture(scope="module")
def config():
    cfg = load_config(PROJECT_ROOT / "restock.yaml").override(
        {"forecasting.workers": 1, "forecasting.selection_every_weeks": 2, "forecasting.horizon_weeks": 4}
    )
    return cfg


def _demand() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    rows = []
    for week in range(WEEKS):
        week_start = START + timedelta(weeks=week)
        for customer in CUSTOMERS:
            for k, sku in enumerate(SKUS):
                if sku == "K3" and rng.random() < 0.6:  # an intermittent one
                    qty = 0.0
                else:
                    qty = float(rng.poisson(5 + 3 * k + int(customer[1])))
                if customer == "c3" and week_start >= CLOSED_FROM:
                    qty = 0.0
                rows.append((customer, sku, week_start, qty, qty))
    return pd.DataFrame(rows, columns=["customer_id", "sku", "week_start", "ordered_qty", "requested_qty"])


def _warehouse(path: Path, demand: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.register("_demand", demand)
    con.execute("create table marts.customer_sku_weekly_demand as select * from _demand")
    con.execute("create table marts.customers (as_of_date date, customer_id varchar)")  # empty: no fallback segments
    con.execute("create schema analytics")
    con.execute("""create table analytics.customer_segments (as_of_date date, customer_id varchar,
                   segment_id varchar, lifecycle_state varchar, region varchar)""")
    day = START
    while day <= LAST_DAY + timedelta(days=7):
        for customer, segment in CUSTOMERS.items():
            state = "active"
            if customer == "c6" and day >= CHURNED_FROM:
                state = "churned"
            if customer == "c3" and day >= CLOSED_FROM:
                state = "closed"
            con.execute(
                "insert into analytics.customer_segments values (?, ?, ?, ?, ?)",
                [day, customer, segment, state, REGIONS[customer]],
            )
        day += timedelta(days=1)
    tables.ensure_tables(con)
    return con


def _tables(con) -> dict[str, pd.DataFrame]:
    names = ("segment_forecasts", "customer_forecast_shares", "model_choices", "forecast_runs", "forecast_members")
    return {n: con.execute(f"select * from analytics.{n} order by all").df() for n in names}


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory, config):
    con = _warehouse(tmp_path_factory.mktemp("wh") / "a.duckdb", _demand())
    results = origins.run_forecasts(con, _days(FIRST_DAY, LAST_DAY), config)
    yield con, results
    con.close()


def test_backfill_equals_day_by_day_runs(backfilled, tmp_path, config):
    con, results = backfilled
    assert [r.status for r in results] == ["computed"] * 4
    day_by_day = _warehouse(tmp_path / "b.duckdb", _demand())
    for day in _days(FIRST_DAY, LAST_DAY):
        origins.run_forecasts(day_by_day, [day], config)
    left, right = _tables(con), _tables(day_by_day)
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], obj=name)


def test_a_forecast_uses_nothing_after_its_origin(backfilled, tmp_path, config):
    con, _ = backfilled
    origin = date(2025, 3, 2)
    # Same history, but every week after the origin wildly different.
    changed = _demand()
    later = pd.to_datetime(changed["week_start"]) > pd.Timestamp(origin)
    changed.loc[later, ["ordered_qty", "requested_qty"]] *= 50
    other = _warehouse(tmp_path / "c.duckdb", changed)
    origins.run_forecasts(other, _days(FIRST_DAY, LAST_DAY), config)
    query = "select * from analytics.segment_forecasts where forecast_origin = ? order by all"
    pd.testing.assert_frame_equal(con.execute(query, [origin]).df(), other.execute(query, [origin]).df())
    assert pd.Timestamp(con.execute(query, [origin]).df()["period_start"].min()) == pd.Timestamp(
        origin + timedelta(days=1)
    )


def test_days_between_origins_reuse_and_customer_rows_sum_to_the_segment(backfilled):
    con, _ = backfilled
    runs = con.execute("select as_of_date, forecast_origin from analytics.forecast_runs order by 1").df()
    assert len(runs) == len(_days(FIRST_DAY, LAST_DAY))
    for day, origin in zip(runs["as_of_date"], runs["forecast_origin"], strict=True):
        assert pd.Timestamp(origin).date() == forecast_origin(pd.Timestamp(day).date(), 7)
    gap = con.execute(
        """select max(abs(s.forecast_qty - c.total)) from
           (select as_of_date, segment_id, sku, horizon, forecast_qty from analytics.demand_forecasts where level = 'segment') s
           join (select as_of_date, segment_id, sku, horizon, sum(forecast_qty) total from analytics.demand_forecasts
                 where level = 'customer' group by all) c using (as_of_date, segment_id, sku, horizon)"""
    ).fetchone()[0]
    assert gap < 1e-9
    missing = con.execute(
        """select count(*) from analytics.demand_forecasts f where level = 'segment' and not exists
           (select 1 from analytics.demand_forecasts c where c.level = 'customer' and c.as_of_date = f.as_of_date
            and c.segment_id = f.segment_id and c.sku = f.sku and c.horizon = f.horizon)"""
    ).fetchone()[0]
    assert missing == 0
    # the churned c6 and the closed c3 get no customer forecast (their segments have
    # active customers who take their part: the sums above hold) ...
    for customer in ("c6", "c3"):
        rows = con.execute("select count(*) from analytics.demand_forecasts where customer_id = ?", [customer])
        assert rows.fetchone()[0] == 0, customer
    # ... but the churned c6, who keeps buying, is in the population its segment is
    # forecast from and reviewed against; the closed c3 is not
    members = con.execute("select distinct customer_id from analytics.forecast_members order by 1").fetchall()
    assert [m for (m,) in members] == ["c1", "c2", "c4", "c5", "c6"]


def test_returning_customers_count_in_the_segment_series_closed_ones_do_not(backfilled, config):
    con, _ = backfilled
    origin = date(2025, 3, 2)
    members = origins._members(con, origin, config)
    assert members.set_index("customer_id")["lifecycle_state"].to_dict() == {
        "c1": "active",
        "c2": "active",
        "c3": "closed",
        "c4": "active",
        "c5": "active",
        "c6": "churned",
    }
    tasks = {t["key"]: t for t in origins._series(con, origin, origins._series_members(members), config)}
    demand = _demand()
    weeks = pd.to_datetime(demand["week_start"]) <= pd.Timestamp(date(2025, 2, 24))  # complete on the origin

    def history(customers: tuple[str, ...], sku: str) -> float:
        rows = demand[weeks & demand["customer_id"].isin(customers) & (demand["sku"] == sku)]
        return float(rows["requested_qty"].sum())

    for sku in SKUS:
        # S2: c4, c5 and the churned c6, whose orders keep arriving
        assert tasks[("S2", sku)]["y"].sum() == history(("c4", "c5", "c6"), sku) > history(("c4", "c5"), sku)
        # S1: c1 and c2; the closed c3's history is left out
        assert tasks[("S1", sku)]["y"].sum() == history(("c1", "c2"), sku)


def test_selection_on_the_grid_and_refits_between(backfilled):
    con, _ = backfilled
    methods = con.execute(
        "select forecast_origin, list(distinct method order by method) from analytics.segment_forecasts group by 1 order by 1"
    ).fetchall()
    assert {tuple(m) for _, m in methods} == {("selection",), ("refit",)}
    chosen = con.execute("select distinct selection_origin from analytics.model_choices order by 1").fetchall()
    assert chosen, "choices are stored at selection origins"


def test_a_failing_refit_falls_back_without_failing_the_run():
    y = np.array([3.0, 4.0, 5.0, 4.0, 3.0, 5.0, 4.0, 4.0, 6.0, 5.0, 4.0, 5.0, 6.0, 4.0])
    task = {"key": ("S1", "K1"), "first_week": START, "y": y}
    choices = {("S1", "K1"): {"model": "ets_damped", "params": {}, "fallback": False}}
    settings = ForecastingConfig(workers=1, horizon_weeks=3)
    forecasts, _ = forecast_panel([{**task, "y": y[:5]}], START + timedelta(weeks=5, days=-1), settings, choices)
    assert forecasts["fallback_reason"].str.contains("refit of ets_damped failed").all()
    assert (forecasts["forecast_qty"] >= 0).all() and len(forecasts) == 3


def test_accuracy_review_by_hand(tmp_path):
    con = duckdb.connect(str(tmp_path / "acc.duckdb"))
    con.execute("create schema marts")
    con.execute("""create table marts.customer_sku_weekly_demand as select * from (values
        ('c1', 'K', date '2025-01-06', 10.0, 10.0), ('c1', 'K', date '2025-01-13', 20.0, 20.0),
        ('c2', 'K', date '2025-01-06', 10.0, 10.0), ('c2', 'K', date '2025-01-13', 0.0, 0.0))
        t(customer_id, sku, week_start, ordered_qty, requested_qty)""")
    tables.ensure_tables(con)
    # c2 was in segment S on the first origin only: its week-2 demand is not S's actual.
    con.execute("""insert into analytics.forecast_members (forecast_origin, customer_id, segment_id) values
        ('2025-01-05', 'c1', 'S'), ('2025-01-05', 'c2', 'S'), ('2025-01-12', 'c1', 'S'), ('2025-01-12', 'c2', 'T')""")
    con.execute("""insert into analytics.segment_forecasts (forecast_origin, segment_id, sku, period_start, horizon, forecast_qty, lower_qty, upper_qty, model, method, fallback_reason, naive_mae) values
        ('2025-01-05', 'S', 'K', '2025-01-06', 1, 24.0, 0, 30, 'combination', 'selection', null, 5.0),
        ('2025-01-12', 'S', 'K', '2025-01-13', 1, 16.0, 0, 30, 'combination', 'refit', null, 4.0),
        ('2025-01-05', 'S', 'K', '2025-01-13', 2, 25.0, 0, 30, 'combination', 'selection', null, 5.0)""")
    review = accuracy_review.accuracy_review(con, date(2025, 1, 19), window_weeks=2, limit=1.5)
    total_h1 = review[(review["level"] == "total") & (review["horizon"] == 1)].iloc[0]
    # h1: week 1 forecast 24 vs actual 20 (c1 + c2), week 2 forecast 16 vs actual 20 (c1 only)
    assert total_h1["actual_qty"] == 40 and total_h1["forecast_qty"] == 40 and total_h1["n_periods"] == 2
    assert total_h1["wape"] == pytest.approx(8 / 40)
    assert total_h1["bias"] == pytest.approx(0.0)
    assert total_h1["mase"] == pytest.approx((4 / 5 + 4 / 4) / 2)
    assert total_h1["tracking_signal"] == pytest.approx(0.0)
    # h2: forecast 25 for week 2 made on 01-05, when c2 was still in S: actual 20 + 0
    total_h2 = review[(review["level"] == "total") & (review["horizon"] == 2)].iloc[0]
    assert total_h2["wape"] == pytest.approx(5 / 20) and total_h2["bias"] == pytest.approx(5 / 20)
    assert total_h2["tracking_signal"] == pytest.approx(1.0)  # one error: 5 / |5|
    series = review[review["level"] == "series"]
    assert list(series["key"]) == ["S|K"] and (series["horizon"] == 1).all()
    assert not review["out_of_control"].any()


def test_accuracy_review_uses_the_metrics_module_a_perfect_forecast_has_no_bias(tmp_path):
    from restock.forecasting import metrics

    con = duckdb.connect(str(tmp_path / "acc.duckdb"))
    con.execute("create schema marts")
    con.execute("""create table marts.customer_sku_weekly_demand as select * from (values
        ('c1', 'K', date '2025-01-06', 10.0, 10.0), ('c1', 'K', date '2025-01-13', 30.0, 30.0),
        ('c1', 'Z', date '2025-01-06', 0.0, 0.0), ('c1', 'Z', date '2025-01-13', 0.0, 0.0))
        t(customer_id, sku, week_start, ordered_qty, requested_qty)""")
    tables.ensure_tables(con)
    con.execute(
        "insert into analytics.forecast_members (forecast_origin, customer_id, segment_id) values ('2025-01-05', 'c1', 'S'), ('2025-01-12', 'c1', 'S')"
    )
    con.execute("""insert into analytics.segment_forecasts (forecast_origin, segment_id, sku, period_start, horizon, forecast_qty, lower_qty, upper_qty, model, method, fallback_reason, naive_mae) values
        ('2025-01-05', 'S', 'K', '2025-01-06', 1, 14.0, 0, 30, 'combination', 'selection', null, 5.0),
        ('2025-01-12', 'S', 'K', '2025-01-13', 1, 36.0, 0, 40, 'combination', 'refit', null, 4.0),
        ('2025-01-05', 'S', 'Z', '2025-01-06', 1, 0.0, 0, 0, 'zero', 'selection', null, null),
        ('2025-01-12', 'S', 'Z', '2025-01-13', 1, 0.0, 0, 0, 'zero', 'refit', null, null)""")
    review = accuracy_review.accuracy_review(con, date(2025, 1, 19), window_weeks=2, limit=1.5).set_index(
        ["level", "key"]
    )
    over = review.loc[("series", "S|K")]
    assert over["wape"] == pytest.approx(metrics.wape([10, 30], [14, 36]))
    assert over["bias"] == pytest.approx(metrics.relative_bias([10, 30], [14, 36]))
    assert over["tracking_signal"] == pytest.approx(metrics.tracking_signal([4, 6])) == pytest.approx(2.0)
    assert over["out_of_control"], "|TS| 2 > limit 1.5"
    # Nothing forecast, nothing ordered: no bias (0, as metrics.tracking_signal says), not NaN.
    silent = review.loc[("series", "S|Z")]
    assert silent["tracking_signal"] == 0.0 and not silent["out_of_control"]
    assert np.isnan(silent["wape"]) and np.isnan(silent["bias"])


def test_series_without_a_choice_use_the_class_default_without_a_backtest():
    rng = np.random.default_rng(2)
    smooth = rng.poisson(20, 40).astype(float)
    sparse = np.where(rng.random(40) < 0.3, rng.poisson(4, 40) + 1, 0).astype(float)
    tasks = [
        {"key": ("S", "A"), "first_week": START, "y": smooth},
        {"key": ("S", "B"), "first_week": START, "y": sparse},
    ]
    origin = START + timedelta(weeks=40, days=-1)
    forecasts, selected = forecast_panel(tasks, origin, ForecastingConfig(workers=1, horizon_weeks=2), choices={})
    assert set(forecasts["method"]) == {"class_default"}
    models = dict(zip([k[1] for k in forecasts["key"]], forecasts["model"], strict=True))
    assert models == {"A": "combination", "B": "sba"}
    # the fits are returned as choices to store (no backtest: no scores), so later
    # origins refit them instead of fitting the class default cold again
    picks = selected.set_index(selected["key"].map(lambda key: key[1]))
    assert picks["model"].to_dict() == {"A": "combination", "B": "sba"}
    assert set(picks["scores_json"]) == {"{}"} and picks["fallback_reason"].isna().all()
    assert "start_params" in json.loads(picks.loc["A", "params_json"])


def test_a_class_default_fitted_before_the_first_grid_origin_is_refit_at_the_next_origins(tmp_path):
    """Before the first grid origin with data (the default 26-week grid's 2023-12-10
    precedes the data), every series is on its class default: fitted once, stored as
    its choice, refit at the next origins (not fitted cold every week). A combination
    is stored only once its history carries the SARIMAX part (16 weeks)."""
    config = load_config(PROJECT_ROOT / "restock.yaml").override(
        {"forecasting.workers": 1, "forecasting.horizon_weeks": 4}
    )
    con = _warehouse(tmp_path / "pre.duckdb", _demand())
    first, second, third = date(2024, 4, 14), date(2024, 4, 21), date(2024, 4, 28)  # 15, 16, 17 weeks of history
    origins.run_forecasts(con, [first, second, third], config)
    methods = con.execute(
        """select forecast_origin, sku, list(distinct method order by method) from analytics.segment_forecasts
           group by all order by all"""
    ).fetchall()
    assert {(origin, sku): tuple(m) for origin, sku, m in methods} == {
        (first, "K1"): ("class_default",),  # combination without its SARIMAX part yet: not stored
        (first, "K2"): ("class_default",),
        (first, "K3"): ("class_default",),  # intermittent: SBA, stored
        (second, "K1"): ("class_default",),  # 16 weeks: the SARIMAX part, stored
        (second, "K2"): ("class_default",),
        (second, "K3"): ("refit",),
        (third, "K1"): ("refit",),
        (third, "K2"): ("refit",),
        (third, "K3"): ("refit",),
    }
    stored = con.execute(
        """select selection_origin, sku, model, params_json, scores_json from analytics.model_choices
           where segment_id <> '*' order by all"""  # the SKU and total series ("*") have choices too
    ).df()
    assert stored.groupby("sku")["selection_origin"].agg(lambda d: set(d.dt.date)).to_dict() == {
        "K1": {second},
        "K2": {second},
        "K3": {first},
    }
    assert set(stored["scores_json"]) == {"{}"}, "no backtest"
    combinations = stored[stored["model"] == "combination"]
    assert len(combinations) == 4 and all("start_params" in json.loads(p) for p in combinations["params_json"])
    # the same rows whichever way the origins are run (one run, or one run each)
    other = _warehouse(tmp_path / "pre_daily.duckdb", _demand())
    for origin in (first, second, third):
        origins.run_forecasts(other, [origin], config)
    for name, frame in _tables(con).items():
        pd.testing.assert_frame_equal(frame, _tables(other)[name], obj=name)


def test_accuracy_review_is_the_same_to_the_last_digit_whatever_the_row_order(backfilled, config):
    """A re-run reproduces every digit (issue 12, point 11): the review's sums and means
    add their terms in the order of the points' key, not in the order rows are stored."""
    con, _ = backfilled

    def review() -> pd.DataFrame:
        frame = accuracy_review.accuracy_review(
            con, LAST_DAY, config.accuracy.window_weeks, config.accuracy.tracking_signal_limit
        )
        return frame.sort_values(["level", "key", "horizon"], ignore_index=True)

    first = review()
    assert len(first) and first["mase"].notna().any()
    con.execute("select setseed(0.3)")
    for relation in ("analytics.segment_forecasts", "analytics.forecast_members", "marts.customer_sku_weekly_demand"):
        con.execute(f"create temp table _shuffled as select * from {relation} order by random()")
        con.execute(f"delete from {relation}")
        con.execute(f"insert into {relation} select * from _shuffled")
        con.execute("drop table _shuffled")
        pd.testing.assert_frame_equal(review(), first, check_exact=True, obj=f"after shuffling {relation}")


def test_a_seasonal_naive_chosen_as_the_plain_naive_is_refit_as_chosen():
    # 60 weeks: a one-off peak of 500 in weeks 8..11 (a cohort's first orders), then ~100.
    y = np.full(60, 100.0)
    y[8:12] = 500.0
    y[-1] = 120.0
    task = {"key": ("S", "K"), "first_week": START, "y": y}
    origin = START + timedelta(weeks=60, days=-1)
    settings = ForecastingConfig(workers=1, horizon_weeks=4)
    # chosen on less than a season of history: season 1 (the last value) was backtested
    naive = {("S", "K"): {"model": "seasonal_naive", "params": {"season": 1}, "fallback": False}}
    forecasts, _ = forecast_panel([task], origin, settings, naive)
    assert forecasts["forecast_qty"].tolist() == [120.0] * 4
    # chosen with a full season (or stored before the season was kept): last year's weeks
    yearly = {("S", "K"): {"model": "seasonal_naive", "params": {}, "fallback": False}}
    forecasts, _ = forecast_panel([task], origin, settings, yearly)
    assert forecasts["forecast_qty"].tolist() == [500.0] * 4  # weeks 8..11 of a year ago
