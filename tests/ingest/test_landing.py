"""Reading landing files: formats, encodings, column mapping, clear errors."""

from __future__ import annotations

import gzip
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from restock.contract import EXTRACTS
from restock.ingest.landing import LandingError, find_file, read_extract_file

ENCODINGS = ["utf-8-sig", "gb18030"]
CUSTOMERS_CSV = (
    "customer_id,customer_name,channel,region,tier,status,opened_on,closed_on,order_weekday\n"
    "C001,老王便利店,便利店,东城区,12,active,2020-03-01,,2\n"
    "C002,兴隆烟酒店,烟酒店,西城区,,closed,2019-01-01,2024-01-05,5\n"
)


def _read(path, extract="customers", mapping=None):
    return read_extract_file(path, EXTRACTS[extract], mapping or {}, ENCODINGS)


def test_utf8_csv_keeps_text_and_blanks_become_null(tmp_path):
    path = tmp_path / "2024-01-02.csv"
    path.write_text(CUSTOMERS_CSV, encoding="utf-8")
    got = _read(path)
    rows = got.table.to_pylist()
    assert got.encoding == "utf-8-sig"
    assert rows[0]["customer_name"] == "老王便利店"
    assert rows[1]["tier"] is None and rows[1]["closed_on"] == "2024-01-05"
    assert [r["_source_row"] for r in rows] == [1, 2]
    assert got.table.column_names[:-1] == list(EXTRACTS["customers"].columns)


def test_gbk_csv_without_declaration_is_decoded(tmp_path):
    path = tmp_path / "2024-01-02.csv"
    path.write_bytes(CUSTOMERS_CSV.encode("gbk"))
    got = _read(path)
    assert got.encoding == "gb18030"
    assert got.table.column("channel").to_pylist() == ["便利店", "烟酒店"]


def test_csv_gz_and_parquet_give_the_same_rows_as_csv(tmp_path):
    plain = tmp_path / "a.csv"
    plain.write_text(CUSTOMERS_CSV, encoding="utf-8")
    gz = tmp_path / "b.csv.gz"
    gz.write_bytes(gzip.compress(CUSTOMERS_CSV.encode("utf-8")))
    parquet = tmp_path / "c.parquet"
    # Parquet carries types: an int tier and a real date must arrive as the same text.
    pq.write_table(
        pa.table(
            {
                "customer_id": ["C001", "C002"],
                "customer_name": ["老王便利店", "兴隆烟酒店"],
                "channel": ["便利店", "烟酒店"],
                "region": ["东城区", "西城区"],
                "tier": pa.array([12, None], pa.int64()),
                "status": ["active", "closed"],
                "opened_on": [date(2020, 3, 1), date(2019, 1, 1)],
                "closed_on": [None, date(2024, 1, 5)],
                "order_weekday": [2, 5],
            }
        ),
        parquet,
    )
    expected = _read(plain).table.to_pylist()
    assert _read(gz).table.to_pylist() == expected
    assert _read(parquet).table.to_pylist() == expected


def test_column_mapping_renames_and_extra_columns_are_ignored(tmp_path):
    path = tmp_path / "2024-01-02.csv"
    path.write_text("客户编码,状态,备注\nC001,active,hello\n", encoding="utf-8")
    got = _read(path, mapping={"customer_id": "客户编码", "status": "状态"})
    assert got.table.to_pylist()[0]["customer_id"] == "C001"
    assert "备注" not in got.table.column_names


def test_missing_required_column_names_file_and_column(tmp_path):
    path = tmp_path / "2024-01-02.csv"
    path.write_text("customer_id,customer_name\nC001,x\n", encoding="utf-8")
    with pytest.raises(LandingError) as err:
        _read(path)
    assert str(path) in str(err.value) and "status" in str(err.value)


def test_mapped_header_missing_says_which_header_was_expected(tmp_path):
    path = tmp_path / "2024-01-02.csv"
    path.write_text("customer_id,status\nC001,active\n", encoding="utf-8")
    with pytest.raises(LandingError, match="mapped to header '客户编码'"):
        _read(path, mapping={"customer_id": "客户编码"})


def test_empty_and_truncated_files_fail_with_the_path(tmp_path):
    empty = tmp_path / "2024-01-02.csv"
    empty.write_bytes(b"")
    with pytest.raises(LandingError, match="0 bytes"):
        _read(empty)
    truncated = tmp_path / "2024-01-03.csv.gz"
    truncated.write_bytes(gzip.compress(CUSTOMERS_CSV.encode())[:-10])
    with pytest.raises(LandingError, match="truncated"):
        _read(truncated)


def test_header_only_file_is_a_day_without_rows(tmp_path):
    path = tmp_path / "2024-01-02.csv"
    path.write_text(CUSTOMERS_CSV.splitlines()[0] + "\n", encoding="utf-8")
    assert _read(path).table.num_rows == 0


def test_two_formats_for_one_day_is_an_error(tmp_path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "2024-01-02.csv").write_text("x\n")
    (tmp_path / "orders" / "2024-01-02.parquet").write_text("x\n")
    with pytest.raises(LandingError, match="more than one file"):
        find_file(tmp_path, "orders", date(2024, 1, 2))
    assert find_file(tmp_path, "orders", date(2024, 1, 3)) is None


def test_file_names_must_be_yyyy_mm_dd(tmp_path):
    from restock.contract import day_of_file

    assert day_of_file("2025-03-02.csv") == date(2025, 3, 2)
    for name in ("20250302.csv", "2025-W09-7.csv", "2025-061.csv", "2025-3-2.csv", "2025-03-02.csv.done"):
        assert day_of_file(name) is None, name


def test_a_symlink_is_refused_and_its_target_never_read(tmp_path):
    from restock.ingest.landing import LandingError, find_file

    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "2024-01-02.csv").symlink_to(secret)
    with pytest.raises(LandingError, match="2024-01-02.csv: a symbolic link; deliver the file itself") as err:
        find_file(tmp_path / "landing", "orders", date(2024, 1, 2))
    assert "hunter2" not in str(err.value)
    (folder / "2024-01-03.csv").mkdir()
    with pytest.raises(LandingError, match="2024-01-03.csv: not a regular file"):
        find_file(tmp_path / "landing", "orders", date(2024, 1, 3))


def test_a_gzip_bomb_stops_at_the_limit(tmp_path):
    from restock.ingest import landing

    path = tmp_path / "2024-01-02.csv.gz"
    payload = b"order_id\n" + b"1\n" * 600_000  # 1.2 MB of text, a few KB compressed
    path.write_bytes(gzip.compress(payload))
    assert landing._gunzip(path, path.read_bytes(), limit=len(payload)) == payload
    with pytest.raises(landing.LandingError, match="decompresses to more than 1,000,000 bytes"):
        landing._gunzip(path, path.read_bytes(), limit=1_000_000)


def test_parquet_with_nested_or_repeated_columns_is_rejected_with_a_reason(tmp_path):
    import pyarrow.parquet as pq

    base = {"warehouse_id": ["W1"], "sku": ["S1"], "on_hand_qty": ["5"]}
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({**base, "on_hand_qty": pa.array([[5]], pa.list_(pa.int64()))}), nested)
    with pytest.raises(LandingError, match=r"on_hand_qty \(list<.*int64>\) hold lists or records"):
        read_extract_file(nested, EXTRACTS["inventory"], {}, ENCODINGS)
    extra = tmp_path / "extra.parquet"
    pq.write_table(pa.table({**base, "notes": pa.array([{"a": 1}])}), extra)  # a nested extra is ignored
    assert read_extract_file(extra, EXTRACTS["inventory"], {}, ENCODINGS).table.column("sku").to_pylist() == ["S1"]
    repeated = tmp_path / "repeated.parquet"
    table = pa.Table.from_arrays(
        [pa.array(["W1"]), pa.array(["S1"]), pa.array(["5"]), pa.array(["6"])],
        names=["warehouse_id", "sku", "on_hand_qty", "on_hand_qty"],
    )
    pq.write_table(table, repeated)
    with pytest.raises(LandingError, match=r"repeats column\(s\) \['on_hand_qty'\]"):
        read_extract_file(repeated, EXTRACTS["inventory"], {}, ENCODINGS)
