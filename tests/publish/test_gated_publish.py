"""Gated publishing of a day's tables (restock.publish.gated_publish) on a real DuckDB file:
the published-table suites run for real (Great Expectations), Parquet and serving.duckdb
are real files. The warehouse holds a small hand-made day set that passes every gate;
each test breaks one thing."""

import os
import uuid
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from restock.config import load_config
from restock.forecasting.tables import ensure_tables as ensure_forecast_tables
from restock.performance.kpis import ensure_table as ensure_kpi_table
from restock.performance.replay_table import ensure_table as ensure_replay_table
from restock.publish import published_days, published_state, serving_path
from restock.publish.gated_publish import publish_days
from restock.replenishment.tables import ensure_tables as ensure_replenishment_tables
from restock.segmentation.tables import ensure_tables as ensure_segment_tables
from restock.settings import PROJECT_ROOT

ORIGIN, D1, D2, D3 = date(2024, 1, 7), date(2024, 1, 8), date(2024, 1, 9), date(2024, 1, 10)
CUSTOMERS = {"C1": 0.5, "C2": 0.3, "C3": 0.2}  # share of the segment's demand


@pytest.fixture(scope="module")
def config():
    return load_config(PROJECT_ROOT / "restock.yaml")


def _build_warehouse(path: Path, days=(D1, D2)) -> None:
    con = duckdb.connect(str(path))
    ensure_segment_tables(con)
    ensure_forecast_tables(con)
    ensure_replenishment_tables(con)
    ensure_kpi_table(con)
    ensure_replay_table(con)
    con.execute("create schema if not exists marts")
    con.execute(
        "create table marts.inventory_positions (as_of_date date, warehouse_id varchar, sku varchar, "
        "on_hand_qty double, in_transit_qty double, allocated_qty double)"
    )
    con.execute("create table marts.products (as_of_date date, sku varchar, is_active boolean)")
    con.execute("create table marts.customers (as_of_date date, customer_id varchar, order_weekday integer)")
    for sku in ("S1", "S2"):
        for h in (1, 2):
            con.execute(
                "insert into analytics.segment_forecasts (forecast_origin, segment_id, sku, period_start, horizon, forecast_qty, lower_qty, upper_qty, model, method, fallback_reason, naive_mae) values (?, 'SEG1', ?, ?, ?, 100, 80, 120, "
                "'combination', 'combination', null, 10)",
                [ORIGIN, sku, date(2024, 1, 1 + 7 * h), h],
            )
        for cid, share in CUSTOMERS.items():
            con.execute(
                "insert into analytics.customer_forecast_shares values (?, 'SEG1', ?, ?, ?, 'own_history', null, null)",
                [ORIGIN, sku, cid, share],
            )
    con.execute(
        "insert into analytics.accuracy_reviews values (?, 'total', 'total', 1, 13, 10, 1000, 1050, "
        "0.2, 0.8, 0.05, 1.5, false, 0.8)",
        [ORIGIN],
    )
    for day in days:
        con.execute("insert into analytics.forecast_runs values (?, ?)", [day, ORIGIN])
        for cid in CUSTOMERS:
            con.execute("insert into marts.customers values (?, ?, 3)", [day, cid])  # orders on Wednesdays
            con.execute(
                "insert into analytics.customer_segments values (?, ?, 5, 'crm', '便利店', '城东区', 'active', "
                "'active', 3, 10, 500, 3, 3, 3, 'SEG1')",
                [day, cid],
            )
        for sku in ("S1", "S2"):
            con.execute(
                "insert into analytics.product_classes values (?, ?, 52, 5000, 90000, 0.5, 'A', 0.2, 'X', "
                "1.0, 0.1, 'smooth')",
                [day, sku],
            )
            con.execute("insert into marts.inventory_positions values (?, 'WH01', ?, 500, 100, 50)", [day, sku])
            con.execute("insert into marts.products values (?, ?, true)", [day, sku])
            con.execute(
                "insert into analytics.replenishment_plan values (?, 'WH01', ?, 500, 100, 50, 550, 14.3, 3.0, 5, 1, "
                "0.98, 40, 200, 300, 0, 38.5, 'periodic_review', 'A', 50, 1, 100, true, 2, 100, 12, 'rmse_h1_8w', 3)",
                [day, sku],
            )
            for cid, share in CUSTOMERS.items():
                qty = round(100 * share)
                con.execute(
                    "insert into analytics.customer_order_suggestions values (?, 'WH01', ?, ?, ?, 5, ?, ?, ?, "
                    "'unconstrained')",
                    [day, cid, sku, date(2024, 1, 8), 100 * share, qty, qty],
                )
        con.execute(
            "insert into analytics.inventory_alerts values (?, 'WH01', 'S1', 'overstock', 'low', 70, 60, "
            "500, 'days of supply 70 > 60')",
            [day],
        )
        _insert_kpis(con, day)
        _insert_replay(con, day)
    con.close()


def _insert_kpis(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """KPI rows that add up: two SKUs of WH01, the warehouse and the total, per window."""
    for weeks in (1, 13):
        for level, key, warehouse, sku, share in (
            ("warehouse_sku", "WH01|S1", "WH01", "S1", 1),
            ("warehouse_sku", "WH01|S2", "WH01", "S2", 1),
            ("warehouse", "WH01", "WH01", None, 2),
            ("total", "all", None, None, 2),
        ):
            con.execute(
                "insert into analytics.kpis (as_of_date, window_weeks, level, key, warehouse_id, sku, window_start, "
                "order_lines, requested_qty, supplied_qty, quantity_fill_rate, line_fill_rate, stockout_days, "
                "on_hand_qty, demand_cycles, served_cycles) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0.95, 0.9, 0, ?, 1, 1)",
                [day, weeks, level, key, warehouse, sku, day - timedelta(days=7 * weeks - 1), 10 * share]
                + [100 * share, 95 * share, 500 * share],
            )


def _insert_replay(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """Replay rows that add up: two SKUs of WH01, the warehouse and the total."""
    for level, key, warehouse, sku, share in (
        ("warehouse_sku", "WH01|S1", "WH01", "S1", 1),
        ("warehouse_sku", "WH01|S2", "WH01", "S2", 1),
        ("warehouse", "WH01", "WH01", None, 2),
        ("total", "all", None, None, 2),
    ):
        con.execute(
            "insert into analytics.replenishment_replay (as_of_date, level, key, warehouse_id, sku, replay_weeks, "
            "window_start, demand_qty, actual_supplied_qty, plan_supplied_qty, plan_fill_rate, plan_avg_on_hand_qty, "
            "plan_stockout_days, plan_orders) values (?, ?, ?, ?, ?, 13, ?, ?, ?, ?, 0.9, ?, 0, ?)",
            [day, level, key, warehouse, sku, day - timedelta(days=90), 100 * share, 95 * share, 90 * share]
            + [400 * share, 2 * share],
        )


def _serving(data_dir: Path, sql: str):
    con = duckdb.connect(str(serving_path(data_dir)), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture()
def setup(tmp_path, config):
    warehouse = tmp_path / "warehouse.duckdb"
    _build_warehouse(warehouse)
    data_dir = tmp_path / "data"
    return warehouse, data_dir


def _publish(warehouse, data_dir, days, config, **kw):
    con = duckdb.connect(str(warehouse))
    try:
        return publish_days(con, data_dir, days, config, data_docs_dir=data_dir / "quality" / "docs", **kw)
    finally:
        con.close()


def test_a_good_day_is_published_to_parquet_and_serving(setup, config):
    warehouse, data_dir = setup
    outcomes = _publish(warehouse, data_dir, [D1, D2], config)
    assert [o.published for o in outcomes] == [True, True], [o.message() for o in outcomes]
    assert all(g.passed for o in outcomes for g in o.gates.values())
    assert set(outcomes[0].gates) == {
        "customer_segments",
        "product_classes",
        "demand_forecasts",
        "forecast_accuracy",
        "replenishment_plan",
        "customer_order_suggestions",
        "inventory_alerts",
        "kpis",
        "replenishment_replay",
    }
    # 2 SKUs x 2 horizons at segment level + x 3 customers
    assert outcomes[1].rows["demand_forecasts"] == 4 + 12
    assert _serving(data_dir, "select as_of_date, count(*) from customer_order_suggestions group by 1 order by 1") == [
        (D1, 6),
        (D2, 6),
    ]
    assert _serving(data_dir, "select distinct as_of_date from replenishment_plan_latest") == [(D2,)]
    # Customer rows are the segment forecast times the share.
    assert _serving(
        data_dir,
        "select forecast_qty from demand_forecasts_latest where customer_id = 'C2' and sku = 'S1' and horizon = 1",
    ) == [(pytest.approx(30.0),)]


def _break(warehouse, sql, params=()):
    con = duckdb.connect(str(warehouse))
    con.execute(sql, list(params))
    con.close()


def test_a_failing_gate_publishes_nothing_of_that_day_and_leaves_the_published_files_untouched(setup, config):
    warehouse, data_dir = setup
    assert all(o.published for o in _publish(warehouse, data_dir, [D1, D2], config))
    before = published_state(data_dir)
    _break(
        warehouse,
        "update analytics.customer_order_suggestions set suggested_qty = -5 "
        "where as_of_date = ? and customer_id = 'C2' and sku = 'S2'",
        [D2],
    )
    _break(
        warehouse,
        "update analytics.replenishment_plan set safety_stock = 'inf'::double where as_of_date = ? and sku = 'S1'",
        [D2],
    )
    [outcome] = _publish(warehouse, data_dir, [D2], config)
    assert not outcome.published
    assert outcome.failed_tables == ["replenishment_plan", "customer_order_suggestions"]
    message = outcome.message()
    assert "suggested_qty" in message and "-5" in message and "row 4" in message, (
        message
    )  # rows in key order: C1 S1, C1 S2, C2 S1, C2 S2
    assert "safety_stock" in message and "inf" in message, message
    docs = outcome.gates["customer_order_suggestions"].data_docs_path
    assert docs is not None and docs.exists() and docs.is_relative_to(data_dir / "quality")
    assert published_state(data_dir) == before, "a failed day must not touch what readers see"
    assert _serving(data_dir, "select min(suggested_qty) from customer_order_suggestions_latest") == [(20,)]


def test_coverage_row_drop_and_availability_are_gated(setup, config):
    warehouse, data_dir = setup
    config = config.override({"publishing.max_row_drop_share": 0.4})  # 2 -> 1 row is a 50% drop
    assert all(o.published for o in _publish(warehouse, data_dir, [D1], config))
    # A customer's suggestions vanish; half the plan disappears; a rationed SKU gives
    # out more than the warehouse has.
    _break(
        warehouse, "delete from analytics.customer_order_suggestions where as_of_date = ? and customer_id = 'C3'", [D2]
    )
    _break(warehouse, "delete from analytics.replenishment_plan where as_of_date = ? and sku = 'S2'", [D2])
    _break(
        warehouse,
        "update analytics.customer_order_suggestions set allocation_rule = 'tier_weights', "
        "suggested_qty = 400, allocated_qty = 400 where as_of_date = ? and sku = 'S1'",
        [D2],
    )
    [outcome] = _publish(warehouse, data_dir, [D2], config)
    assert not outcome.published
    plan = outcome.gates["replenishment_plan"].message()
    assert "Row count did not drop" in plan and "1 rows (expected 2..any)" in plan, plan
    assert "Every active SKU" in plan and "1 expected value(s) absent: S2" in plan, plan
    suggestions = outcome.gates["customer_order_suggestions"].message()
    assert "Every active customer" in suggestions and "absent: C3" in suggestions, suggestions
    assert "never allocates more than it has available" in suggestions
    assert published_days(data_dir, "replenishment_plan") == [D1]


def test_kpis_that_do_not_add_up_or_miss_a_window_are_gated(setup, config):
    warehouse, data_dir = setup
    # The total loses 10 cartons its warehouse requested; a SKU row names no warehouse;
    # the 13-week window is gone from the day.
    _break(warehouse, "update analytics.kpis set requested_qty = 190 where as_of_date = ? and level = 'total'", [D1])
    _break(warehouse, "update analytics.kpis set warehouse_id = null where as_of_date = ? and key = 'WH01|S2'", [D1])
    [outcome] = _publish(warehouse, data_dir, [D1], config)
    assert not outcome.published and outcome.failed_tables == ["kpis"]
    message = outcome.gates["kpis"].message()
    # the two total rows (190 against 200), and the two warehouse rows, now short of S2
    assert "Warehouse rows add up to the total" in message and "[expect_column_values_to_be_between]: 4 of 8" in message
    assert "fills the key columns of its level" in message and "[expect_column_values_to_be_in_set]: 2 of 8" in message
    _break(warehouse, "delete from analytics.kpis where as_of_date = ? and window_weeks = 13", [D2])
    [outcome] = _publish(warehouse, data_dir, [D2], config)
    assert "Every window of kpis.windows_weeks" in outcome.gates["kpis"].message()
    assert published_days(data_dir, "kpis") == []


def test_a_replay_serving_more_than_was_requested_or_not_adding_up_is_gated(setup, config):
    warehouse, data_dir = setup
    _break(
        warehouse,
        "update analytics.replenishment_replay set plan_supplied_qty = 150 where as_of_date = ? and key = 'WH01|S1'",
        [D1],
    )
    [outcome] = _publish(warehouse, data_dir, [D1], config)
    assert not outcome.published and outcome.failed_tables == ["replenishment_replay"]
    message = outcome.gates["replenishment_replay"].message()
    assert "never serves more than was requested" in message, message
    assert "Warehouse rows add up to the total" in message, message  # WH01 is now 60 short of its SKUs


def test_retention_keeps_the_last_days_and_a_backfill_publishes_only_them(setup, config, tmp_path):
    warehouse, data_dir = setup
    _build_warehouse(tmp_path / "w3.duckdb", days=(D1, D2, D3))
    short = config.override({"publishing.retain_days": 2})
    outcomes = _publish(tmp_path / "w3.duckdb", data_dir, [D1, D2, D3], short)
    assert [(o.as_of_date, o.published) for o in outcomes] == [(D1, False), (D2, True), (D3, True)]
    assert "retain_days" in outcomes[0].message()
    assert published_days(data_dir, "customer_segments") == [D2, D3]
    # The next day: the oldest served day leaves serving.duckdb (the warehouse keeps it).
    _build_warehouse(tmp_path / "w4.duckdb", days=(D3, date(2024, 1, 11)))
    _publish(tmp_path / "w4.duckdb", data_dir, [date(2024, 1, 11)], short)
    assert _serving(data_dir, "select distinct as_of_date from customer_segments order by 1") == [
        (D3,),
        (date(2024, 1, 11),),
    ]


def test_zero_suggestions_are_neither_required_nor_counted_as_a_drop(setup, config):
    """Only suggestions of at least one carton are stored (restock.replenishment.assemble,
    decision 5): a customer whose forecast rounds to 0 needs no suggestion row, and a day
    an older Restock published with zero rows is compared on its non-zero rows."""
    warehouse, data_dir = setup
    con = duckdb.connect(str(warehouse))
    # C4 takes 0.4 % of the segment from C3: 0.4 cartons a week of each SKU, suggestion 0.
    con.execute("update analytics.customer_forecast_shares set share = 0.196 where customer_id = 'C3'")
    con.execute("update analytics.customer_order_suggestions set forecast_qty = 19.6 where customer_id = 'C3'")
    for sku in ("S1", "S2"):
        con.execute(
            "insert into analytics.customer_forecast_shares values (?, 'SEG1', ?, 'C4', 0.004, 'own_history', null, null)",
            [ORIGIN, sku],
        )
    for day in (D1, D2):
        con.execute("insert into marts.customers values (?, 'C4', 3)", [day])
        con.execute(
            "insert into analytics.customer_segments values (?, 'C4', 5, 'crm', '便利店', '城东区', 'active', "
            "'active', 3, 10, 500, 3, 3, 3, 'SEG1')",
            [day],
        )
    # D1 as an older Restock stored it: with C4's zero suggestions (2 of its 8 rows).
    for sku in ("S1", "S2"):
        con.execute(
            "insert into analytics.customer_order_suggestions values (?, 'WH01', 'C4', ?, ?, 5, 0.4, 0, 0, "
            "'unconstrained')",
            [D1, sku, date(2024, 1, 10)],
        )
    con.close()
    # 8 -> 6 rows would be a 25 % drop; the 6 non-zero rows of D1 -> 6 are none.
    config = config.override({"publishing.max_row_drop_share": 0.2})
    [d1] = _publish(warehouse, data_dir, [D1], config)
    assert d1.published and d1.rows["customer_order_suggestions"] == 8, d1.message()
    [d2] = _publish(warehouse, data_dir, [D2], config)
    assert d2.published, d2.message()  # C4 (forecast 0.4) is not required to have suggestions
    assert _serving(
        data_dir,
        "select count(*), count(distinct customer_id), min(suggested_qty) from customer_order_suggestions_latest",
    ) == [(6, 3, 20)]
    # A real drop is still caught: C3's two non-zero rows vanish (6 -> 4 < 6 x 0.8).
    _break(
        warehouse, "delete from analytics.customer_order_suggestions where as_of_date = ? and customer_id = 'C3'", [D2]
    )
    [again] = _publish(warehouse, data_dir, [D2], config)
    assert again.failed_tables == ["customer_order_suggestions"]
    message = again.gates["customer_order_suggestions"].message()
    assert "4 rows (expected 5..any)" in message and "absent: C3" in message and "C4" not in message, message


def test_days_without_a_forecast_are_skipped_not_failed(tmp_path, config):
    warehouse = tmp_path / "w.duckdb"
    _build_warehouse(warehouse)
    _break(warehouse, "delete from analytics.forecast_runs where as_of_date = ?", [D1])
    _break(warehouse, "delete from analytics.replenishment_plan where as_of_date = ?", [D1])
    outcomes = _publish(warehouse, tmp_path / "data", [D1, D2], config)
    assert [(o.as_of_date, o.published, o.gates == {}) for o in outcomes] == [(D1, False, True), (D2, True, False)]
    assert "no rows yet" in outcomes[0].message()


def _forecast_horizons(warehouse: Path, horizons) -> None:
    """Segment forecasts for more horizons than the fixture's 1 and 2."""
    con = duckdb.connect(str(warehouse))
    for sku in ("S1", "S2"):
        for h in horizons:
            con.execute(
                "insert into analytics.segment_forecasts (forecast_origin, segment_id, sku, period_start, horizon, forecast_qty, lower_qty, upper_qty, model, method, fallback_reason, naive_mae) values (?, 'SEG1', ?, ?, ?, 100, 80, 120, "
                "'combination', 'combination', null, 10)",
                [ORIGIN, sku, date(2024, 1, 1) + timedelta(weeks=h), h],
            )
    con.close()


@pytest.mark.parametrize(("last_horizon", "horizon_weeks", "published"), [(12, 12, True), (5, 4, False)])
def test_the_forecast_gate_follows_forecasting_horizon_weeks(tmp_path, config, last_horizon, horizon_weeks, published):
    # A fixed limit of 8 would fail horizons 9..12 and let horizon 5 through with horizon_weeks 4.
    warehouse = tmp_path / "w.duckdb"
    _build_warehouse(warehouse, days=(D1,))
    _forecast_horizons(warehouse, range(3, last_horizon + 1))
    [outcome] = _publish(
        warehouse, tmp_path / "data", [D1], config.override({"forecasting.horizon_weeks": horizon_weeks})
    )
    assert outcome.published is published, outcome.message()
    if published:
        assert outcome.rows["demand_forecasts"] == 2 * last_horizon * (1 + len(CUSTOMERS))
    else:
        assert outcome.failed_tables == ["demand_forecasts"]
        message = outcome.gates["demand_forecasts"].message()
        # Only the horizon-5 rows (2 SKUs x segment + 3 customers) are out of range.
        assert "expect_column_values_to_be_between]: 8 of 40 rows" in message and "horizon='5'" in message, message


PG_URL = os.environ.get("RESTOCK_POSTGRES_URL")


@pytest.mark.skipif(not PG_URL, reason="RESTOCK_POSTGRES_URL is not set")
def test_published_days_go_to_the_postgres_schema_passed_and_leave_it_with_retention(tmp_path, config):
    import psycopg

    schema = f"restock_test_{uuid.uuid4().hex[:10]}"
    warehouse, data_dir = tmp_path / "w.duckdb", tmp_path / "data"
    _build_warehouse(warehouse, days=(D1, D2, D3))
    short = config.override({"publishing.retain_days": 2})
    pg = {"postgres_url": PG_URL, "postgres_schema": schema}
    try:
        assert all(o.published for o in _publish(warehouse, data_dir, [D1, D2], short, **pg))
        # A day an interrupted run left in PostgreSQL after its Parquet was gone.
        stray = D1 - timedelta(days=30)
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(
                f'insert into "{schema}".replenishment_plan select * from "{schema}".replenishment_plan '
                "where as_of_date = %s",
                [D1],
            )
            conn.execute(
                f'update "{schema}".replenishment_plan set as_of_date = %s where ctid in (select ctid from '
                f'"{schema}".replenishment_plan where as_of_date = %s limit 1)',
                [stray, D1],
            )
        assert all(o.published for o in _publish(warehouse, data_dir, [D3], short, **pg))
        with psycopg.connect(PG_URL) as conn:
            days = conn.execute(f'select distinct as_of_date from "{schema}".replenishment_plan order by 1').fetchall()
        assert days == [(D2,), (D3,)], "retention also removes days whose Parquet was already gone"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_retention_keeps_the_parquet_day_when_postgres_cannot_delete_it(tmp_path):
    from restock.publish import publish_day, unpublish_day
    from restock.publish.postgres import PostgresConnectionError

    frame = pd.DataFrame({"sku": ["S1"], "qty": [1.0]})
    for day in (D1, D2):
        publish_day(tmp_path, "t", day, frame)
    down = "postgresql://restock:secret@127.0.0.1:1/restock"  # nothing listens on port 1
    with pytest.raises(PostgresConnectionError):
        unpublish_day(tmp_path, "t", D1, postgres_url=down)
    assert published_days(tmp_path, "t") == [D1, D2], "the day stays until PostgreSQL has dropped it too"
    assert unpublish_day(tmp_path, "t", D1)
    assert published_days(tmp_path, "t") == [D2]


def _pg_day_rows(schema: str, day: date) -> dict[str, int]:
    """rows of ``day`` per table of ``schema`` (tables that exist)."""
    import psycopg

    with psycopg.connect(PG_URL) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s order by 1", [schema]
            ).fetchall()
        ]
        return {
            t: conn.execute(f'select count(*) from "{schema}"."{t}" where as_of_date = %s', [day]).fetchone()[0]
            for t in tables
        }


@pytest.mark.skipif(not PG_URL, reason="RESTOCK_POSTGRES_URL is not set")
def test_a_postgres_failure_at_one_table_publishes_nothing_of_the_day_anywhere_and_the_retry_publishes_it_whole(
    tmp_path, config
):
    """One transaction for all tables: replenishment_plan (the 5th table) cannot be
    loaded because of a constraint added in PostgreSQL; the four tables loaded before
    it are rolled back and their Parquet days swapped back."""
    import psycopg

    schema = f"restock_test_{uuid.uuid4().hex[:10]}"
    warehouse, data_dir = tmp_path / "w.duckdb", tmp_path / "data"
    _build_warehouse(warehouse)
    pg = {"postgres_url": PG_URL, "postgres_schema": schema}
    try:
        assert all(o.published for o in _publish(warehouse, data_dir, [D1], config, **pg))
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(
                f"alter table \"{schema}\".replenishment_plan add constraint frozen check (as_of_date <> '{D2}')"
            )
        before_files, before_pg = published_state(data_dir), _pg_day_rows(schema, D2)
        with pytest.raises(psycopg.Error, match="frozen"):
            _publish(warehouse, data_dir, [D2], config, **pg)
        assert published_state(data_dir) == before_files, "Parquet links and serving.duckdb are as before"
        assert _pg_day_rows(schema, D2) == before_pg == {t: 0 for t in before_pg}
        assert _serving(data_dir, "select max(as_of_date) from customer_segments") == [(D1,)]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'alter table "{schema}".replenishment_plan drop constraint frozen')
        assert all(o.published for o in _publish(warehouse, data_dir, [D2], config, **pg))
        rows = _pg_day_rows(schema, D2)
        assert len(rows) == 9 and all(n > 0 for n in rows.values()), rows
        assert _serving(data_dir, "select max(as_of_date) from replenishment_plan") == [(D2,)]
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.skipif(not PG_URL, reason="RESTOCK_POSTGRES_URL is not set")
def test_a_server_connection_lost_between_tables_rolls_back_the_day(tmp_path, config):
    """The server ends the publisher's session while it waits on the 5th table's lock
    (as a restart or a failover does): nothing of the day is visible anywhere."""
    import threading

    import psycopg

    schema = f"restock_test_{uuid.uuid4().hex[:10]}"
    warehouse, data_dir = tmp_path / "w.duckdb", tmp_path / "data"
    _build_warehouse(warehouse)
    pg = {"postgres_url": PG_URL, "postgres_schema": schema}
    try:
        assert all(o.published for o in _publish(warehouse, data_dir, [D1], config, **pg))
        before_files = published_state(data_dir)
        holder = psycopg.connect(PG_URL)  # holds one table's publish lock, as a slow concurrent publisher would
        holder.execute("select pg_advisory_xact_lock(hashtext(%s))", [f"{schema}.replenishment_plan"])
        killed: list[int] = []

        def kill_the_waiting_publisher() -> None:
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                for _ in range(600):
                    pids = admin.execute(
                        "select pid from pg_locks where locktype = 'advisory' and not granted"
                    ).fetchall()
                    if pids:
                        killed.extend(p[0] for p in pids)
                        for (pid,) in pids:
                            admin.execute("select pg_terminate_backend(%s)", [pid])
                        return
                    threading.Event().wait(0.05)

        killer = threading.Thread(target=kill_the_waiting_publisher)
        killer.start()
        try:
            with pytest.raises(psycopg.Error):
                _publish(warehouse, data_dir, [D2], config, **pg)
        finally:
            killer.join()
            holder.rollback()
            holder.close()
        assert killed, "the publisher never waited on the lock"
        assert published_state(data_dir) == before_files
        assert set(_pg_day_rows(schema, D2).values()) == {0}
        assert all(o.published for o in _publish(warehouse, data_dir, [D2], config, **pg)), "the retry publishes it"
        assert all(n > 0 for n in _pg_day_rows(schema, D2).values())
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_serving_file_left_behind_by_a_killed_publish_is_rebuilt_and_its_files_are_never_cleaned_up(setup, config):
    """A run killed after swapping a day's links but before rebuilding serving.duckdb:
    the cleanup keeps the files serving.duckdb still names, the next run rebuilds it."""
    from restock.publish import cleanup_versions, current_files, publish_day
    from restock.publish.serving import served_files, serving_is_current

    warehouse, data_dir = setup
    assert all(o.published for o in _publish(warehouse, data_dir, [D1, D2], config))
    assert serving_is_current(data_dir)
    old = current_files(data_dir, "product_classes")[D2]
    # the swap of a killed publish: the link moves, serving.duckdb is not rebuilt
    publish_day(data_dir, "product_classes", D2, pd.read_parquet(old), refresh_serving=False)
    assert not serving_is_current(data_dir)
    assert old in served_files(data_dir)
    cleanup_versions(data_dir, grace=timedelta(0))
    assert old.exists(), "a file serving.duckdb names is not cleaned up, even superseded"
    assert _serving(data_dir, "select count(*) from product_classes where as_of_date = '2024-01-09'") == [(2,)]
    _publish(warehouse, data_dir, [], config)  # any later run reconciles
    assert serving_is_current(data_dir)
    cleanup_versions(data_dir, grace=timedelta(0))
    assert not old.exists()
