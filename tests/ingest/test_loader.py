"""Loading a day into raw.<extract>: idempotent, re-delivery replaces, nothing lost."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from restock.ingest.landing import LandingError
from restock.ingest.loader import MissingDeliveryError, load_day, load_days

ENC = ["utf-8-sig", "gb18030"]
ORDERS_HEADER = "order_id,line_no,customer_id,sku,order_date,quantity,requested_quantity,unit_price,amount,status\n"
D1, D2, D3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)


def _orders(landing, day, lines):
    folder = landing / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"O{i},1,C001,S1,{day},{q},{q},10,{10 * q},confirmed\n" for i, q in enumerate(lines))
    (folder / f"{day}.csv").write_text(ORDERS_HEADER + body)


def _count(con, day=None):
    sql = "select count(*) from raw.orders" + (" where _partition_date = ?" if day else "")
    return con.execute(sql, [day] if day else []).fetchone()[0]


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def test_rerun_and_redelivery_never_duplicate(tmp_path, con):
    landing = tmp_path / "landing"
    _orders(landing, D1, [1, 2, 3])
    _orders(landing, D2, [5])
    load_day(con, landing, "orders", D1, {}, ENC)
    load_day(con, landing, "orders", D2, {}, ENC)
    # a re-run of the same files, as a range (how the Dagster asset loads a backfill)
    results = list(load_days(con, landing, "orders", [D1, D2], {}, ENC))
    assert [(r.day, r.row_count) for r in results] == [(D1, 3), (D2, 1)]
    assert _count(con) == 4
    _orders(landing, D1, [7, 8])  # re-delivered with fewer lines: replaces the day
    result = load_day(con, landing, "orders", D1, {}, ENC)
    assert result.row_count == 2 and _count(con, D1) == 2 and _count(con, D2) == 1
    assert con.execute("select sum(quantity::int) from raw.orders where _partition_date = ?", [D1]).fetchone()[0] == 15
    loads = con.execute("select extract, partition_date, row_count from raw._loads order by 2").fetchall()
    assert loads == [("orders", D1, 2), ("orders", D2, 1)]


def test_missing_daily_file_names_the_expected_path(tmp_path, con):
    with pytest.raises(MissingDeliveryError) as err:
        load_day(con, tmp_path, "orders", D1, {}, ENC)
    assert str(tmp_path / "orders" / f"{D1}.csv") in str(err.value)


def test_bad_redelivery_keeps_the_rows_loaded_before(tmp_path, con):
    _orders(tmp_path, D1, [1, 2])
    load_day(con, tmp_path, "orders", D1, {}, ENC)
    (tmp_path / "orders" / f"{D1}.csv").write_text("order_id;line_no\nO1;1\n")  # wrong delimiter
    with pytest.raises(LandingError, match="missing required column"):
        load_day(con, tmp_path, "orders", D1, {}, ENC)
    assert _count(con, D1) == 2


def test_snapshot_days_without_a_file_use_the_latest_earlier_snapshot(tmp_path, con):
    folder = tmp_path / "customers"
    folder.mkdir()
    with pytest.raises(MissingDeliveryError, match="first partition needs one"):
        load_day(con, tmp_path, "customers", D1, {}, ENC)
    (folder / f"{D1}.csv").write_text("customer_id,status\nC001,active\nC002,active\n")
    assert load_day(con, tmp_path, "customers", D1, {}, ENC).status == "loaded"
    later = load_day(con, tmp_path, "customers", D3, {}, ENC)
    assert later.status == "no_delivery" and later.snapshot_in_force == D1
    assert con.execute("select count(*) from raw.customers").fetchone()[0] == 2


def test_optional_extract_may_never_arrive(tmp_path, con):
    assert load_day(con, tmp_path, "promotions", D1, {}, ENC).status == "no_delivery"


def test_range_starting_after_the_last_snapshot_loads_the_snapshot_in_force(tmp_path, con):
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / f"{D1}.csv").write_text("customer_id,status\nC001,active\n")
    (folder / "2024-01-09.csv").write_text("customer_id,status\nC001,closed\n")  # after D3: not in force
    result = load_day(con, tmp_path, "customers", D3, {}, ENC)
    assert result.status == "no_delivery" and result.snapshot_in_force == D1
    rows = con.execute("select _partition_date, status from raw.customers").fetchall()
    assert rows == [(D1, "active")]
