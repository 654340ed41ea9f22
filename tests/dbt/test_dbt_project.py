"""The dbt project against a small hand-made raw data set (sample_raw.py).

One module-scoped fixture runs dbt four times (each invocation costs 4-5 s of start-up,
plus ~4 s of parsing unless dbt can reuse its partial parse: the vars, the warehouse
path and the project must be those of the previous invocation in the target folder):

1. warehouse A, raw 03-04 .. 03-23: `dbt build` (models, data tests, unit tests);
2. A: 03-24 arrives (the "big" file): the daily run for 03-24, the way Dagster runs it
   (`dbt build --exclude-resource-type unit_test`, the window 03-24 .. 03-24 in table
   raw._dbt_run_window, the same vars as 1: no re-parse);
3. A: 03-24 is re-delivered smaller (ingestion replaces the day's raw rows): a run by
   hand (`dbt run`, the window 03-23 .. 03-24 as vars, which win over the table);
4. warehouse B, the same final raw data: a clean `dbt run` of everything.

The tests then check hand-worked numbers and that A's marts equal B's. A second
fixture (`planted`) copies B, plants nulls, negatives and out-of-range values inside
and outside a window, and runs the folded column tests (tests/generic/
not_null_columns.sql and siblings) twice: failing rows name the row and the column.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import sample_raw as raw

from restock.ingest.raw_tables import create_raw_tables

REPO = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO / "dbt_project"
MARTS = ("order_lines", "customers", "products", "customer_sku_weekly_demand", "inventory_positions")

# Small business rules so that three weeks of data exercise them (restock.yaml's
# defaults need 13 weeks of history): tiers 1..9 = 3 volume bands x 3 price bands.
TEST_VARS = {
    "tier_window_weeks": 2,
    "tier_volume_band_edges": [5, 10],
    "tier_price_band_edges": [100, 200],
    "new_customer_max_tier": 4,
    "inventory_quantity_unit": "case",
}
D = raw.LAST_DAY  # the day that arrives, then is re-delivered smaller
# Step 3's window, as vars: two days, 03-23 .. 03-24
VARS_WINDOW = {"min_date": (D - dt.timedelta(days=1)).isoformat(), "max_date": D.isoformat()}
# The folded column tests (tests/generic/not_null_columns.sql and siblings): one dbt
# node per model and kind instead of one per column.
FOLDED_TESTS = {
    *(
        f"{model}_not_null"
        for model in (
            "stg_crm__orders",
            "stg_crm__customers",
            "stg_crm__products",
            "stg_wms__inventory",
            "stg_crm__promotions",
            "int_calendar__days",
            *MARTS,
        )
    ),
    *(
        f"{model}_not_negative"
        for model in (
            "stg_crm__orders",
            "stg_crm__products",
            "stg_wms__inventory",
            "order_lines",
            "customers",
            "customer_sku_weekly_demand",
            "inventory_positions",
        )
    ),
    "stg_crm__customers_in_range",
}


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else (shutil.which("dbt") or "dbt")


def write_window(warehouse: Path, window: tuple[dt.date, dt.date] | None) -> None:
    """The run's window as Dagster hands it to dbt (orchestration/assets/dbt.py): the
    one row of raw._dbt_run_window; None drops the table (as after a Dagster run)."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute("drop table if exists raw._dbt_run_window")
        if window is not None:
            con.execute("create table raw._dbt_run_window (min_date date not null, max_date date not null)")
            con.execute("insert into raw._dbt_run_window values (?, ?)", list(window))


def run_dbt(args: list[str], warehouse: Path, target_dir: Path, dbt_vars: dict, succeed: bool = True) -> dict:
    """Run dbt on `warehouse`; target/ and logs/ go to target_dir (not the repo's).
    The result has run_results.json and this invocation's debug log ("log").
    `succeed`: whether dbt must exit 0 (True) or must fail (False)."""
    cmd = [
        _dbt_executable(),
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(target_dir / "target"),
        "--log-path",
        str(target_dir / "logs"),
        "--vars",
        json.dumps(dbt_vars),
    ]
    env = {**os.environ, "DO_NOT_TRACK": "1", "RESTOCK_WAREHOUSE_PATH": str(warehouse)}
    log_file = target_dir / "logs" / "dbt.log"
    log_start = log_file.stat().st_size if log_file.exists() else 0
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert (proc.returncode == 0) == succeed, f"{' '.join(cmd)}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    results = json.loads((target_dir / "target" / "run_results.json").read_text())
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    with log_file.open(encoding="utf-8") as fh:
        fh.seek(log_start)
        results["log"] = fh.read()
    print(f"dbt {' '.join(args)}: {results['wall_seconds']} s wall, {results['elapsed_time']:.1f} s dbt")
    return results


def fetch_mart(warehouse: Path, mart: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"SELECT * FROM marts.{mart} ORDER BY ALL").fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt")
    # Both warehouses are built at the same path (A is moved aside before B is
    # created): a changed profile would make dbt re-parse the project.
    warehouse = tmp / "warehouse" / "warehouse.duckdb"
    full_runs, daily_runs = tmp / "full-runs", tmp / "daily-runs"
    warehouse.parent.mkdir()

    # 1. history up to the day before D, full build with every test
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        raw.load_raw(con, [d for d in raw.DAYS if d < D])
    full_build = run_dbt(["build"], warehouse, full_runs, TEST_VARS)

    # 2. D arrives: the daily run for D, as Dagster runs it
    with duckdb.connect(str(warehouse)) as con:
        raw.insert_rows(con, "orders", raw.ORDER_COLUMNS, D, raw.orders_by_day("big")[D])
        raw.insert_rows(con, "inventory", raw.INVENTORY_COLUMNS, D, raw.inventory_by_day("big")[D])
    write_window(warehouse, (D, D))
    daily_build = run_dbt(["build", "--exclude-resource-type", "unit_test"], warehouse, full_runs, TEST_VARS)
    write_window(warehouse, None)
    after_big_day = {m: fetch_mart(warehouse, m) for m in MARTS}

    # 3. D is re-delivered smaller: a run by hand with the window as vars; the table
    # holds another day, which the vars override
    with duckdb.connect(str(warehouse)) as con:
        raw.replace_day(con, "orders", raw.ORDER_COLUMNS, D, raw.orders_by_day("small")[D])
        raw.replace_day(con, "inventory", raw.INVENTORY_COLUMNS, D, raw.inventory_by_day("small")[D])
    write_window(warehouse, (raw.FIRST_DAY, raw.FIRST_DAY))
    run_dbt(["run"], warehouse, daily_runs, {**TEST_VARS, **VARS_WINDOW})
    incremental = tmp / "incremental" / warehouse.name
    warehouse.parent.rename(incremental.parent)

    # 4. the same final raw data, built from scratch
    warehouse.parent.mkdir()
    with duckdb.connect(str(warehouse)) as con:
        create_raw_tables(con)
        raw.load_raw(con, raw.DAYS, last_day_version="small")
    clean_run = run_dbt(["run"], warehouse, full_runs, TEST_VARS)

    return {
        "incremental": incremental,
        "clean": warehouse,
        "full_build": full_build,
        "daily_build": daily_build,
        "clean_run": clean_run,
        "after_big_day": after_big_day,
    }


@pytest.fixture(scope="module")
def con(built):
    with duckdb.connect(str(built["clean"]), read_only=True) as connection:
        yield connection


def scalar(con, sql: str, params=None):
    return con.execute(sql, params or []).fetchone()[0]


# --- the first build: every model, data test and unit test passes ----------------


def test_full_build_runs_models_data_tests_and_unit_tests(built):
    results = built["full_build"]["results"]
    by_type: dict[str, list[str]] = {}
    for r in results:
        by_type.setdefault(r["unique_id"].split(".")[0], []).append(r["status"])
    assert len(by_type["model"]) == 13 and set(by_type["model"]) == {"success"}
    assert len(by_type["test"]) >= 45 and set(by_type["test"]) == {"pass"}
    # the folded column tests (one node per model and kind) ran and passed on clean data
    passed = {r["unique_id"].split(".")[2] for r in results if r["status"] == "pass"}
    assert FOLDED_TESTS <= passed, FOLDED_TESTS - passed
    assert len(by_type["unit_test"]) == 3 and set(by_type["unit_test"]) == {"pass"}


def test_daily_build_excludes_unit_tests_and_keeps_data_tests(built):
    kinds = {r["unique_id"].split(".")[0] for r in built["daily_build"]["results"]}
    assert "unit_test" not in kinds
    assert {"model", "test"} <= kinds
    assert {r["status"] for r in built["daily_build"]["results"]} <= {"success", "pass"}


def test_the_daily_run_reads_its_window_from_the_table_and_reuses_the_parse(built):
    """The window is no var: a run for another day keeps dbt's partial parse."""
    daily = built["daily_build"]["log"]
    assert "Unable to do partial parsing" not in daily and "Partial parsing enabled" in daily
    day = f"cast('{D.isoformat()}' as date)"
    # the marts' inputs and the replace_window delete are limited to the day
    assert f"partition_date between {day} and {day}" in daily  # order_lines
    assert f"where as_of_date between {day} and {day}" in daily  # delete from a mart
    # data tests too (`where` placeholders), for staging and for the marts
    assert f"partition_date between '{D.isoformat()}' and '{D.isoformat()}'" in daily
    assert f"as_of_date between '{D.isoformat()}' and '{D.isoformat()}'" in daily
    assert "__min_date__" not in daily
    assert "between '1900-01-01'" not in daily and "cast('1900-01-01' as date)" not in daily, "no open window"
    clean = built["clean_run"]["log"]
    assert "Unable to do partial parsing" not in clean, "a bare run after it: no re-parse either"


# --- hand-checked results (clean build of the final data) ---------------------------


def test_calendar_is_clamped_to_loaded_days(con):
    assert con.execute(
        "SELECT min(calendar_date), max(calendar_date), count(*) FROM intermediate.int_calendar__days"
    ).fetchone() == (raw.FIRST_DAY, D, 21)


def test_order_lines(con):
    # 17 raw rows - 1 duplicate - 1 cancelled line
    assert scalar(con, "SELECT count(*) FROM marts.order_lines") == 15
    # the duplicated line is counted once, with the file's last row (x8, not x7)
    assert con.execute(
        "SELECT ordered_qty, source_row FROM marts.order_lines WHERE order_id = 'O-C2-1' AND line_no = 1"
    ).fetchall() == [(8, 3)]
    # the cancelled line is out, its order's confirmed line is in
    assert con.execute("SELECT line_no FROM marts.order_lines WHERE order_id = 'O-C3-1'").fetchall() == [(1,)]
    # ' CONFIRMED ' is confirmed
    assert scalar(con, "SELECT count(*) FROM marts.order_lines WHERE order_id = 'O-C1-2'") == 2
    # the day without orders
    assert scalar(con, "SELECT count(*) FROM marts.order_lines WHERE order_date = DATE '2024-03-20'") == 0
    row = con.execute(
        "SELECT requested_qty, shortfall_qty, line_amount, week_start FROM marts.order_lines WHERE order_id = 'O-C2-2'"
    ).fetchone()
    assert row == (9, 3, 900, dt.date(2024, 3, 18))
    # a delivered amount wins over quantity x price
    assert scalar(con, "SELECT line_amount FROM marts.order_lines WHERE order_id = 'O-C1-1' AND line_no = 1") == 1450


def test_customers_grain_activity_and_tiers(con):
    # 4 customers x 21 days (C3 stays in the snapshot after closing)
    assert scalar(con, "SELECT count(*) FROM marts.customers") == 84
    assert scalar(con, "SELECT count(*) FROM marts.customers WHERE as_of_date = DATE '2024-03-20'") == 4

    def row(customer, day):
        return con.execute(
            "SELECT trailing_qty, is_new_customer, derived_tier, tier, tier_source, is_active"
            " FROM marts.customers WHERE customer_id = ? AND as_of_date = ?",
            [customer, dt.date.fromisoformat(day)],
        ).fetchone()

    # C1: the CRM tier wins
    assert row("C1", "2024-03-24")[2:5] == (None, 12, "crm")
    # C2 on 03-12, trailing 02-28..03-12: 8 x 150 + 4 x 80 = 1520 yuan for 12 cartons
    # -> 6 cartons/week (band 1 of [5, 10]), 126.67 yuan/carton (band 1 of [100, 200])
    # -> 1 * 3 + 1 + 1 = 5
    assert row("C2", "2024-03-12") == (12, False, 5, 5, "derived", True)
    # C2 on 03-24, trailing 03-11..03-24: 6 x 150 -> 3/week (band 0), 150 (band 1) -> 2
    assert row("C2", "2024-03-24") == (6, False, 2, 2, "derived", True)
    # C4 opened 03-01: 24 cartons at 260 in the window -> 12/week (band 2), band 2 -> 9,
    # capped at 4 while fewer than 2 weeks old (03-14: 13 days), uncapped from 03-15
    assert row("C4", "2024-03-14") == (24, True, 4, 4, "derived", True)
    assert row("C4", "2024-03-15") == (24, False, 9, 9, "derived", True)
    # C3 closes on 03-13 (snapshot of 03-13)
    assert row("C3", "2024-03-12")[5] is True
    assert row("C3", "2024-03-13")[5] is False
    # point in time: nothing after as_of_date counts (C4 orders on 03-07)
    assert row("C4", "2024-03-06")[0] == 0


def test_customer_sku_weekly_demand_zero_fills_weeks(con):
    rows = {
        (c, s, w.isoformat()): (float(q), float(r), n)
        for c, s, w, q, r, n in con.execute(
            "SELECT customer_id, sku, week_start, ordered_qty, requested_qty, order_line_count"
            " FROM marts.customer_sku_weekly_demand"
        ).fetchall()
    }
    assert len(rows) == 18
    # C2 x S1: ordered in weeks 1 and 3, an explicit zero in week 2
    assert rows[("C2", "S1", "2024-03-04")] == (8, 8, 1)  # duplicate line counted once
    assert rows[("C2", "S1", "2024-03-11")] == (0, 0, 0)
    assert rows[("C2", "S1", "2024-03-18")] == (6, 9, 1)
    # C2 x S3: ordered once, zeros after
    assert rows[("C2", "S3", "2024-03-11")] == (0, 0, 0)
    assert rows[("C2", "S3", "2024-03-18")] == (0, 0, 0)
    # C3 closed on 03-13: weeks 1 and 2 (active 03-11, 03-12), none after; the
    # cancelled S1 line makes no C3 x S1 series
    assert sorted(k[2] for k in rows if k[0] == "C3") == ["2024-03-04", "2024-03-11"]
    assert not any(k[:2] == ("C3", "S1") for k in rows)
    # C1 x S3 starts in the week of its first order
    assert [k[2] for k in rows if k[:2] == ("C1", "S3")] == ["2024-03-18"]
    assert rows[("C1", "S3", "2024-03-18")] == (4, 4, 1)
    # C2 x S2 was only in the first delivery of 03-24
    assert not any(k[:2] == ("C2", "S2") for k in rows)


def test_products_snapshot_in_force(con):
    assert scalar(con, "SELECT count(*) FROM marts.products") == 63
    active = dict(
        con.execute(
            "SELECT as_of_date, is_active FROM marts.products WHERE sku = 'S3'"
            " AND as_of_date IN (DATE '2024-03-17', DATE '2024-03-18')"
        ).fetchall()
    )
    assert active == {dt.date(2024, 3, 17): True, dt.date(2024, 3, 18): False}


def test_inventory_positions_in_cartons(con):
    assert scalar(con, "SELECT count(*) FROM marts.inventory_positions") == 62
    # 03-06 is day index 2: S1 12 cases on hand (the duplicate 999 row lost), 2 in
    # transit, 1 allocated, x 50 cartons per case
    assert con.execute(
        "SELECT on_hand_qty, in_transit_qty, allocated_qty, inventory_position_qty, oldest_batch_age_days"
        " FROM marts.inventory_positions WHERE sku = 'S1' AND as_of_date = DATE '2024-03-06'"
    ).fetchone() == (600, 100, 50, 650, 34)
    # S3 has no in-transit column value: 0
    assert (
        scalar(
            con,
            "SELECT in_transit_qty FROM marts.inventory_positions WHERE sku = 'S3' AND as_of_date = DATE '2024-03-06'",
        )
        == 0
    )
    # the re-delivered 03-24 has no S3
    assert con.execute(
        "SELECT sku FROM marts.inventory_positions WHERE as_of_date = ? ORDER BY sku", [D]
    ).fetchall() == [("S1",), ("S2",)]


# --- incrementality ------------------------------------------------------------------


def test_daily_run_saw_the_first_delivery(built):
    """Before the re-delivery, A held the big 03-24 (so step 3 had rows to remove)."""
    marts = built["after_big_day"]
    assert any(r[:2] == ("O-C2-3", 1) for r in marts["order_lines"])
    assert len(marts["order_lines"]) == 16
    assert len(marts["inventory_positions"]) == 63


@pytest.mark.parametrize("mart", MARTS)
def test_incremental_runs_equal_a_clean_build(built, mart):
    incremental = fetch_mart(built["incremental"], mart)
    clean = fetch_mart(built["clean"], mart)
    assert len(incremental) == len(clean)
    assert incremental == clean


# --- folded column tests: a failure names the row and the column -------------------

PLANTED_TESTS = ["order_lines_not_null", "order_lines_not_negative", "stg_crm__customers_in_range"]
PLANTED_WINDOW = (dt.date(2024, 3, 13), dt.date(2024, 3, 18))


@pytest.fixture(scope="module")
def planted(built, tmp_path_factory):
    """A copy of the clean warehouse with bad values planted inside the window
    03-13 .. 03-18 and outside it; the folded tests run with that window (failing
    rows stored with --store-failures), then with the clean window 03-19 .. 03-24."""
    tmp = tmp_path_factory.mktemp("planted")
    warehouse = tmp / "warehouse.duckdb"
    shutil.copyfile(built["clean"], warehouse)
    with duckdb.connect(str(warehouse)) as con:
        # in the window: a null in one column, negatives in two others of one row
        con.execute("update marts.order_lines set week_start = null where order_id = 'O-C1-3' and line_no = 1")
        con.execute(
            "update marts.order_lines set line_amount = -5, ordered_qty = -1 where order_id = 'O-C1-3' and line_no = 2"
        )
        # out of the window (03-11, 03-05): never reported by a windowed run
        con.execute("update marts.order_lines set customer_id = null where order_id = 'O-C1-2' and line_no = 1")
        con.execute("update marts.order_lines set ordered_qty = -3 where order_id = 'O-C2-1' and line_no = 1")
        # staging reads raw: the snapshot of 03-13 is in the window, 03-04's is not
        con.execute("update raw.customers set tier = '31' where _partition_date = '2024-03-13' and customer_id = 'C1'")
        con.execute(
            "update raw.customers set order_weekday = '0' where _partition_date = '2024-03-13' and customer_id = 'C2'"
        )
        con.execute("update raw.customers set tier = '99' where _partition_date = '2024-03-04' and customer_id = 'C3'")
    select = ["--select", *PLANTED_TESTS]
    write_window(warehouse, PLANTED_WINDOW)
    failing = run_dbt(["test", *select, "--store-failures"], warehouse, tmp, TEST_VARS, succeed=False)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = {
            name: con.execute(f"select * from dbt_test__audit.{name} order by all").fetchall() for name in PLANTED_TESTS
        }
    write_window(warehouse, (dt.date(2024, 3, 19), D))
    clean_window = run_dbt(["test", *select], warehouse, tmp, TEST_VARS)
    return {"failing": failing, "stored": stored, "clean_window": clean_window}


def _outcomes(results: dict) -> dict[str, tuple[str, int]]:
    return {r["unique_id"].split(".")[2]: (r["status"], r["failures"]) for r in results["results"]}


def test_folded_tests_fail_on_a_null_and_a_negative_and_name_row_and_column(planted):
    # one failing row per failing value: 1 null, 2 negatives (one row), 2 out of range
    assert _outcomes(planted["failing"]) == {
        "order_lines_not_null": ("fail", 1),
        "order_lines_not_negative": ("fail", 2),
        "stg_crm__customers_in_range": ("fail", 2),
    }
    stored = planted["stored"]
    # key columns, failed_column, failed_value; the out-of-window rows are not there
    assert stored["order_lines_not_null"] == [("O-C1-3", 1, "week_start", None)]
    assert [(o, n, c, float(v)) for o, n, c, v in stored["order_lines_not_negative"]] == [
        ("O-C1-3", 2, "line_amount", -5.0),
        ("O-C1-3", 2, "ordered_qty", -1.0),
    ]
    # staging names the landing file and its row (C1, C2 are rows 1 and 2)
    assert stored["stg_crm__customers_in_range"] == [
        ("landing/customers/2024-03-13.csv", 1, "crm_tier", "31"),
        ("landing/customers/2024-03-13.csv", 2, "order_weekday", "0"),
    ]


def test_folded_tests_pass_on_a_window_whose_rows_are_clean(planted):
    """Nulls and negatives outside the window (03-05 .. 03-18 here) fail no run of
    another window; the window 03-19 .. 03-24 has order lines, all clean."""
    assert _outcomes(planted["clean_window"]) == {name: ("pass", 0) for name in PLANTED_TESTS}
    log = planted["clean_window"]["log"]
    assert "order_date between '2024-03-19' and '2024-03-24'" in log
