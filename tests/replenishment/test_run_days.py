"""A run of several days (``run_days``, which reuses the inputs the days share) writes
exactly the rows that building and writing each day on its own writes.

The warehouse is that of test_assemble.py (day D, a Sunday origin) carried over eleven
days D .. D+10, with every kind of change the reuse must notice: a new customer (no
share at the origin: the reuse holds), a customer moving warehouse and one losing its
order weekday (the reuse of the day before must not hold), daily stock, order lines
dated inside the run (one with zero quantity), a new forecast origin D+7 with a new
review window (its horizon-1 week has demand, also of c7, which moves warehouse on
D+9), and a horizon-1 forecast of that window made on D+8 (seen from D+8 only).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from restock.replenishment import inputs
from restock.replenishment.inputs import DayCache
from restock.replenishment.tables import TABLES, run_day, run_days, run_days_in_workers, write_days
from tests.replenishment.test_assemble import DAY_TABLES, D, _insert, _warehouse
from tests.warehouse_writer import counting_writer

DAYS = [D + timedelta(days=i) for i in range(11)]
D7 = D + timedelta(days=7)  # the next origin (Sunday)


def _days_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = _warehouse(path)
    for i, day in enumerate(DAYS[1:], 1):
        for table in DAY_TABLES:
            con.execute(
                f"""insert into {table} by name
                    select * replace (?::date as as_of_date) from {table} where as_of_date = ?""",
                [day, D],
            )
        con.execute(
            "update marts.inventory_positions set on_hand_qty = on_hand_qty + ? where as_of_date = ?", [3 * i, day]
        )
        con.execute("insert into analytics.forecast_runs values (?, ?)", [day, D if day < D7 else D7])
        if i >= 2:  # c7 appears: no share at origin D, a share at D7
            con.execute(
                """insert into analytics.customer_segments by name
                   select * replace ('c7' as customer_id, 25 as tier) from analytics.customer_segments
                   where as_of_date = ? and customer_id = 'c1'""",
                [day],
            )
            con.execute("insert into marts.customers values (?, 'c7', 2)", [day])
        if i >= 4:  # c3 moves from WH2 to WH1
            con.execute(
                "update analytics.customer_segments set region = 'R1' where as_of_date = ? and customer_id = 'c3'",
                [day],
            )
        if i >= 9:  # c7 (demand in the review window, no share at its origins) moves to WH2
            con.execute(
                "update analytics.customer_segments set region = 'R2' where as_of_date = ? and customer_id = 'c7'",
                [day],
            )
        if i >= 5:  # c6 loses its order weekday
            con.execute(
                "update marts.customers set order_weekday = null where as_of_date = ? and customer_id = 'c6'", [day]
            )
    cols = ["forecast_origin", "segment_id", "sku", "period_start", "horizon", "forecast_qty", "lower_qty", "upper_qty"]
    rows = []
    for h in range(1, 5):
        start = D7 + timedelta(days=1 + 7 * (h - 1))
        rows.append((D7, "S1", "K1", start, h, 77.0 + h / 3, 60.0, 90.0 + h))
        rows.append((D7, "S1", "K2", start, h, 41.5, 30.0, 55.0))
    _insert(con, "analytics.segment_forecasts", [(*r, "m", "refit") for r in rows], [*cols, "model", "method"])
    shares = [("c1", 0.3), ("c2", 0.2), ("c3", 0.2), ("c4", 0.1), ("c7", 0.2)]
    _insert(
        con,
        "analytics.customer_forecast_shares",
        [(D7, "S1", "K1", c, s, "own_history") for c, s in shares]
        + [(D7, "S1", "K2", c, 1 / 3, "own_history") for c in ("c1", "c6", "c7")],
        ["forecast_origin", "segment_id", "sku", "customer_id", "share", "basis"],
    )
    # A late horizon-1 forecast of the week D+1 .. D+7 (review window of D+7 .. D+10),
    # made on D+8: not seen on D+7, seen from D+8.
    late = D + timedelta(days=8)
    _insert(
        con,
        "analytics.segment_forecasts",
        [(late, "S1", "K2", D + timedelta(days=1), 1, 36.0, 30.0, 42.0, "m", "refit")],
        [*cols, "model", "method"],
    )
    _insert(
        con,
        "analytics.customer_forecast_shares",
        [(late, "S1", "K2", c, 0.5, "own_history") for c in ("c1", "c6")],
        ["forecast_origin", "segment_id", "sku", "customer_id", "share", "basis"],
    )
    con.execute(
        """insert into marts.customer_sku_weekly_demand values ('c1', 'K1', ?, 33, 33), ('c2', 'K1', ?, 12, 12),
           ('c3', 'K1', ?, 9, 9), ('c1', 'K2', ?, 7, 7), ('c7', 'K1', ?, 8, 8)""",
        [D + timedelta(days=1)] * 5,
    )
    con.execute(
        """insert into marts.order_lines values ('c1', 'K2', ?, 4, 4), ('c6', 'K1', ?, 6, 6),
           ('c7', 'K1', ?, 5, 5), ('c6', 'K2', ?, 0, 0)""",
        [D + timedelta(days=2), D + timedelta(days=5), D + timedelta(days=8), D + timedelta(days=9)],
    )
    return con


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    return {table: con.execute(f"select * from analytics.{table} order by all").df() for table in TABLES}


def _assert_same(got: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for table in TABLES:
        assert len(expected[table]), f"{table}: no rows to compare"
        assert set(expected[table]["as_of_date"].dt.date) == set(DAYS) or table == "inventory_alerts"
        pd.testing.assert_frame_equal(got[table], expected[table], check_exact=True, obj=table)


@pytest.fixture(scope="module")
def day_by_day(tmp_path_factory, config) -> dict[str, pd.DataFrame]:
    """Each day built and written alone, nothing reused (the path before DayCache)."""
    con = _days_warehouse(tmp_path_factory.mktemp("days") / "w.duckdb")
    for day in DAYS:
        run_day(con, day, config)
    tables = _tables(con)
    con.close()
    return tables


def test_run_days_writes_the_rows_of_each_day_alone(tmp_path, config, day_by_day):
    con = _days_warehouse(tmp_path / "w.duckdb")
    totals, skipped = run_days(con, DAYS, config)
    assert skipped == []
    assert totals == {table: len(day_by_day[table]) for table in TABLES}
    _assert_same(_tables(con), day_by_day)
    temporary = con.execute("select table_name from duckdb_tables() where temporary").fetchall()
    assert temporary == [], "run_days left its temporary tables behind"


def test_the_reuse_holds_only_while_its_key_is_equal(tmp_path, config, day_by_day):
    """Days in a scrambled order through one cache: back and forth across the origins
    and the review windows, and before the base day of the order-line dates."""
    con = _days_warehouse(tmp_path / "w.duckdb")
    order = [DAYS[i] for i in (3, 2, 8, 9, 10, 1, 0, 4, 5, 6, 7)]
    cache = DayCache()
    for day in order:
        run_day(con, day, config, cache)
    cache.close(con)
    _assert_same(_tables(con), day_by_day)
    # Reused on the days that share an origin / a window and the relevant customers
    # (c7, without a share at D, joins on D+2 without breaking the reuse) ...
    assert cache.hits["customer_forecasts"] >= 2 and cache.hits["horizon1_errors"] >= 2
    # ... and read again on a new origin, window, or a relevant customer's change.
    assert cache.misses["customer_forecasts"] >= 5 and cache.misses["horizon1_errors"] >= 4


def test_each_reader_returns_with_a_cache_what_it_reads_without(tmp_path, config):
    """Reader by reader (some differences would not reach the tables of this warehouse,
    e.g. a first order date of a warehouse without dead stock)."""
    con = _days_warehouse(tmp_path / "w.duckdb")
    horizon, window, quantity = (
        config.forecasting.horizon_weeks,
        config.accuracy.window_weeks,
        config.forecasting.quantity,
    )
    cache = DayCache()
    for day in [DAYS[i] for i in (3, 2, 8, 9, 10, 1, 0, 4, 5, 6, 7)]:
        customers, _ = inputs.read_customers(con, day, config)
        for name, read in {
            "customer_forecasts": lambda c, d=day, k=customers: inputs.read_customer_forecasts(con, d, k, horizon, c),
            "next_cycle": lambda c, d=day, k=customers: inputs.read_next_cycle_forecasts(con, d, k, horizon, c),
            "horizon1_errors": lambda c, d=day, k=customers: inputs.read_horizon1_errors(
                con, d, k, window, quantity, c
            ),
            "demand_dates": lambda c, d=day, k=customers: inputs.read_demand_dates(con, d, k, quantity, c),
        }.items():
            got, expected = read(cache), read(None)
            got = got if isinstance(got, tuple) else (got,)
            expected = expected if isinstance(expected, tuple) else (expected,)
            assert len(got) == len(expected)
            for g, e in zip(got, expected, strict=True):
                if isinstance(e, pd.DataFrame):
                    assert len(e), f"{name} {day}: no rows to compare"
                    pd.testing.assert_frame_equal(g, e, check_exact=True, obj=f"{name} {day}")
                else:
                    assert g == e, f"{name} {day}"
    cache.close(con)
    assert con.execute("select count(*) from duckdb_tables() where temporary").fetchall() == [(0,)]


def test_a_failing_day_leaves_the_days_before_it_written(tmp_path, config, day_by_day):
    con = _days_warehouse(tmp_path / "w.duckdb")
    bad = DAYS[5]
    con.execute("delete from marts.products where as_of_date = ?", [bad])
    with pytest.raises(ValueError, match=f"marts.products has no row with as_of_date = {bad}"):
        run_days(con, DAYS, config)
    written = _tables(con)
    for table in TABLES:
        before = day_by_day[table][day_by_day[table]["as_of_date"].dt.date < bad].reset_index(drop=True)
        pd.testing.assert_frame_equal(written[table], before, check_exact=True, obj=table)
    assert con.execute("select count(*) from duckdb_tables() where temporary").fetchall() == [(0,)]


def _blocks_of(config, days: int):
    return config.override({"backfill.workers": 2, "backfill.block_days": days})


def test_run_days_in_workers_writes_the_rows_of_each_day_alone(tmp_path, config, day_by_day, caplog):
    """Two worker processes, blocks of 3 days (4 blocks, 2 rounds): the same rows as day
    by day, every day reported once and in order, and the workers' warnings (customer
    c4's region has no warehouse, every day) logged here."""
    path = tmp_path / "w.duckdb"
    _days_warehouse(path).close()
    seen: list = []
    opened: list = []
    with caplog.at_level(logging.WARNING, logger="restock"):
        totals, skipped = run_days_in_workers(
            counting_writer(path, opened), path, DAYS, _blocks_of(config, 3), lambda i, day, *_: seen.append((i, day))
        )
    assert len(opened) == 3, "one connection to prepare the tables, one to write each round"
    assert skipped == []
    assert seen == list(enumerate(DAYS, 1))
    assert totals == {table: len(day_by_day[table]) for table in TABLES}
    con = duckdb.connect(str(path))
    _assert_same(_tables(con), day_by_day)
    unmapped = [r for r in caplog.records if "regions without a warehouse" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in unmapped] == [str(day) for day in DAYS]
    assert {r.name for r in unmapped} == {"restock.replenishment.inputs"}


@pytest.mark.parametrize("bad_index", [1, 5])
def test_a_failing_day_in_a_worker_leaves_the_days_before_it_written(tmp_path, config, day_by_day, bad_index):
    """Day 1 fails in the first block of the first round (the second block, days 3-5,
    is built but not written); day 5 in its second block (days 0-4 written)."""
    path = tmp_path / "w.duckdb"
    con = _days_warehouse(path)
    bad = DAYS[bad_index]
    con.execute("delete from marts.products where as_of_date = ?", [bad])
    con.close()
    with pytest.raises(ValueError, match=f"marts.products has no row with as_of_date = {bad}") as raised:
        run_days_in_workers(counting_writer(path), path, DAYS, _blocks_of(config, 3))
    assert any("raised in a worker process" in note for note in raised.value.__notes__)
    written = _tables(duckdb.connect(str(path)))
    for table in TABLES:
        before = day_by_day[table][day_by_day[table]["as_of_date"].dt.date < bad].reset_index(drop=True)
        pd.testing.assert_frame_equal(written[table], before, check_exact=True, obj=table)


@pytest.mark.parametrize("workers, block_days", [(1, 3), (2, 6)])
def test_one_worker_or_a_run_shorter_than_two_blocks_is_run_days(tmp_path, config, day_by_day, workers, block_days):
    path = tmp_path / "w.duckdb"
    _days_warehouse(path).close()
    settings = _blocks_of(config, block_days).override({"backfill.workers": workers})
    opened: list = []
    totals, skipped = run_days_in_workers(counting_writer(path, opened), path, DAYS, settings)
    assert len(opened) == 1, "one connection, held for the whole run (no rounds)"
    assert (totals, skipped) == ({table: len(day_by_day[table]) for table in TABLES}, [])
    _assert_same(_tables(duckdb.connect(str(path))), day_by_day)


def test_writing_no_day_writes_nothing(tmp_path, config, day_by_day):
    """A round whose days all lack a forecast (the first weeks of a backfill)."""
    con = _days_warehouse(tmp_path / "w.duckdb")
    run_days(con, DAYS, config)
    assert write_days(con, []) == dict.fromkeys(TABLES, 0)
    _assert_same(_tables(con), day_by_day)
