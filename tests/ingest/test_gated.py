"""The raw validation gate, case by case (restock.ingest.gated): real files, a real
DuckDB warehouse and real Great Expectations runs, no mocks.

Every bad-input case starts from a warehouse where the day under test (``DAY``) was
loaded from a good file, re-delivers that day broken, and checks that the gate
rejects it with a message naming the file, row and column (where they apply), that
the raw rows of the day are byte-identical to before, that the file is quarantined
(copy + ``raw._quarantine``), and that delivering the good file again releases it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from restock.config import QualityConfig
from restock.contract import EXTRACTS
from restock.ingest.gated import load_gated_day, load_gated_days, open_quarantines
from restock.ingest.landing import LandingError
from restock.ingest.loader import MissingDeliveryError

ENC = ["utf-8-sig", "gb18030"]
D0, D1, DAY = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)
TODAY = date(2024, 1, 10)  # the run's date

CUSTOMERS = [
    dict(
        customer_id=f"C00{i}",
        customer_name=f"店{i}",
        channel="便利店",
        region="城东区",
        tier=str(3 * i),
        status="active",
        opened_on="2020-01-01",
        closed_on="",
        order_weekday=str(i),
    )
    for i in range(1, 6)
]
PRODUCTS = [
    dict(
        sku=f"S{i}",
        product_name=f"P{i}",
        brand="B",
        category="cig",
        price_band="mid",
        unit="条",
        units_per_case="50",
        unit_cost="70",
        list_price="85.5",
        lead_time_days="7",
        lead_time_std_days="1.5",
        moq_cases="1",
        shelf_life_days="540",
        status="active",
        launched_on="2023-01-01",
    )
    for i in range(1, 4)
]


def order_rows(day: date) -> list[dict]:
    # C001 orders ~5 cartons a line, every line, so it has a baseline for the outlier check.
    rows = []
    for i in range(1, 11):
        rows.append(
            dict(
                order_id=f"{day:%Y%m%d}{i:03d}",
                line_no="1",
                customer_id="C001",
                sku=f"S{i % 3 + 1}",
                order_date=day.isoformat(),
                quantity=str(4 + i % 3),
                requested_quantity=str(4 + i % 3),
                unit_price="85.5",
                amount=f"{85.5 * (4 + i % 3):.2f}",
                status="confirmed",
            )
        )
    rows.append(
        dict(
            order_id=f"{day:%Y%m%d}100",
            line_no="1",
            customer_id="C002",
            sku="S2",
            order_date=day.isoformat(),
            quantity="2",
            requested_quantity="3",
            unit_price="85.5",
            amount="171.00",
            status="confirmed",
        )
    )
    rows.append(
        dict(
            order_id=f"{day:%Y%m%d}100",
            line_no="2",
            customer_id="C002",
            sku="S3",
            order_date=day.isoformat(),
            quantity="1",
            requested_quantity="1",
            unit_price="85.5",
            amount="85.50",
            status="cancelled",
        )
    )
    return rows


def inventory_rows(day: date) -> list[dict]:
    # The stock identity holds from day to day: the 5 allocated ship the next morning.
    return [
        dict(
            warehouse_id="W1",
            sku=f"S{i}",
            on_hand_qty=str(200 + i - 5 * day.day),
            in_transit_qty="0",
            allocated_qty="5",
            oldest_batch_date="2023-12-01",
        )
        for i in range(1, 4)
    ]


def csv_bytes(
    rows: list[dict], header: list[str] | None = None, delimiter: str = ",", encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    header = header or list(rows[0])
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


def write(landing: Path, extract: str, day: date, data: bytes, suffix: str = ".csv") -> Path:
    folder = landing / extract
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{day.isoformat()}.*"):
        old.unlink()
    path = folder / f"{day.isoformat()}{suffix}"
    path.write_bytes(data)
    return path


def promotions_parquet() -> bytes:
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"sku": ["S1"], "start_date": ["2024-01-10"], "end_date": ["2024-01-20"], "discount_pct": ["5"]}), sink
    )
    return sink.getvalue()


def good_files(day: date) -> dict[str, tuple[bytes, str]]:
    """The daily extracts' good files of a day."""
    return {
        "orders": (csv_bytes(order_rows(day)), ".csv"),
        "inventory": (gzip.compress(csv_bytes(inventory_rows(day)), mtime=0), ".csv.gz"),
    }


def good_file(extract: str, day: date) -> tuple[bytes, str]:
    """A good file of any extract for ``day`` (snapshots: the same content as D0's)."""
    snapshots = {
        "customers": (csv_bytes(CUSTOMERS), ".csv"),
        "products": (csv_bytes(PRODUCTS), ".csv"),
        "promotions": (promotions_parquet(), ".parquet"),
    }
    return snapshots[extract] if extract in snapshots else good_files(day)[extract]


def build_landing(landing: Path) -> None:
    write(landing, "customers", D0, csv_bytes(CUSTOMERS))
    write(landing, "products", D0, csv_bytes(PRODUCTS))
    write(landing, "promotions", D0, promotions_parquet(), ".parquet")
    for day in (D1, DAY):
        for extract, (data, suffix) in good_files(day).items():
            write(landing, extract, day, data, suffix)


def load(con, landing, data_dir, extract, day, **kw):
    kw.setdefault("data_docs", False)
    return load_gated_day(con, landing, data_dir, extract, day, encodings=ENC, today=TODAY, **kw)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A landing folder and a warehouse holding the good files of D0 .. DAY."""
    root = tmp_path_factory.mktemp("gated_template")
    landing, data = root / "landing", root / "data"
    build_landing(landing)
    data.mkdir()
    con = duckdb.connect(str(data / "warehouse.duckdb"))
    try:
        for extract in ("customers", "products", "promotions"):
            assert load(con, landing, data, extract, D0).status == "loaded"
        for extract in ("orders", "inventory"):
            for result in load_gated_days(
                con, landing, data, extract, [D1, DAY], encodings=ENC, today=TODAY, data_docs=False
            ):
                assert result.status == "loaded", result.message()
    finally:
        con.close()
    return root


@dataclass
class Env:
    landing: Path
    data: Path
    con: duckdb.DuckDBPyConnection

    def load(self, extract, day=DAY, **kw):
        return load(self.con, self.landing, self.data, extract, day, **kw)

    def raw(self, extract, day=DAY):
        """The day's raw rows as stored (every column but the load time)."""
        cols = ", ".join(
            f'"{c}"' for c in (*EXTRACTS[extract].columns, "_partition_date", "_source_file", "_source_row")
        )
        rows = self.con.execute(
            f"select {cols} from raw.{extract} where _partition_date = ? order by _source_row", [day]
        ).fetchall()
        loads = self.con.execute(
            "select status, source_file, checksum_sha256, row_count from raw._loads "
            "where extract = ? and partition_date = ?",
            [extract, day],
        ).fetchall()
        return rows, loads

    def quarantine_rows(self, extract, day=DAY):
        cur = self.con.execute(
            "select * from raw._quarantine where extract = ? and partition_date = ? order by quarantined_at",
            [extract, day],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture
def env(template, tmp_path):
    shutil.copytree(template / "landing", tmp_path / "landing")
    shutil.copytree(template / "data", tmp_path / "data")
    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"))
    yield Env(tmp_path / "landing", tmp_path / "data", con)
    con.close()


def contract_rows(data: bytes, extract: str) -> list[tuple]:
    """What raw should hold for a good file: the contract columns as text."""
    if data[:4] == b"PAR1":
        rows = pq.read_table(io.BytesIO(data)).to_pylist()
    else:
        text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
    return [tuple((r.get(c) or None) for c in EXTRACTS[extract].columns) for r in rows]


def restore_and_check_release(env: Env, extract: str, quarantined: bool) -> None:
    data, suffix = good_file(extract, DAY)
    path = write(env.landing, extract, DAY, data, suffix)
    result = env.load(extract)
    assert result.status == "loaded" and result.passed, result.message()
    rows, loads = env.raw(extract)
    assert [r[: len(EXTRACTS[extract].columns)] for r in rows] == contract_rows(data, extract)
    assert loads[0][1] == str(path) and loads[0][3] == len(rows)
    if quarantined:
        assert result.released >= 1
        assert all(q["released_at"] is not None for q in env.quarantine_rows(extract))
    assert not open_quarantines(env.con, extract)


# ----------------------------------------------------------------- the catalogue


def _orders(change: Callable[[list[dict]], None] | None = None, **kw) -> Callable[[Path], None]:
    def mutate(landing: Path) -> None:
        rows = order_rows(DAY)
        if change:
            change(rows)
        write(landing, "orders", DAY, csv_bytes(rows, **kw))

    return mutate


def _set(row: int, **values) -> Callable[[list[dict]], None]:
    return lambda rows: rows[row - 1].update(values)


def _inventory(change: Callable[[list[dict]], None]) -> Callable[[Path], None]:
    def mutate(landing: Path) -> None:
        rows = inventory_rows(DAY)
        change(rows)
        write(landing, "inventory", DAY, gzip.compress(csv_bytes(rows)), ".csv.gz")

    return mutate


def _raw_bytes(extract: str, suffix: str, data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda landing: write(landing, extract, DAY, data() if callable(data) else data, suffix)


def _truncated(landing: Path) -> None:
    data = csv_bytes(order_rows(DAY))
    write(landing, "orders", DAY, data[: len(data) * 2 // 3])  # cut inside a row, as while it is written


HEADER = list(order_rows(DAY)[0])


@dataclass(frozen=True)
class Case:
    id: str
    extract: str
    mutate: Callable[[Path], None]
    outcome: str  # "quarantine" | "pass" | "pass_with_warning"
    expect: tuple[str, ...] = ()  # in the message (besides the file's path)
    row_column: str | None = None  # "row N: column" that the message must name


CASES = [
    Case("zero_byte_file", "orders", _raw_bytes("orders", ".csv", b""), "quarantine", ("empty file (0 bytes)",)),
    Case(
        "header_only_orders_is_a_day_without_orders",
        "orders",
        _raw_bytes("orders", ".csv", (",".join(HEADER) + "\n").encode()),
        "pass",
    ),
    Case(
        "header_only_inventory",
        "inventory",
        _raw_bytes(
            "inventory",
            ".csv.gz",
            gzip.compress(csv_bytes(inventory_rows(DAY))[: csv_bytes(inventory_rows(DAY)).index(b"\n") + 1]),
        ),
        "quarantine",
        ("a warehouse always holds stock", "expect_table_row_count_to_be_between"),
    ),
    Case(
        "wrong_delimiter",
        "orders",
        _orders(delimiter=";"),
        "quarantine",
        ("missing required column(s) order_id, line_no", "order_id;line_no;customer_id"),
    ),
    Case(
        "gbk_without_declaration",
        "customers",
        lambda landing: write(landing, "customers", DAY, csv_bytes(CUSTOMERS, encoding="gbk")),
        "pass",
    ),
    Case(
        "missing_required_column",
        "orders",
        _orders(header=[h for h in HEADER if h != "quantity"]),
        "quarantine",
        ("missing required column(s) quantity",),
    ),
    Case(
        "renamed_column",
        "orders",
        lambda landing: write(landing, "orders", DAY, csv_bytes(order_rows(DAY)).replace(b",quantity,", b",qty,", 1)),
        "quarantine",
        ("missing required column(s) quantity", "'qty'", "extracts.orders.columns"),
    ),
    Case(
        "extra_columns_are_ignored",
        "orders",
        _orders(lambda rows: [r.update(note="x", 备注="y") for r in rows], header=[*HEADER, "note", "备注"]),
        "pass",
    ),
    Case(
        "non_numeric_quantity",
        "orders",
        _orders(_set(2, quantity="ten")),
        "quarantine",
        ("quantity is a number", "quantity='ten'"),
        "row 2: quantity",
    ),
    Case(
        "negative_quantity",
        "orders",
        _orders(_set(3, quantity="-3")),
        "quarantine",
        ("quantity is between 0 and max_quantity", "quantity='-3'"),
        "row 3: quantity",
    ),
    Case(
        "null_key",
        "orders",
        _orders(_set(4, customer_id="")),
        "quarantine",
        ("customer_id is filled in", "customer_id=NULL"),
        "row 4: customer_id",
    ),
    Case(
        "duplicate_order_line",
        "orders",
        _orders(lambda rows: rows.append(dict(rows[0]))),
        "quarantine",
        ("appears once in the day", "expect_compound_columns_to_be_unique"),
        "row 13: order_id",
    ),
    Case(
        "unknown_customer",
        "orders",
        _orders(_set(5, customer_id="C999")),
        "quarantine",
        ("customer_id is in the customers master", "customer_id='C999'"),
        "row 5: customer_id",
    ),
    Case(
        "unknown_sku",
        "orders",
        _orders(_set(6, sku="S404")),
        "quarantine",
        ("sku is in the products master", "sku='S404'"),
        "row 6: sku",
    ),
    Case(
        "order_date_not_the_partition_day",
        "orders",
        _orders(_set(7, order_date=D1.isoformat())),
        "quarantine",
        ("order_date is the partition day", f"order_date='{D1}'"),
        "row 7: order_date",
    ),
    Case(
        "order_date_in_the_future",
        "orders",
        _orders(_set(8, order_date="2024-02-01")),
        "quarantine",
        ("order_date is not in the future", "order_date='2024-02-01'"),
        "row 8: order_date",
    ),
    Case(
        "customer_opened_after_the_snapshot_day",
        "customers",
        lambda landing: write(
            landing,
            "customers",
            DAY,
            csv_bytes([dict(c, opened_on="2024-06-01") if c["customer_id"] == "C002" else c for c in CUSTOMERS]),
        ),
        "quarantine",
        ("opened_on is not after the partition day", "opened_on='2024-06-01'"),
        "row 2: opened_on",
    ),
    Case(
        "inventory_of_a_later_day",
        "inventory",
        _inventory(_set(2, oldest_batch_date="2024-01-05")),
        "quarantine",
        ("oldest_batch_date is not after the partition day", "oldest_batch_date='2024-01-05'"),
        "row 2: oldest_batch_date",
    ),
    Case(
        "inventory_of_the_previous_day_sent_again",
        "inventory",
        lambda landing: write(landing, "inventory", DAY, good_files(D1)["inventory"][0], ".csv.gz"),
        "pass_with_warning",
        ("byte-identical to the file accepted for 2024-01-02",),
    ),
    Case(
        "absurd_quantity",
        "orders",
        _orders(_set(9, quantity="250000")),
        "quarantine",
        ("quantity is between 0 and max_quantity", "quantity='250000'"),
        "row 9: quantity",
    ),
    Case(
        "quantity_outlier_is_a_warning",
        "orders",
        _orders(_set(1, quantity="500", requested_quantity="500")),
        "pass_with_warning",
        ("(warning)", "quantity='500'", "quantity__z"),
    ),
    Case(
        "truncated_csv_gz",
        "inventory",
        _raw_bytes("inventory", ".csv.gz", lambda: gzip.compress(csv_bytes(inventory_rows(DAY)))[:-12]),
        "quarantine",
        ("not a complete gzip file", "truncated"),
    ),
    Case(
        "corrupt_parquet",
        "promotions",
        lambda landing: write(landing, "promotions", DAY, promotions_parquet()[:-40] + b"garbage", ".parquet"),
        "quarantine",
        ("not a readable Parquet file",),
    ),
    Case(
        "undecodable_text",
        "orders",
        _raw_bytes("orders", ".csv", csv_bytes(order_rows(DAY)) + b"\xff\xfe\xff\n"),
        "quarantine",
        ("cannot decode with any configured encoding", "line 14"),
    ),
    Case(
        "file_still_being_written",
        "orders",
        _truncated,
        "quarantine",
        ("CSV cannot be parsed", "the header has 10", "was the file still being written?"),
        "row 8 (line 9)",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_catalogue(env, case):
    before = env.raw(case.extract)
    case.mutate(env.landing)
    delivered = next((env.landing / case.extract).glob(f"{DAY}.*"))
    delivered_bytes = delivered.read_bytes()
    result = env.load(case.extract)
    message = result.message()

    if case.outcome == "quarantine":
        assert result.status == "quarantined" and not result.passed, message
        assert str(delivered) in message, message
        for text in case.expect:
            assert text in message, f"{text!r} not in:\n{message}"
        if case.row_column:
            assert f"{delivered} {case.row_column}" in message, message
        # The day's raw rows and load record are exactly what they were.
        assert env.raw(case.extract) == before
        # A byte-for-byte copy, recorded with the gate's message and failing expectations.
        assert result.quarantine_file.read_bytes() == delivered_bytes
        assert result.quarantine_file.parent == env.data / "quarantine" / case.extract / DAY.isoformat()
        (record,) = env.quarantine_rows(case.extract)
        assert record["source_file"] == str(delivered) and record["released_at"] is None
        assert record["reason"] == message and record["quarantine_file"] == str(result.quarantine_file)
        assert record["quarantine_file"].split("/")[-1].startswith(record["checksum_sha256"][:12] + "-")
        failed = json.loads(record["failed_expectations"])
        assert failed and all("type" in f for f in failed)
        if case.row_column and result.gate is not None:  # the sample rows name file, row and values
            assert any(r["source_file"] == str(delivered) and r["source_row"] for f in failed for r in f["rows"]), (
                failed
            )
        # Running the partition again with the same bad file keeps one open record.
        assert env.load(case.extract).status == "quarantined"
        assert len(env.quarantine_rows(case.extract)) == 1
    else:
        assert result.status == "loaded" and result.passed, message
        assert bool(result.warnings) == (case.outcome == "pass_with_warning"), message
        shown = message + "\n".join(result.notes)
        for text in case.expect:
            assert text in shown, f"{text!r} not in:\n{shown}"
        rows, _ = env.raw(case.extract)
        assert len(rows) == result.row_count
        if case.id == "gbk_without_declaration":
            assert result.encoding == "gb18030"
            assert [r[1] for r in rows] == [c["customer_name"] for c in CUSTOMERS]
        if case.id == "extra_columns_are_ignored":
            assert [r[: len(EXTRACTS["orders"].columns)] for r in rows] == contract_rows(
                csv_bytes(order_rows(DAY)), "orders"
            )

    # The good file back: the partition passes, raw holds its rows, the quarantine is released.
    restore_and_check_release(env, case.extract, quarantined=case.outcome == "quarantine")


def test_missing_daily_file_fails_naming_the_expected_path(env):
    """A daily file removed after it was loaded is withdrawn: the day fails as never delivered."""
    before = env.raw("orders")
    assert before[0] and before[1][0][0] == "loaded"
    (env.landing / "orders" / f"{DAY}.csv").unlink()
    with pytest.raises(MissingDeliveryError) as err:
        env.load("orders")
    assert str(env.landing / "orders" / f"{DAY}.csv") in str(err.value)
    assert "no longer in the landing folder" in str(err.value) and "withdrawn" in str(err.value)
    assert env.raw("orders") == ([], []) and not env.quarantine_rows("orders")
    (kept,) = (env.data / "withdrawn" / "orders" / DAY.isoformat()).glob("*.rows.parquet")
    assert len(pq.read_table(kept)) == len(before[0])
    # The same run again: still missing, nothing left to withdraw.
    with pytest.raises(MissingDeliveryError, match="no file landed") as again:
        env.load("orders")
    assert "withdrawn" not in str(again.value)
    restore_and_check_release(env, "orders", quarantined=False)


def test_the_same_file_delivered_twice_is_counted_once(env):
    def content(rows):  # (the template's rows name the template's landing folder)
        return [r[:-2] + r[-1:] for r in rows]

    rows, _ = env.raw("orders")
    for _ in range(2):  # a re-run, then a re-delivery of the same bytes
        write(env.landing, "orders", DAY, good_files(DAY)["orders"][0])
        assert env.load("orders").row_count == len(rows)
    assert content(env.raw("orders")[0]) == content(rows)
    assert env.con.execute("select count(*) from raw.orders").fetchone()[0] == 2 * len(rows)
    # The same day delivered in two formats at once: ambiguous, the step fails naming both.
    gz = env.landing / "orders" / f"{DAY}.csv.gz"
    gz.write_bytes(gzip.compress(good_files(DAY)["orders"][0]))
    with pytest.raises(LandingError, match="more than one file delivered") as err:
        env.load("orders")
    assert str(gz) in str(err.value)
    assert content(env.raw("orders")[0]) == content(rows)


def test_a_window_loads_the_good_days_and_quarantines_the_bad_one(env):
    """Several days in one GE run give the same verdicts as one run per day."""
    days = [DAY + timedelta(days=i) for i in range(1, 5)]
    for day in days:
        for extract, (data, suffix) in good_files(day).items():
            write(env.landing, extract, day, data, suffix)
    bad = days[2]
    rows = order_rows(bad)
    rows[4]["sku"] = "S404"
    write(env.landing, "orders", bad, csv_bytes(rows))
    results = list(
        load_gated_days(env.con, env.landing, env.data, "orders", days, encodings=ENC, today=TODAY, data_docs=True)
    )
    assert [(r.day, r.status) for r in results] == [(d, "quarantined" if d == bad else "loaded") for d in days]
    rejected = results[2]
    alone = load(env.con, env.landing, env.data, "orders", bad)  # the same day on its own
    assert rejected.gate.failures == alone.gate.failures and "row 5: sku='S404'" in rejected.message()
    # Data Docs only for the rejected day of a window.
    assert rejected.data_docs_path.is_file() and str(rejected.data_docs_path).startswith(str(env.data / "quality"))
    assert all(r.data_docs_path is None for r in results if r.passed)
    assert env.con.execute("select count(*) from raw.orders where _partition_date = ?", [bad]).fetchone()[0] == 0


def test_a_rejected_customers_snapshot_leaves_the_previous_one_in_force(env):
    bad = [dict(c) for c in CUSTOMERS] + [dict(CUSTOMERS[0], customer_id="C006", status="gone")]
    write(env.landing, "customers", DAY, csv_bytes(bad))
    assert env.load("customers").status == "quarantined"
    # Orders of that day are checked against the snapshot in force (D0's): C006 is unknown.
    rows = order_rows(DAY)
    rows[0]["customer_id"] = "C006"
    write(env.landing, "orders", DAY, csv_bytes(rows))
    result = env.load("orders")
    assert result.status == "quarantined" and "customer_id='C006'" in result.message()
    # The corrected snapshot (C006 active) releases the day, and C006's orders pass.
    write(env.landing, "customers", DAY, csv_bytes([*CUSTOMERS, dict(CUSTOMERS[0], customer_id="C006")]))
    assert env.load("customers").released == 1
    assert env.load("orders").passed


def test_data_docs_page_of_a_single_day(env):
    _orders(_set(2, quantity="ten"))(env.landing)
    result = env.load("orders", data_docs=True)
    page = result.data_docs_path
    assert page.is_file() and env.data / "quality" / "docs" in page.parents
    assert ">ten<" in page.read_text(encoding="utf-8")
    assert f"Data Docs: {page}" in result.message()


def test_outlier_and_absurd_quantity_limits_come_from_the_rules(env):
    _orders(_set(1, quantity="60"))(env.landing)
    assert env.load("orders").warnings == 1  # ~5 a line for C001: 60 is an outlier at k = 8
    assert env.load("orders", rules=QualityConfig(outlier_k=100)).warnings == 0
    result = env.load("orders", rules=QualityConfig(max_quantity=50))
    assert result.status == "quarantined" and "quantity='60'" in result.message()
