"""A window of days through the raw gate (restock.ingest.gated.load_gated_days): cut
into GE runs by delivered files, written in one transaction per run; the same
verdicts, messages, raw rows and quarantine records as one day at a time.

Real files, real DuckDB warehouses, real Great Expectations runs, no mocks.
"""

from __future__ import annotations

import gzip
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from restock.ingest.gated import _chunks, load_gated_days
from restock.ingest.loader import MissingDeliveryError
from tests.ingest.test_gated import csv_bytes, write

ENC = ["utf-8-sig", "gb18030"]
D0 = date(2024, 1, 1)
DAYS = [D0 + timedelta(days=i) for i in range(12)]
TODAY = date(2024, 2, 1)


def _changed(rows: list[dict], change: dict[str, dict]) -> list[dict]:
    """``rows`` with ``row_<n>={column: value}`` applied (n from 1)."""
    for row, values in change.items():
        rows[int(row.split("_")[1]) - 1].update(values)
    return rows


def customers(n: int = 10, **change) -> list[dict]:
    rows = [
        dict(
            customer_id=f"C{i:03d}",
            customer_name=f"店{i}",
            channel="便利店",
            region="城东区",
            tier=str(i % 5 + 1),
            status="active",
            opened_on="2020-01-01",
            closed_on="",
            order_weekday=str(i % 7 + 1),
        )
        for i in range(1, n + 1)
    ]
    return _changed(rows, change)  # row_2={"opened_on": "2020-02-30"}


def products(**change) -> list[dict]:
    rows = [
        dict(
            sku=f"S{i}",
            product_name=f"P{i}",
            units_per_case="50",
            unit_cost="70",
            list_price="85.5",
            lead_time_days="7",
            status="active",
            launched_on="2023-01-01",
        )
        for i in range(1, 5)
    ]
    return _changed(rows, change)


def inventory(day: date, **change) -> bytes:
    # The stock identity holds from day to day: the 5 allocated ship the next morning.
    rows = [
        dict(
            warehouse_id="W1",
            sku=f"S{i}",
            on_hand_qty=str(300 + i - 5 * (day - D0).days),
            in_transit_qty="0",
            allocated_qty="5",
            oldest_batch_date="2023-12-01",
        )
        for i in range(1, 5)
    ]
    return gzip.compress(csv_bytes(_changed(rows, change)), mtime=0)


def build_landing(landing: Path) -> None:
    """Good and bad files of the snapshot extracts and of inventory over ``DAYS``."""
    write(landing, "customers", DAYS[0], csv_bytes(customers()))
    write(landing, "customers", DAYS[2], csv_bytes(customers(row_2={"opened_on": "2020-02-30"})))  # bad date
    write(landing, "customers", DAYS[4], csv_bytes(customers(row_3={"opened_on": "2020-1-5"})))  # strptime: fine
    write(landing, "customers", DAYS[6], csv_bytes(customers(4)))  # 4 of 10 customers left: coverage
    write(landing, "customers", DAYS[8], csv_bytes(customers(11)))
    write(landing, "customers", DAYS[10], csv_bytes(customers(11, row_1={"status": "gone"})))
    write(landing, "products", DAYS[0], csv_bytes(products()))
    write(landing, "products", DAYS[3], csv_bytes(products(row_2={"launched_on": "2024-01-09"})))  # a warning
    write(landing, "products", DAYS[7], csv_bytes(products(row_4={"lead_time_days": "x"})))
    write(landing, "products", DAYS[9], csv_bytes(products()))
    bad = {
        3: {"row_2": {"on_hand_qty": "-1"}},
        5: {"row_1": {"oldest_batch_date": "2023-11-31"}},
        6: {"row_3": {"sku": "S404"}},
    }
    for i, day in enumerate(DAYS):
        write(landing, "inventory", day, inventory(day, **bad.get(i, {})), ".csv.gz")
    promo = [dict(sku="S1", start_date="2024-01-10", end_date="2024-01-20", discount_pct="5")]
    write(landing, "promotions", DAYS[1], csv_bytes(promo))
    write(landing, "promotions", DAYS[5], csv_bytes([dict(promo[0], end_date="2024-01-01")]))  # ends before it starts
    write(landing, "promotions", DAYS[8], csv_bytes(promo))


def gate(con, landing: Path, data: Path, extract: str, days: list[date], **kw):
    return list(load_gated_days(con, landing, data, extract, days, encodings=ENC, today=TODAY, data_docs=False, **kw))


def outcome(con, landing: Path, data: Path, **runs) -> dict:
    """Every extract over ``DAYS`` (``runs``: how many files per GE run): what each day
    came to and what the warehouse holds."""
    days: dict[str, list] = {}
    for extract in ("customers", "products", "inventory", "promotions"):
        days[extract] = [
            (
                r.day,
                r.status,
                r.row_count,
                r.message(),
                r.failed_expectations(),
                [w.describe() for w in (r.gate.warnings if r.gate else ())],
                r.notes,
                r.info,
            )
            for r in gate(con, landing, data, extract, DAYS, **runs)
        ]
    tables = {}
    for extract in ("customers", "products", "inventory", "promotions"):
        tables[extract] = con.execute(
            f"select * exclude (_loaded_at) from raw.{extract} order by _partition_date, _source_row"
        ).fetchall()
    tables["_loads"] = con.execute("select * exclude (loaded_at) from raw._loads order by all").fetchall()
    tables["_quarantine"] = con.execute(
        "select extract, partition_date, source_file, checksum_sha256, reason, failed_expectations, "
        "released_at is null from raw._quarantine order by all"
    ).fetchall()
    return {"days": days, "tables": tables}


def test_windows_count_delivered_files_not_days(tmp_path):
    build_landing(tmp_path)
    customer_days = [d for d in DAYS if (tmp_path / "customers" / f"{d}.csv").exists()]
    assert len(customer_days) == 6
    chunks = list(_chunks(tmp_path, "customers", DAYS, 2))
    assert [c[0] for c in chunks] == [DAYS[0], DAYS[4], DAYS[8]] and sum(chunks, []) == DAYS
    assert all(sum(d in customer_days for d in c) == 2 for c in chunks)
    # A daily extract: that many days a run.
    assert [len(c) for c in _chunks(tmp_path, "inventory", DAYS, 5)] == [5, 5, 2]


def test_a_window_gives_the_verdicts_rows_and_records_of_one_day_at_a_time(tmp_path):
    landing = tmp_path / "landing"
    build_landing(landing)
    results = {}
    ways = {
        "window": {},  # the defaults
        "small_runs_growing": {"days_per_validation": 2, "rows_per_validation": 20},  # 2 files, then ~20 rows
        "one_by_one": {"days_per_validation": 1, "rows_per_validation": None},
    }
    for name, runs in ways.items():
        data = tmp_path / name
        data.mkdir()
        con = duckdb.connect(str(data / "warehouse.duckdb"))
        try:
            results[name] = outcome(con, landing, data, **runs)
        finally:
            con.close()
    window, one_by_one = results["window"], results["one_by_one"]
    assert results["small_runs_growing"] == window
    for extract, days in window["days"].items():
        for a, b in zip(days, one_by_one["days"][extract], strict=True):
            assert a == b, (extract, a[0])
    assert window["tables"] == one_by_one["tables"]
    statuses = {e: [d[1] for d in days] for e, days in window["days"].items()}
    # Good and bad days in each extract (the cases are real).
    assert all("quarantined" in s and "loaded" in s for s in statuses.values()), statuses
    customers_days = {d[0]: d for d in window["days"]["customers"]}
    assert customers_days[DAYS[2]][1] == "quarantined" and "row 2: opened_on='2020-02-30'" in customers_days[DAYS[2]][3]
    assert customers_days[DAYS[4]][1] == "loaded"
    assert customers_days[DAYS[6]][1] == "quarantined" and "plausible_customer_coverage" in customers_days[DAYS[6]][3]


def test_a_window_is_one_transaction_kept_when_the_caller_stops_early(tmp_path):
    landing, data = tmp_path / "landing", tmp_path / "data"
    build_landing(landing)
    data.mkdir()
    path = str(data / "warehouse.duckdb")
    con = duckdb.connect(path)
    gate(con, landing, data, "products", DAYS[:1])
    other = duckdb.connect(path)  # another connection to the same database: sees commits only
    try:
        run = load_gated_days(con, landing, data, "inventory", DAYS[:3], encodings=ENC, today=TODAY, data_docs=False)
        assert next(run).status == "loaded" and next(run).status == "loaded"
        visible = "select count(distinct _partition_date) from raw.inventory"
        assert other.execute(visible).fetchone()[0] == 0  # the window's transaction is open
        run.close()  # the caller stops: the days it was given stay loaded
        assert other.execute(visible).fetchone()[0] == 2
        assert con.execute("select count(*) from raw._loads where extract = 'inventory'").fetchone()[0] == 2
    finally:
        other.close()
        con.close()


def test_a_missing_daily_file_keeps_the_days_before_it(tmp_path):
    landing, data = tmp_path / "landing", tmp_path / "data"
    build_landing(landing)
    (landing / "inventory" / f"{DAYS[3]}.csv.gz").unlink()
    data.mkdir()
    path = str(data / "warehouse.duckdb")
    con = duckdb.connect(path)
    try:
        gate(con, landing, data, "products", DAYS[:1])
        with pytest.raises(MissingDeliveryError, match=str(DAYS[3])):
            gate(con, landing, data, "inventory", DAYS[:6])
    finally:
        con.close()
    con = duckdb.connect(path)  # what was committed
    try:
        loaded = con.execute("select distinct _partition_date from raw.inventory order by 1").fetchall()
        assert [d for (d,) in loaded] == DAYS[:3]
    finally:
        con.close()


def test_an_error_in_a_window_rolls_it_back_whole(tmp_path):
    """No day half written: an unexpected error (here: the quarantine folder cannot be
    made) undoes the window's writes; the re-run loads it."""
    landing, data = tmp_path / "landing", tmp_path / "data"
    build_landing(landing)
    data.mkdir()
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    try:
        gate(con, landing, data, "products", DAYS[:1])
        (data / "quarantine").mkdir()
        (data / "quarantine" / "inventory").write_text("a file where the folder should be")
        with pytest.raises(OSError):
            gate(con, landing, data, "inventory", DAYS[:5])  # day 4 (index 3) is rejected
        assert con.execute("select count(*) from raw.inventory").fetchone()[0] == 0
        assert con.execute("select count(*) from raw._loads where extract = 'inventory'").fetchone()[0] == 0
        (data / "quarantine" / "inventory").unlink()
        statuses = [r.status for r in gate(con, landing, data, "inventory", DAYS[:5])]
        assert statuses == ["loaded", "loaded", "loaded", "quarantined", "loaded"]
    finally:
        con.close()


def test_inventory_checked_against_the_day_before_in_memory_as_read_back(tmp_path):
    """The gate hands the accepted file of the day before to the inventory checks
    instead of reading it back from raw.inventory: the same failures, rows and notes."""
    from restock.config import QualityConfig
    from restock.contract import EXTRACTS
    from restock.ingest.landing import read_extract_file
    from restock.ingest.plausibility import check_delivery

    landing, data = tmp_path / "landing", tmp_path / "data"
    build_landing(landing)
    data.mkdir()
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    try:
        gate(con, landing, data, "products", DAYS[:1])
        assert [r.status for r in gate(con, landing, data, "inventory", DAYS[:3])] == ["loaded"] * 3
        rules = QualityConfig().plausibility

        def read(day: date):
            return read_extract_file(landing / "inventory" / f"{day}.csv.gz", EXTRACTS["inventory"], {}, ENC)

        kept = check_delivery(con, "inventory", DAYS[2], read(DAYS[2]), rules).accepted
        assert kept is not None and kept.day == DAYS[2]
        day = DAYS[3]
        variants = {
            "good": inventory(day),
            "all_zero": inventory(day, **{f"row_{i}": {"on_hand_qty": "0"} for i in range(1, 5)}),
            "identity_off": inventory(day, row_2={"on_hand_qty": "1000"}, row_3={"on_hand_qty": "1"}),
            "rows_missing": gzip.compress(
                csv_bytes(
                    [
                        dict(warehouse_id="W1", sku="S1", on_hand_qty="286", in_transit_qty="0", allocated_qty="5"),
                        dict(warehouse_id="W1", sku="S2", on_hand_qty="287", in_transit_qty="0", allocated_qty="5"),
                    ]
                )
            ),
        }
        found = {}
        for name, content in variants.items():
            write(landing, "inventory", day, content, ".csv.gz")
            in_memory = check_delivery(con, "inventory", day, read(day), rules, before=kept)
            read_back = check_delivery(con, "inventory", day, read(day), rules)
            assert in_memory == read_back, name
            assert [f.describe() for f in in_memory.failures] == [f.describe() for f in read_back.failures]
            found[name] = {f.expectation_type for f in in_memory.failures}
        assert found["good"] == set()
        assert "plausible_on_hand_not_all_zero" in found["all_zero"]
        assert found["identity_off"] == {"plausible_stock_identity"}
        assert "plausible_sku_coverage" in found["rows_missing"]
        # Kept for another day than the day before: read back.
        later = check_delivery(con, "inventory", DAYS[5], read(DAYS[5]), rules, before=kept)
        assert later.notes and "no accepted inventory" in later.notes[0]
    finally:
        con.close()


def test_a_master_checked_against_the_snapshot_in_memory_as_read_back(tmp_path):
    """Customers / products coverage against the last accepted snapshot kept by the gate
    or read back from the warehouse: the same failures, rows and notes."""
    from restock.config import QualityConfig
    from restock.contract import EXTRACTS
    from restock.ingest.landing import read_extract_file
    from restock.ingest.plausibility import check_delivery

    landing, data = tmp_path / "landing", tmp_path / "data"
    build_landing(landing)
    data.mkdir()
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    try:
        assert gate(con, landing, data, "customers", DAYS[:1])[0].status == "loaded"
        rules = QualityConfig().plausibility

        def read(day: date):
            return read_extract_file(landing / "customers" / f"{day}.csv", EXTRACTS["customers"], {}, ENC)

        kept = check_delivery(con, "customers", DAYS[0], read(DAYS[0]), rules).accepted
        assert kept is not None and kept.day == DAYS[0]
        variants = {
            "same": customers(),
            "four_left": customers(4),
            "one_closed_gone": [dict(c, status="closed") if c["customer_id"] == "C002" else c for c in customers()][2:],
            "renamed_ids": [dict(c, customer_id=c["customer_id"] + "X") for c in customers()],
        }
        found = {}
        for name, rows in variants.items():
            write(landing, "customers", DAYS[5], csv_bytes(rows))
            in_memory = check_delivery(con, "customers", DAYS[5], read(DAYS[5]), rules, before=kept)
            read_back = check_delivery(con, "customers", DAYS[5], read(DAYS[5]), rules)
            assert in_memory == read_back, name
            assert [f.describe() for f in in_memory.failures] == [f.describe() for f in read_back.failures]
            found[name] = [f.describe() for f in in_memory.failures]
        assert found["same"] == [] and found["four_left"] and found["renamed_ids"]
        assert "customers.csv" not in found["four_left"][0] and f"{DAYS[0]}.csv row " in found["four_left"][0]
    finally:
        con.close()
