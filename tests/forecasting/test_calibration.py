"""Interval calibration (restock.forecasting.calibration): the normalised errors and
the scales by hand, the scale recovering a known miscalibration on simulated errors,
and on a real DuckDB file intervals that widen with the horizon when the level
wanders, closer to their 80 % than the models' own."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.config import load_config
from restock.forecasting import origins, tables
from restock.forecasting.calibration import (
    MAX_SCALE,
    apply_scales,
    horizon_scales,
    normalised_errors,
)
from restock.settings import PROJECT_ROOT


def _store(con, rows: list[tuple]) -> None:
    """rows: (origin, segment, sku, week, horizon, forecast, lower, upper, model_lower, model_upper)."""
    for origin, segment, sku, week, h, f, lo, up, mlo, mup in rows:
        con.execute(
            """insert into analytics.segment_forecasts (forecast_origin, segment_id, sku, period_start, horizon,
                   forecast_qty, lower_qty, upper_qty, model, method, model_lower_qty, model_upper_qty)
               values (?, ?, ?, ?, ?, ?, ?, ?, 'm', 'refit', ?, ?)""",
            [origin, segment, sku, week, h, f, lo, up, mlo, mup],
        )


def test_normalised_errors_by_hand(tmp_path):
    con = duckdb.connect(str(tmp_path / "cal.duckdb"))
    for schema in ("marts", "analytics"):
        con.execute(f"create schema {schema}")
    tables.ensure_tables(con)
    con.execute(
        "create table marts.customer_sku_weekly_demand (customer_id varchar, sku varchar, week_start date,"
        " requested_qty double, ordered_qty double)"
    )
    o1, o2 = date(2025, 3, 2), date(2025, 3, 9)  # Sundays
    w1, w2 = date(2025, 3, 3), date(2025, 3, 10)
    for made in (o1, o2):
        con.execute(
            "insert into analytics.forecast_members (forecast_origin, customer_id, segment_id) values (?, 'c1', 'S')",
            [made],
        )
    _store(
        con,
        [
            # above the forecast: 16 − 10 = 6 over a model half-width of 12 − 10 = 2 → u = 3
            # (the stored bounds were already scaled: they do not count)
            (o1, "S", "K", w2, 2, 10.0, 6.0, 14.0, 8.0, 12.0),
            # below: 4 − 12 = −8 over 12 − 8 = 4 → u = 2
            (o1, "S", "K", w1, 1, 12.0, 8.0, 13.0, None, None),  # before calibration: stored = model bounds
            # a zero-width interval: actual 16 ≠ 16? forecast 16 = actual → covered, u = 0
            (o2, "S", "K", w2, 1, 16.0, 16.0, 16.0, 16.0, 16.0),
            # made on the review origin itself: not counted
            (date(2025, 3, 16), "S", "K", w2, 1, 100.0, 0.0, 200.0, None, None),
        ],
    )
    con.execute(
        "insert into marts.customer_sku_weekly_demand values ('c1', 'K', ?, 4, 4), ('c1', 'K', ?, 16, 16)", [w1, w2]
    )
    got = normalised_errors(con, date(2025, 3, 16), 13)
    assert got["horizon"].tolist() == [1, 1, 2]
    assert got["u"].tolist() == pytest.approx([2.0, 0.0, 3.0])
    # an actual off a zero-width interval can never be covered
    con.execute("update marts.customer_sku_weekly_demand set requested_qty = 17 where week_start = ?", [w2])
    assert np.isinf(normalised_errors(con, date(2025, 3, 16), 13)["u"].to_numpy()[1])


def test_scales_by_hand_and_applied_around_the_point():
    errors = pd.DataFrame({"horizon": [1] * 10 + [2] * 10 + [3] * 3, "u": list(np.arange(1, 11) / 10) * 2 + [9, 9, 9]})
    # the smallest scale covering 8 of 10: the 8th of the sorted values (0.8)
    scales = horizon_scales(
        errors.assign(u=lambda f: f["u"] * np.where(f["horizon"] == 2, 3.0, 1.0)), 0.8, min_points=5
    )
    assert scales == {1: pytest.approx(0.8), 2: pytest.approx(2.4)}  # horizon 3: 3 errors < 5, left at 1
    assert horizon_scales(pd.DataFrame({"horizon": [1] * 5, "u": [50.0] * 5}), 0.8, min_points=5) == {1: MAX_SCALE}
    rows = pd.DataFrame(
        {
            "horizon": [1, 2, 3],
            "forecast_qty": [10.0, 10.0, 10.0],
            "lower_qty": [6.0, 6.0, 6.0],
            "upper_qty": [12.0, 12.0, 12.0],
        }
    )
    out = apply_scales(rows, scales)
    assert out["lower_qty"].tolist() == pytest.approx([6.8, 0.4, 6.0])
    assert out["upper_qty"].tolist() == pytest.approx([11.6, 14.8, 12.0])
    assert out["model_lower_qty"].tolist() == [6.0] * 3 and out["model_upper_qty"].tolist() == [12.0] * 3
    assert out["interval_scale"].tolist() == pytest.approx([0.8, 2.4, 1.0])
    assert out["forecast_qty"].tolist() == [10.0] * 3  # the point never moves
    wide = apply_scales(rows, {1: 4.0})  # 10 − 4 × 4 < 0: clipped at 0
    assert wide["lower_qty"].iloc[0] == 0.0
    with pytest.raises(ValueError, match="level"):
        horizon_scales(errors, 1.2)


def test_a_known_miscalibration_is_recovered_on_simulated_errors():
    # Intervals built for sd 1 while the errors have sd 2 (h1) and 1 (h2): the scales
    # are ~2 and ~1, and the scaled intervals cover ~80 % of fresh errors.
    rng = np.random.default_rng(0)
    z = 1.2816  # 80 % central normal interval
    past = [(h, rng.normal(0, sd, 2000)) for h, sd in ((1, 2.0), (2, 1.0))]
    errors = pd.concat([pd.DataFrame({"horizon": h, "u": np.abs(e) / z}) for h, e in past])
    scales = horizon_scales(errors, 0.8)
    assert scales[1] == pytest.approx(2.0, abs=0.12) and scales[2] == pytest.approx(1.0, abs=0.06)
    for h, sd in ((1, 2.0), (2, 1.0)):
        fresh = rng.normal(0, sd, 20000)
        covered = np.mean(np.abs(fresh) <= scales[h] * z)
        assert 0.77 <= covered <= 0.83, (h, covered)
        assert np.mean(np.abs(fresh) <= z) < 0.6 if sd == 2.0 else True


# --------------------------------------------------------------------------- on origins

START = date(2024, 1, 1)  # a Monday
FIRST_ORIGIN, LAST_ORIGIN = date(2024, 9, 1), date(2025, 3, 30)  # Sundays
SKUS = [f"K{i}" for i in range(12)]


def _wandering_demand() -> pd.DataFrame:
    """Each SKU's level is a random walk (sd 6 a week around ~100) plus Poisson noise:
    the error of a forecast grows with its horizon, which in-sample residuals miss."""
    rng = np.random.default_rng(21)
    rows = []
    weeks = (LAST_ORIGIN - START).days // 7 + 1
    for sku in SKUS:
        level = 100 + np.cumsum(rng.normal(0, 6, weeks))
        for i in range(weeks):
            week = START + timedelta(weeks=i)
            rows.append(("c1", sku, week, float(rng.poisson(max(level[i], 5.0)))))
    frame = pd.DataFrame(rows, columns=["customer_id", "sku", "week_start", "requested_qty"])
    frame["ordered_qty"] = frame["requested_qty"]
    return frame


def _run(path: Path, cutoff_weekday: int = 7) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create schema analytics")
    con.register("_demand", _wandering_demand())
    con.execute("create table marts.customer_sku_weekly_demand as select * from _demand")
    con.execute("create table marts.customers (as_of_date date, customer_id varchar)")
    con.execute(
        """create table analytics.customer_segments as
           select d::date as as_of_date, 'c1' as customer_id, 'S1' as segment_id, 'active' as lifecycle_state,
                  '城东区' as region
           from range(?::date, ?::date + 1, interval 1 day) t(d)""",
        [FIRST_ORIGIN - timedelta(weeks=30), LAST_ORIGIN],
    )
    tables.ensure_tables(con)
    config = load_config(PROJECT_ROOT / "restock.yaml").override(
        {
            "forecasting.workers": 1,
            "forecasting.interval_calibration": True,
            "forecasting.reselect_out_of_control": False,
            "forecasting.cutoff_weekday": cutoff_weekday,
        }
    )
    first = FIRST_ORIGIN + timedelta(days=cutoff_weekday % 7)  # FIRST_ORIGIN is a Sunday
    days = [first + timedelta(weeks=i) for i in range((LAST_ORIGIN - first).days // 7 + 1)]
    origins.run_forecasts(con, days, config)
    return con


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    con = _run(tmp_path_factory.mktemp("calibration") / "on.duckdb")
    yield con
    con.close()


def _coverage(con, since: date, lower: str, upper: str) -> pd.DataFrame:
    return (
        con.execute(
            f"""select f.horizon, avg(case when d.requested_qty between f.{lower} and f.{upper} then 1.0 else 0.0 end) as coverage
                from analytics.segment_forecasts f
                join marts.customer_sku_weekly_demand d on d.sku = f.sku and d.week_start = f.period_start
                where f.forecast_origin >= ? group by 1 order by 1""",
            [since],
        )
        .df()
        .set_index("horizon")["coverage"]
    )


def test_calibrated_intervals_widen_with_the_horizon_and_cover_closer_to_80_percent(run):
    stored = run.execute(
        """select forecast_origin, horizon, min(interval_scale) as low, max(interval_scale) as high
           from analytics.segment_forecasts group by 1, 2 order by 1, 2"""
    ).df()
    assert (stored["low"] == stored["high"]).all(), "one scale per origin and horizon"
    since = date(2025, 1, 5)  # 13 weeks of calibration history by then
    scale = stored[stored["forecast_origin"] >= pd.Timestamp(since)].groupby("horizon")["low"].mean()
    assert scale.loc[8] > scale.loc[1] > 1.0, scale  # wider than the models' own, more at the far end
    assert (
        run.execute("select count(*) from analytics.segment_forecasts where model_lower_qty is null").fetchone()[0] == 0
    )
    # Measured (12 SKUs, 13 origins × 8 horizons): the models' own bounds covered 57-64 % at
    # horizons 6-8 (78 % at 1); calibrated 69-82 %, mean distance to 80 % 0.055 against 0.126.
    calibrated = _coverage(run, since, "lower_qty", "upper_qty")
    own = _coverage(run, since, "model_lower_qty", "model_upper_qty")
    assert (calibrated - 0.8).abs().mean() < 0.6 * (own - 0.8).abs().mean(), (calibrated, own)
    assert own.loc[8] < 0.7 < calibrated.loc[8], (calibrated, own)


def test_calibration_reads_only_the_past(run, tmp_path):
    on = run
    # Rerunning one origin on a copy that lacks every demand week after it gives the same scales.
    origin = date(2025, 2, 2)
    copy = duckdb.connect(str(tmp_path / "past.duckdb"))
    for schema in ("marts", "analytics"):
        copy.execute(f"create schema {schema}")
    for table in ("marts.customer_sku_weekly_demand", "analytics.segment_forecasts", "analytics.forecast_members"):
        frame = on.execute(f"select * from {table}").df()  # noqa: F841 (read by name below)
        copy.execute(f"create table {table} as select * from frame")
    copy.execute("delete from marts.customer_sku_weekly_demand where week_start > ?", [origin])
    copy.execute("delete from analytics.segment_forecasts where forecast_origin >= ?", [origin])
    from restock.forecasting.calibration import horizon_scales as scales_of

    level = load_config(PROJECT_ROOT / "restock.yaml").forecasting.interval_level
    expected = scales_of(normalised_errors(copy, origin, 13), level)
    stored = dict(
        on.execute(
            "select horizon, max(interval_scale) from analytics.segment_forecasts where forecast_origin = ? group by 1",
            [origin],
        ).fetchall()
    )
    assert expected and {h: pytest.approx(k) for h, k in expected.items()} == {h: stored[h] for h in expected}


def test_one_population_join_serves_the_calibration_the_signals_and_the_backtest(run):
    """compute_origin joins past populations and their demand once
    (reselection.build_population_actual); the calibration errors, the reselection
    signals and the reconciliation backtest read it and give exactly what their own
    joins give."""
    from restock.forecasting import levels, reselection
    from restock.forecasting.calibration import normalised_errors

    config = load_config(PROJECT_ROOT / "restock.yaml").override({"forecasting.reselect_out_of_control": True})
    weeks, quantity = config.accuracy.window_weeks, config.forecasting.quantity
    table = origins._population_actual(run, LAST_ORIGIN, config)
    try:
        assert table is not None and run.execute(f"select count(*) from {table}").fetchone()[0] > 0
        own = normalised_errors(run, LAST_ORIGIN, config.forecasting.interval_calibration_weeks, quantity)
        shared = normalised_errors(run, LAST_ORIGIN, config.forecasting.interval_calibration_weeks, quantity, table)
        assert len(own) > 100
        pd.testing.assert_frame_equal(own, shared, check_exact=True)
        own = reselection.series_tracking_signals(run, LAST_ORIGIN, weeks, quantity)
        shared = reselection.series_tracking_signals(run, LAST_ORIGIN, weeks, quantity, table)
        assert len(own) == len(SKUS) + len(SKUS) + 1  # segment x SKU, SKU and total series
        pd.testing.assert_frame_equal(own, shared, check_exact=True)
        recon_weeks = config.forecasting.reconciliation_window_weeks
        own_past = levels._past_origins(run, LAST_ORIGIN, recon_weeks, quantity)
        shared_past = levels._past_origins(run, LAST_ORIGIN, recon_weeks, quantity, table)
        assert len(own_past) == len(shared_past) == recon_weeks
        for a, b in zip(own_past, shared_past, strict=True):
            for name in ("base_agg", "base_bottom", "actual_agg", "actual_bottom", "variances", "proportions"):
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    finally:
        run.execute(f"drop table if exists {reselection.POPULATION_ACTUAL}")


def test_a_run_keeps_the_past_populations_demand_between_origins_and_gives_each_the_rows_of_its_own_join(run):
    """run_forecasts joins the past populations and their demand incrementally
    (reselection.RunPopulationActual): each origin sees exactly the rows of its own
    build, in order, after a jump forward, a repeat and a step back (a rebuild)."""
    from restock.forecasting import reselection

    config = load_config(PROJECT_ROOT / "restock.yaml").override({"forecasting.reselect_out_of_control": True})
    kept = reselection.RunPopulationActual(config.forecasting.quantity)
    sequence = [date(2025, 1, 5), date(2025, 1, 12), date(2025, 1, 19), date(2025, 2, 23), date(2025, 2, 23)]
    sequence += [date(2025, 3, 2), date(2025, 1, 26), date(2025, 2, 2)]
    try:
        for origin in sequence:
            table = origins._population_actual(run, origin, config)
            assert table is not None
            own = run.execute(f"select * from {table} order by all").df()
            run.execute(f"drop table {table}")
            shared = origins._population_actual(run, origin, config, kept)
            got = run.execute(f"select * from {shared} order by all").df()
            kept.release(run)
            assert len(own) > 50
            pd.testing.assert_frame_equal(own, got, check_exact=True)
        # only what a later origin can need is kept
        first_kept = run.execute(f"select min(forecast_origin) from {kept.TABLE}").fetchone()[0]
        assert first_kept >= date(2025, 2, 2) - timedelta(weeks=config.forecasting.horizon_weeks + 13)
    finally:
        kept.close(run)
    left = run.execute(
        "select table_name from duckdb_tables() where temporary union all "
        "select view_name from duckdb_views() where temporary and not internal and view_name <> '_demand'"  # the fixture's frame
    ).fetchall()
    assert not left


def _assert_same_records(expected: list, got: list, origin: date) -> None:
    assert [r.label for r in expected] == [r.label for r in got], origin
    for a, b in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(a.hierarchy.aggregates, b.hierarchy.aggregates)
        for name in ("base_agg", "base_bottom", "actual_agg", "actual_bottom", "variances", "proportions"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.shape == y.shape, (origin, a.label, name)
            np.testing.assert_array_equal(x, y, err_msg=f"{origin} {a.label} {name}")


def test_a_run_keeps_the_backtest_origins_between_origins_and_gives_each_the_records_of_its_own_read(run):
    """run_forecasts keeps the reconciliation backtest's past origins
    (levels.RunPastOrigins): each origin gets exactly _past_origins' records, in
    order, after a repeat, a jump forward and a step back, and from the rows when a
    past origin's aggregate weeks do not line up with its horizons (then the shifted
    row leaves one origin early, as filtering the rows does)."""
    from restock.forecasting import levels, reselection

    config = load_config(PROJECT_ROOT / "restock.yaml").override({"forecasting.reselect_out_of_control": True})
    window, quantity = config.forecasting.reconciliation_window_weeks, config.forecasting.quantity
    population = reselection.RunPopulationActual(quantity)
    past = levels.RunPastOrigins()
    sequence = [date(2025, 1, 5), date(2025, 1, 12), date(2025, 1, 12), date(2025, 1, 19), date(2025, 2, 16)]
    sequence += [date(2025, 2, 23), date(2025, 1, 26), date(2025, 2, 2)]
    shifted = date(2025, 1, 19)
    run.execute("begin transaction")
    try:
        for step, origin in enumerate(sequence):
            if step == len(sequence) - 2:  # one aggregate row a week late: kept as rows
                run.execute(
                    """update analytics.level_forecasts set period_start = period_start + 7
                       where forecast_origin = ? and level = 'total' and horizon = 2""",
                    [shifted],
                )
            table = origins._population_actual(run, origin, config, population)
            assert table is not None
            expected = levels._past_origins(run, origin, window, quantity, table)
            got = past.records(run, origin, window, table)
            population.release(run)
            assert len(expected) >= 4
            _assert_same_records(expected, got, origin)
            as_rows = {str(kept.made.date()) for kept in past.kept.values() if kept.laid_out is None}
            assert as_rows == ({str(shifted)} if step >= len(sequence) - 2 else set()), (origin, as_rows)
    finally:
        run.execute("rollback")
        population.close(run)


@pytest.fixture(scope="module")
def wednesday_run(tmp_path_factory):
    con = _run(tmp_path_factory.mktemp("wednesday") / "wednesday.duckdb", cutoff_weekday=3)
    yield con
    con.close()


def test_on_a_wednesday_cutoff_each_forecast_meets_the_demand_of_its_own_week(wednesday_run):
    """Horizon 1 of a Wednesday origin is the week that began on the Monday before it
    (calendar.first_forecast_week). The demand the calibration, the reselection signals
    and the reconciliation backtest compare the forecasts with includes that week (it
    used to start after the origin: horizon 1 met no demand, the backtest's horizons
    were one week off), from the shared join as from each one's own."""
    from restock.calendar import first_forecast_week
    from restock.forecasting import levels, reselection
    from restock.forecasting.calibration import normalised_errors

    con = wednesday_run
    config = load_config(PROJECT_ROOT / "restock.yaml").override(
        {"forecasting.reselect_out_of_control": True, "forecasting.cutoff_weekday": 3}
    )
    origin = date(2025, 3, 26)  # a Wednesday
    weeks, quantity = config.accuracy.window_weeks, config.forecasting.quantity
    recon_weeks = config.forecasting.reconciliation_window_weeks
    stored = con.execute(
        "select distinct period_start - forecast_origin from analytics.segment_forecasts where horizon = 1"
    ).fetchall()
    assert stored == [(-2,)]  # the Monday before each Wednesday
    table = origins._population_actual(con, origin, config)
    assert table is not None
    try:
        own = normalised_errors(con, origin, config.forecasting.interval_calibration_weeks, quantity)
        shared = normalised_errors(con, origin, config.forecasting.interval_calibration_weeks, quantity, table)
        pd.testing.assert_frame_equal(own, shared, check_exact=True)
        own = reselection.series_tracking_signals(con, origin, weeks, quantity)
        shared = reselection.series_tracking_signals(con, origin, weeks, quantity, table)
        pd.testing.assert_frame_equal(own, shared, check_exact=True)
        own_past = levels._past_origins(con, origin, recon_weeks, quantity)
        shared_past = levels._past_origins(con, origin, recon_weeks, quantity, table)
        kept_past = levels.RunPastOrigins().records(con, origin, recon_weeks, table)
        assert len(own_past) == recon_weeks
        _assert_same_records(own_past, shared_past, origin)
        _assert_same_records(own_past, kept_past, origin)
    finally:
        con.execute(f"drop table if exists {reselection.POPULATION_ACTUAL}")
    demand = con.execute("select sku, week_start, requested_qty from marts.customer_sku_weekly_demand").df()
    demand = demand.set_index(["sku", "week_start"])["requested_qty"]
    for record in own_past:
        made = date.fromisoformat(record.label)
        skus = list(record.hierarchy.bottom["sku"])
        for h in range(record.actual_bottom.shape[1]):
            week = pd.Timestamp(first_forecast_week(made) + timedelta(weeks=h))
            expected = [float(demand.get((sku, week), 0.0)) for sku in skus]
            np.testing.assert_array_equal(record.actual_bottom[:, h], expected, err_msg=f"{made} h{h + 1}")
        assert record.actual_bottom[:, 0].sum() > 0
