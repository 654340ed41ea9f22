"""Plausibility gates (restock.ingest.plausibility): coverage against the previous
accepted snapshot and the stock identity, first on frames, then through the gate with
real files, a real DuckDB warehouse and real Great Expectations runs."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from restock.config import ConfigError, PlausibilityConfig, QualityConfig, load_config, parse_config
from restock.ingest.gated import load_gated_day, load_gated_days, open_quarantines
from restock.ingest.plausibility import inventory_plausibility, snapshot_coverage
from restock.settings import PROJECT_ROOT

ENC = ["utf-8-sig", "gb18030"]
D0 = date(2024, 3, 1)
TODAY = date(2024, 4, 1)
RULES = PlausibilityConfig()
WAREHOUSES, SKUS = ("W1", "W2"), tuple(f"S{k:02d}" for k in range(1, 11))
PREV_FILE = "landing/inventory/2024-03-01.csv"


def stock_rows(t: int) -> list[dict]:
    """Day ``D0 + t``: 2 warehouses x 10 SKUs; 7 allocated a day ship the next morning,
    50 in transit, nothing received: the identity holds exactly from day to day."""
    return [
        dict(
            warehouse_id=w,
            sku=s,
            on_hand_qty=str(300 + 10 * k - 7 * t),
            in_transit_qty="50",
            allocated_qty="7",
            oldest_batch_date="2024-02-01",
        )
        for w in WAREHOUSES
        for k, s in enumerate(SKUS, 1)
    ]


def frame(rows: list[dict], source_file: str | None = None) -> pd.DataFrame:
    df = pd.DataFrame(rows).astype("string")
    df["_source_row"] = range(1, len(df) + 1)
    if source_file:
        df["_source_file"] = source_file
    return df


def check_stock(today: list[dict], before: list[dict] | None = None, **rules) -> list:
    before = before if before is not None else stock_rows(0)
    result = inventory_plausibility(
        frame(today), frame(before, PREV_FILE), D0, PlausibilityConfig(**rules), "landing/inventory/2024-03-02.csv"
    )
    return list(result.failures)


def kinds(failures) -> set[str]:
    return {f.expectation_type for f in failures}


# ------------------------------------------------------------------ inventory, on frames


def test_consistent_stock_passes():
    assert check_stock(stock_rows(1)) == []
    # receipts up to yesterday's in transit (50) are fine
    rows = stock_rows(1)
    rows[3]["on_hand_qty"] = str(int(rows[3]["on_hand_qty"]) + 50)
    assert check_stock(rows) == []


def test_every_on_hand_at_zero_blocks_the_day():
    rows = [dict(r, on_hand_qty="0") for r in stock_rows(1)]
    failures = check_stock(rows)
    assert kinds(failures) == {"plausible_on_hand_not_all_zero", "plausible_stock_identity"}
    zero = next(f for f in failures if f.expectation_type == "plausible_on_hand_not_all_zero")
    text = zero.describe()
    assert "export taken during a stock count" in text and PREV_FILE in text
    assert zero.unexpected_count == 20 and zero.rows[0].source_file == "landing/inventory/2024-03-02.csv"
    identity = next(f for f in failures if f.expectation_type == "plausible_stock_identity")
    assert identity.unexpected_count == 20 and identity.element_count == 20
    worst = identity.rows[0]
    assert worst.values["on_hand_qty"] == "0" and worst.values["expected"] == "393 .. 443"  # S10: 400 - 7 (+ up to 50)
    # ... whatever the limits: it is not a share of rows
    assert kinds(check_stock(rows, max_stock_identity_violation_share=1)) == {"plausible_on_hand_not_all_zero"}


def test_every_other_row_missing_blocks_on_sku_coverage():
    failures = check_stock(stock_rows(1)[::2])
    assert kinds(failures) == {"plausible_sku_coverage"}
    (f,) = failures
    assert (f.unexpected_count, f.element_count) == (10, 20)
    assert "only 50% of the 20 warehouse x SKU rows" in f.describe() and "min_sku_coverage" in f.describe()
    # the samples are the missing rows, where they were in the accepted file
    assert f.rows[0].source_file == PREV_FILE and f.rows[0].source_row == 2
    assert f.rows[0].values == {"warehouse_id": "W1", "sku": "S02", "on_hand_qty": "320"}
    # one row of twenty missing is within 90%
    assert check_stock(stock_rows(1)[1:]) == []
    assert check_stock(stock_rows(1)[::2], min_sku_coverage=0) == []


def test_a_missing_warehouse_blocks_unless_it_was_empty():
    only_w1 = [r for r in stock_rows(1) if r["warehouse_id"] == "W1"]
    failures = check_stock(only_w1, min_sku_coverage=0)
    assert kinds(failures) == {"plausible_warehouse_coverage"}
    assert failures[0].rows[0].values == {"warehouse_id": "W2"} and failures[0].rows[0].source_row == 11
    emptied = [dict(r, on_hand_qty="0", in_transit_qty="0", allocated_qty="0") for r in stock_rows(0)]
    before = [r for r in stock_rows(0) if r["warehouse_id"] == "W1"] + emptied[10:]
    assert check_stock(only_w1, before) == []  # W2 held nothing: it may leave the export


def test_rows_without_stock_may_be_left_out():
    before = stock_rows(0)
    for row in before[:5]:
        row.update(on_hand_qty="0", in_transit_qty="0", allocated_qty="0")
    assert check_stock(stock_rows(1)[5:], before) == []


def test_stock_identity_tolerance_and_share():
    def off(n: int, by: int) -> list[dict]:
        rows = stock_rows(1)
        for row in rows[:n]:
            row["on_hand_qty"] = str(int(row["on_hand_qty"]) - by)
        return rows

    # 5% of ~300 on hand = 15 units of slack
    assert check_stock(off(20, 14)) == []
    assert kinds(check_stock(off(20, 30))) == {"plausible_stock_identity"}
    # 4 of 20 rows off (20%) is the most the default allows; 5 blocks
    assert check_stock(off(4, 100)) == []
    (f,) = check_stock(off(5, 100))
    assert (f.unexpected_count, f.element_count) == (5, 20) and "max_stock_identity_violation_share" in f.describe()
    assert check_stock(off(5, 100), max_stock_identity_violation_share=0.3) == []
    # small stocks: at least stock_identity_min_units of slack
    small = [dict(r, on_hand_qty="2", allocated_qty="0", in_transit_qty="0") for r in stock_rows(0)]
    assert check_stock([dict(r, on_hand_qty="1") for r in small], small) == []
    assert check_stock([dict(r, on_hand_qty="1") for r in small], small, stock_identity_min_units=0)


def test_stock_beyond_what_was_in_transit_is_off_and_needs_the_in_transit_column():
    doubled = [dict(r, on_hand_qty=str(2 * int(r["on_hand_qty"]))) for r in stock_rows(1)]  # cases sent as units?
    assert kinds(check_stock(doubled)) == {"plausible_stock_identity"}
    no_transit = [{k: v for k, v in r.items() if k != "in_transit_qty"} for r in stock_rows(0)]
    assert check_stock(doubled, no_transit) == []  # receipts unbounded without in_transit_qty
    no_allocated = [{k: v for k, v in r.items() if k != "allocated_qty"} for r in stock_rows(0)]
    assert check_stock(stock_rows(1), no_allocated) == []  # 7 shipped is within 5% of ~300


# ------------------------------------------------------------------ masters, on frames


def test_snapshot_coverage_of_products_and_customers():
    products = [dict(sku=s, status="active") for s in SKUS]
    previous = frame(products, "landing/products/2024-03-01.csv")
    assert snapshot_coverage("products", frame(products), previous, D0, RULES, "p.csv").passed
    assert snapshot_coverage("products", frame([*products, dict(sku="S99")]), previous, D0, RULES, "p.csv").passed
    half = snapshot_coverage("products", frame(products[::2]), previous, D0, RULES, "p.csv")
    (f,) = half.failures
    assert f.expectation_type == "plausible_sku_coverage" and (f.unexpected_count, f.element_count) == (5, 10)
    assert "only 50% of the 10 SKUs of the products snapshot accepted for 2024-03-01" in f.describe()
    assert f.rows[0].source_file == "landing/products/2024-03-01.csv" and f.rows[0].values == {"sku": "S02"}
    # delisted SKUs may leave the master; limit 0 switches the check off
    delisted = frame([dict(p, status="Delisted " if i % 2 else "active") for i, p in enumerate(products)], "p0.csv")
    assert snapshot_coverage("products", frame(products[::2]), delisted, D0, RULES, "p.csv").passed
    off = PlausibilityConfig(min_sku_coverage=0)
    assert snapshot_coverage("products", frame(products[::2]), previous, D0, off, "p.csv").passed

    customers = [dict(customer_id=f"C{i:02d}", status="active") for i in range(20)]
    before = frame(customers + [dict(customer_id="C98", status="closed")], "c0.csv")
    assert snapshot_coverage("customers", frame(customers[:18]), before, D0, RULES, "c.csv").passed  # 90%
    (f,) = snapshot_coverage("customers", frame(customers[:17]), before, D0, RULES, "c.csv").failures
    assert f.expectation_type == "plausible_customer_coverage" and "min_customer_coverage" in f.describe()


def test_the_limits_are_in_restock_yaml_and_validated():
    rules = load_config(PROJECT_ROOT / "restock.yaml").quality.plausibility
    assert rules == PlausibilityConfig()
    assert (rules.min_sku_coverage, rules.min_warehouse_coverage, rules.min_customer_coverage) == (0.9, 1.0, 0.9)
    assert QualityConfig().plausibility == rules
    changed = parse_config({"quality": {"plausibility": {"min_sku_coverage": 0.5}}}).quality.plausibility
    assert changed.min_sku_coverage == 0.5 and changed.min_customer_coverage == 0.9
    for bad, words in (
        ({"min_sku_coverage": 1.5}, "quality.plausibility.min_sku_coverage"),
        ({"max_stock_identity_violation_share": -0.1}, "quality.plausibility.max_stock_identity_violation_share"),
        ({"stock_identity_min_units": "one"}, "quality.plausibility.stock_identity_min_units"),
        ({"min_coverage": 0.5}, "quality.plausibility.min_coverage is not a known key"),
    ):
        with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
            parse_config({"quality": {"plausibility": bad}})


# ------------------------------------------------------------------ through the gate


def csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def deliver(landing: Path, extract: str, day: date, rows: list[dict]) -> Path:
    folder = landing / extract
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day}.csv"
    path.write_bytes(csv_bytes(rows))
    return path


PRODUCTS = [dict(sku=s, lead_time_days="7", status="active") for s in SKUS]
CUSTOMERS = [dict(customer_id=f"C{i:02d}", status="active") for i in range(20)]


@pytest.fixture
def wh(tmp_path):
    landing, data = tmp_path / "landing", tmp_path / "data"
    data.mkdir()
    deliver(landing, "products", D0, PRODUCTS)
    deliver(landing, "customers", D0, CUSTOMERS)
    con = duckdb.connect(str(data / "warehouse.duckdb"))

    def load(extract, days, **kw):
        days = days if isinstance(days, list) else [days]
        return list(
            load_gated_days(con, landing, data, extract, days, encodings=ENC, today=TODAY, data_docs=False, **kw)
        )

    for extract in ("products", "customers"):
        assert load(extract, D0)[0].status == "loaded"
    yield landing, data, con, load
    con.close()


def raw_rows(con, extract, day):
    return con.execute(
        f"select * exclude (_loaded_at) from raw.{extract} where _partition_date = ? order by _source_row", [day]
    ).fetchall()


def test_first_day_and_the_day_after_a_gap_are_not_checked_but_noted(wh):
    landing, _, con, load = wh
    zero = [dict(r, on_hand_qty="0") for r in stock_rows(3)]
    deliver(landing, "inventory", D0, stock_rows(0))
    (first,) = load("inventory", D0)
    assert first.status == "loaded" and not first.warnings
    assert any("no accepted inventory for 2024-02-29 (first day" in n for n in first.info), first.info
    # D0 + 1 never arrived: D0 + 2 has no accepted day before it, even with every on hand at 0
    deliver(landing, "inventory", D0 + timedelta(days=2), zero)
    (after_gap,) = load("inventory", D0 + timedelta(days=2))
    assert after_gap.status == "loaded" and "not checked" in after_gap.info[0]
    # the first products / customers snapshot has nothing to compare with either
    (products,) = load("products", D0)
    assert products.passed and "no accepted products snapshot before 2024-03-01" in products.info[0]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("all_zero", ("plausible_on_hand_not_all_zero", "export taken during a stock count")),
        ("every_other_row", ("plausible_sku_coverage", "only 50% of the 20 warehouse x SKU rows")),
    ],
)
def test_implausible_inventory_is_quarantined_like_a_suite_failure(wh, case, expected):
    landing, data, con, load = wh
    day = D0 + timedelta(days=2)
    for t in range(3):
        deliver(landing, "inventory", D0 + timedelta(days=t), stock_rows(t))
    assert [r.status for r in load("inventory", [D0, D0 + timedelta(days=1), day])] == ["loaded"] * 3
    before = raw_rows(con, "inventory", day), con.execute("select * from raw._loads where partition_date = ?", [day])
    before = before[0], before[1].fetchall()
    bad = [dict(r, on_hand_qty="0") for r in stock_rows(2)] if case == "all_zero" else stock_rows(2)[::2]
    path = deliver(landing, "inventory", day, bad)
    (result,) = load("inventory", day)
    message = result.message()
    assert result.status == "quarantined" and str(path) in message and "FAILED" in message
    assert all(text in message for text in expected), message
    # the day keeps its accepted rows; the file is copied and recorded like any rejected file
    after = raw_rows(con, "inventory", day), con.execute("select * from raw._loads where partition_date = ?", [day])
    assert (after[0], after[1].fetchall()) == before
    assert result.quarantine_file.read_bytes() == path.read_bytes()
    (record,) = open_quarantines(con, "inventory")
    assert record["reason"] == message and record["source_file"] == str(path)
    failed = json.loads(
        con.execute("select failed_expectations from raw._quarantine where released_at is null").fetchone()[0]
    )
    assert expected[0] in {f["type"] for f in failed}
    # the good file back releases the day
    deliver(landing, "inventory", day, stock_rows(2))
    (good,) = load("inventory", day)
    assert good.status == "loaded" and good.released == 1 and not open_quarantines(con)
    note = con.execute("select release_note from raw._quarantine").fetchone()[0]
    assert note == f"released: {path} accepted"


def test_a_window_compares_each_day_with_the_day_before_as_accepted(wh):
    """Days of one backfill window: the day before is the one gated (and written) just before."""
    landing, _, con, load = wh
    days = [D0 + timedelta(days=t) for t in range(5)]
    for t, day in enumerate(days):
        deliver(landing, "inventory", day, stock_rows(t))
    deliver(landing, "inventory", days[1], stock_rows(1)[::2])  # half the rows: blocks
    deliver(landing, "inventory", days[3], [dict(r, on_hand_qty="0") for r in stock_rows(3)])  # all zero: blocks
    results = load("inventory", days)
    assert [(r.day, r.status) for r in results] == [
        (days[0], "loaded"),
        (days[1], "quarantined"),
        (days[2], "loaded"),  # its day before was rejected: nothing accepted to compare with
        (days[3], "quarantined"),
        (days[4], "loaded"),
    ]
    assert "not checked" in results[2].info[0] and "not checked" in results[4].info[0]
    assert not results[0].failed_expectations() and "plausible_sku_coverage" in results[1].message()
    assert con.execute("select count(distinct _partition_date) from raw.inventory").fetchone()[0] == 3


@pytest.mark.parametrize("extract", ["products", "customers"])
def test_a_master_that_lost_half_its_ids_is_quarantined_and_the_earlier_one_stays_in_force(wh, extract):
    landing, _, con, load = wh
    rows = PRODUCTS if extract == "products" else CUSTOMERS
    key = "sku" if extract == "products" else "customer_id"
    day = D0 + timedelta(days=5)
    path = deliver(landing, extract, day, rows[::2])
    (result,) = load(extract, day)
    assert result.status == "quarantined" and str(path) in result.message()
    assert (
        f"only 50% of the {len(rows)}" in result.message()
        and f"{extract} snapshot accepted for {D0}" in result.message()
    )
    assert con.execute(f"select max(_partition_date) from raw.{extract}").fetchone()[0] == D0
    # new ids and a few lost ones pass
    deliver(landing, extract, day, [*rows[1:], dict(rows[0], **{key: "NEW"})])
    assert load(extract, day)[0].status == "loaded"


def test_a_file_failing_its_suite_is_not_checked_for_plausibility(wh):
    landing, _, _, load = wh
    deliver(landing, "inventory", D0, stock_rows(0))
    load("inventory", D0)
    rows = [dict(r, on_hand_qty="0") for r in stock_rows(1)]
    rows[0]["on_hand_qty"] = "lots"
    deliver(landing, "inventory", D0 + timedelta(days=1), rows)
    (result,) = load("inventory", D0 + timedelta(days=1))
    assert result.status == "quarantined" and "on_hand_qty='lots'" in result.message()
    assert "plausible_" not in result.message()


def test_a_single_day_load_uses_the_rules_it_is_given(wh):
    landing, data, con, _ = wh
    deliver(landing, "inventory", D0, stock_rows(0))
    deliver(landing, "inventory", D0 + timedelta(days=1), stock_rows(1)[::2])
    load_gated_day(con, landing, data, "inventory", D0, encodings=ENC, today=TODAY, data_docs=False)
    loose = QualityConfig(plausibility=PlausibilityConfig(min_sku_coverage=0.5))
    result = load_gated_day(
        con, landing, data, "inventory", D0 + timedelta(days=1), encodings=ENC, today=TODAY, rules=loose
    )
    assert result.status == "loaded", result.message()
    shutil.rmtree(data / "quality", ignore_errors=True)
