"""Publishing: atomic per-day Parquet, serving.duckdb views, optional PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from restock.publish import (
    cleanup_versions,
    ensure_serving,
    latest_glob,
    publish_day,
    published_days,
    serving_path,
    unpublish_day,
    versions,
)

HERE = Path(__file__).resolve().parent
D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)


def frame(n: int, version: int = 0, **extra) -> pd.DataFrame:
    data = {"sku": [f"S{i:05d}" for i in range(n)], "qty": list(range(n)), "version": version}
    data.update(extra)
    return pd.DataFrame(data)


def ro(data_dir: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(serving_path(data_dir)), read_only=True)


def test_publish_adds_as_of_date_and_serves_views(tmp_path):
    r = publish_day(tmp_path, "product_classes", D1, frame(5), key_columns=["sku"], description="SKU classes")
    assert (r.rows, r.replaced, r.latest) == (5, False, True)
    assert r.path.parent.parent == tmp_path / "published/_versions/product_classes/as_of_date=2024-03-01"
    publish_day(tmp_path, "product_classes", D2, frame(7))
    con = ro(tmp_path)
    try:
        assert con.execute("SELECT as_of_date, count(*) FROM product_classes GROUP BY 1 ORDER BY 1").fetchall() == [
            (D1, 5),
            (D2, 7),
        ]
        assert con.execute("SELECT DISTINCT as_of_date FROM product_classes_latest").fetchall() == [(D2,)]
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE product_classes)").fetchall())
        assert types["as_of_date"] == "DATE"
        assert (
            con.execute("SELECT comment FROM duckdb_views() WHERE view_name = 'product_classes'").fetchone()[0]
            == "SKU classes"
        )
    finally:
        con.close()
    assert published_days(tmp_path, "product_classes") == [D1, D2]
    # the file itself carries as_of_date (readers of one file need it too)
    assert pq.read_table(r.path).column("as_of_date").to_pylist() == [D1] * 5


def test_republish_replaces_the_day_and_latest_follows_the_newest_day(tmp_path):
    publish_day(tmp_path, "t", D2, frame(3, version=1))
    r = publish_day(tmp_path, "t", D2, frame(4, version=2))
    assert r.replaced and r.latest
    older = publish_day(tmp_path, "t", D1, frame(9, version=3))  # a backfill
    assert not older.latest
    assert os.listdir(tmp_path / "published/t/as_of_date=2024-03-02") == [r.path.name]
    # the superseded version is kept (grace period) but not reachable through the day
    assert len(os.listdir(tmp_path / "published/_versions/t/as_of_date=2024-03-02")) == 2
    con = ro(tmp_path)
    try:
        assert con.execute(
            "SELECT as_of_date, min(version), max(version), count(*) FROM t GROUP BY 1 ORDER BY 1"
        ).fetchall() == [(D1, 3, 3, 9), (D2, 2, 2, 4)]
        assert con.execute("SELECT count(*), min(version) FROM t_latest").fetchone() == (4, 2)
    finally:
        con.close()


def test_as_of_date_column_is_checked(tmp_path):
    with pytest.raises(ValueError, match=r"'t'.*no 'as_of_date' column"):
        publish_day(tmp_path, "t", None, frame(2))
    mixed = frame(2).assign(as_of_date=[D1, D2])
    with pytest.raises(ValueError, match=r"'t'.*'as_of_date' mixes 2 dates"):
        publish_day(tmp_path, "t", None, mixed)
    with pytest.raises(ValueError, match=r"'t'.*holds 2024-03-01.*published is 2024-03-02"):
        publish_day(tmp_path, "t", D2, frame(2).assign(as_of_date=D1))
    with pytest.raises(ValueError, match=r"'t'.*'as_of_date' has 1 null"):
        publish_day(tmp_path, "t", None, frame(2).assign(as_of_date=[D1, None]))
    with pytest.raises(ValueError, match=r"'t'.*empty and no as_of_date"):
        publish_day(tmp_path, "t", None, frame(0).assign(as_of_date=pd.Series([], dtype=object)))
    # text and timestamps are accepted when they are one day
    r = publish_day(tmp_path, "t", None, frame(2).assign(as_of_date="2024-03-01"))
    assert r.as_of_date == D1
    r = publish_day(tmp_path, "t", D1, frame(2).assign(as_of_date=pd.Timestamp("2024-03-01")))
    assert r.rows == 2
    assert not (tmp_path / "published/t/as_of_date=2024-03-02").exists()


def test_keys_and_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"'t'.*key columns \['sku'\] are not unique.*S00000"):
        publish_day(tmp_path, "t", D1, pd.concat([frame(2), frame(1)]), key_columns=["sku"])
    with pytest.raises(ValueError, match=r"'t'.*key column\(s\) \['nope'\] not in the frame"):
        publish_day(tmp_path, "t", D1, frame(2), key_columns=["nope"])
    with pytest.raises(ValueError, match=r"'t'.*key column 'sku' has 1 null"):
        publish_day(tmp_path, "t", D1, frame(2).assign(sku=["a", None]), key_columns=["sku"])
    with pytest.raises(ValueError, match="must not end in '_latest'"):
        publish_day(tmp_path, "x_latest", D1, frame(1))
    with pytest.raises(ValueError, match="not valid"):
        publish_day(tmp_path, "../evil", D1, frame(1))
    with pytest.raises(ValueError, match=r"'t'.*cannot convert.*bad"):
        publish_day(tmp_path, "t", D1, frame(2).assign(bad=[1, "x"]))
    with pytest.raises(TypeError, match="pandas DataFrame or a pyarrow Table"):
        publish_day(tmp_path, "t", D1, [{"a": 1}])
    assert published_days(tmp_path, "t") == []


def test_empty_day_and_arrow_input(tmp_path):
    empty = pa.table({"sku": pa.array([], pa.string()), "version": pa.array([], pa.int64())})
    r = publish_day(tmp_path, "inventory_alerts", D1, empty)
    assert r.rows == 0
    con = ro(tmp_path)
    try:
        assert con.execute("SELECT count(*) FROM inventory_alerts").fetchone() == (0,)
    finally:
        con.close()


def test_failed_write_keeps_the_previous_day(tmp_path, monkeypatch):
    publish_day(tmp_path, "t", D1, frame(3, version=1))

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(versions, "_write_parquet", boom)
    with pytest.raises(OSError, match="disk full"):
        publish_day(tmp_path, "t", D1, frame(8, version=2))
    with pytest.raises(OSError, match="disk full"):
        publish_day(tmp_path, "t", D2, frame(8, version=2))
    assert published_days(tmp_path, "t") == [D1]
    assert len(os.listdir(tmp_path / "published/_versions/t/as_of_date=2024-03-01")) == 1
    assert os.listdir(tmp_path / "published/_versions/t/as_of_date=2024-03-02") == []
    con = ro(tmp_path)
    try:
        assert con.execute("SELECT count(*), max(version) FROM t").fetchone() == (3, 1)
    finally:
        con.close()


def test_serving_swap_keeps_open_readers_working(tmp_path):
    publish_day(tmp_path, "a", D1, frame(3))
    old = ro(tmp_path)
    inode = os.stat(serving_path(tmp_path)).st_ino
    # A new table rebuilds serving.duckdb under another name and renames it in.
    publish_day(tmp_path, "b", D1, frame(4))
    assert os.stat(serving_path(tmp_path)).st_ino != inode
    try:
        # The reader that opened the old file keeps its catalog and its data.
        assert old.execute("SELECT count(*) FROM a").fetchone() == (3,)
        assert old.execute("SELECT count(*) FROM a_latest").fetchone() == (3,)
        with pytest.raises(duckdb.CatalogException):
            old.execute("SELECT count(*) FROM b")
    finally:
        old.close()
    # DuckDB caches an open database per path in a process: the new catalog is seen
    # once the old connection is closed (other processes see it at once).
    new = ro(tmp_path)
    try:
        assert new.execute("SELECT count(*) FROM b_latest").fetchone() == (4,)
        assert {r[0] for r in new.execute("SELECT table_name FROM published_tables").fetchall()} == {"a", "b"}
    finally:
        new.close()


def test_ensure_serving_keeps_tables_and_descriptions(tmp_path):
    publish_day(tmp_path, "a", D1, frame(1), description="first")
    ensure_serving(tmp_path, ["c"])
    ensure_serving(tmp_path, {"c": "not yet published"})
    con = ro(tmp_path)
    try:
        rows = con.execute("SELECT table_name, description, has_view FROM published_tables ORDER BY 1").fetchall()
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    finally:
        con.close()
    assert rows == [("a", "first", True), ("c", "not yet published", False)]
    assert views == {"a", "a_latest", "daily_reports"}  # daily_reports: the HTML reports (none here)
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_cleanup_versions_removes_only_old_superseded_versions(tmp_path):
    first = publish_day(tmp_path, "t", D1, frame(1, version=1)).path.parent
    second = publish_day(tmp_path, "t", D1, frame(2, version=2)).path.parent
    third = publish_day(tmp_path, "t", D1, frame(3, version=3)).path.parent
    crashed = first.parent / "crashed-run"
    crashed.mkdir()
    (crashed / "part-x.parquet").write_bytes(b"partial")
    past = time.time() - 7200
    for path in (first / "_superseded", crashed):
        os.utime(path, (past, past))
    old_latest = publish_day(tmp_path, "t", D3, frame(1, version=4)).path.parent
    os.utime(old_latest, (past, past))  # old but current: kept
    removed = cleanup_versions(tmp_path, grace=timedelta(hours=1))
    assert sorted(removed) == sorted([first, crashed])
    assert second.exists() and third.exists() and old_latest.exists()
    con = ro(tmp_path)
    try:
        assert con.execute("SELECT count(*), max(version) FROM t WHERE as_of_date = ?", [D1]).fetchone() == (3, 3)
    finally:
        con.close()


def test_latest_file_is_one_day(tmp_path):
    publish_day(tmp_path, "t", D1, frame(2, version=1))
    publish_day(tmp_path, "t", D3, frame(3, version=2))
    publish_day(tmp_path, "t", D2, frame(4, version=3))
    latest = duckdb.sql(f"SELECT * FROM read_parquet('{latest_glob(tmp_path, 't')}')").fetch_arrow_table()
    assert set(latest.column("as_of_date").to_pylist()) == {D3}
    assert len(latest) == 3


def test_concurrent_reader_never_sees_a_partial_day(tmp_path, capsys):
    """A reader process queries while days are re-published many times."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("reader_process", HERE / "reader_process.py")
    reader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reader)
    rows_for_version = reader.rows_for_version

    table = "replenishment_plan"
    days = [D1 + timedelta(days=i) for i in range(4)]
    for day in days:
        publish_day(tmp_path, table, day, frame(rows_for_version(0), version=0))
    stop = tmp_path / "stop"
    result = tmp_path / "reader.json"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "reader_process.py"), str(tmp_path), table, str(stop), str(result)],
        stderr=subprocess.PIPE,
    )
    publishes = 0
    try:
        deadline = time.time() + 60
        while not Path(str(stop) + ".ready").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, "reader did not start"
            time.sleep(0.05)
        started = time.time()
        for version in range(1, 9):
            for day in days:
                publish_day(tmp_path, table, day, frame(rows_for_version(version), version=version))
                publishes += 1
            # a new day (folder rename) and a rebuilt serving file while reading
            new_day = days[-1] + timedelta(days=version)
            publish_day(tmp_path, table, new_day, frame(rows_for_version(version), version=version))
            publishes += 1
            ensure_serving(tmp_path, {table: f"plan v{version}"})
        seconds = time.time() - started
    finally:
        stop.touch()
        proc.wait(timeout=60)
    summary = json.loads(result.read_text())
    with capsys.disabled():
        print(
            f"\nconcurrent reader: {summary['reads']} reads {summary['by_source']} during"
            f" {publishes} publishes in {seconds:.1f}s; errors={summary['error_count']}"
            f" glob_missing_file={summary['glob_missing_file']}"
            f" partial={summary['partial_count']} versions={summary['versions_seen']}"
        )
    assert proc.returncode == 0, proc.stderr.read().decode()
    assert summary["error_count"] == 0, summary["errors"]
    assert summary["partial_count"] == 0, summary["partial"]
    assert summary["reads"] >= 30
    assert len(summary["versions_seen"]) >= 3  # the reader really saw re-publishes


# ---------------------------------------------------------------- PostgreSQL


def test_postgres_is_used_only_when_the_caller_passes_a_url(tmp_path, monkeypatch):
    # The environment is read by restock.settings alone; a URL there is not a target here.
    monkeypatch.setenv("RESTOCK_POSTGRES_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert publish_day(tmp_path, "t", D1, frame(2)).rows == 2
    publish_day(tmp_path, "t", D2, frame(1))
    assert unpublish_day(tmp_path, "t", D1)
    assert published_days(tmp_path, "t") == [D2]


PG_URL = os.environ.get("RESTOCK_POSTGRES_URL")
needs_pg = pytest.mark.skipif(not PG_URL, reason="RESTOCK_POSTGRES_URL is not set")


@pytest.fixture
def pg_schema():
    import psycopg

    schema = f"restock_test_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@needs_pg
def test_postgres_day_is_replaced_in_one_transaction(tmp_path, pg_schema):
    import psycopg

    pg = {"postgres_url": PG_URL, "postgres_schema": pg_schema}
    df = frame(3, version=1).assign(
        price=[1.5, None, float("nan")],
        note=["a,b", "", None],
        active=[True, False, None],
        at=pd.to_datetime(["2024-03-01 10:00:00.123456", None, "2024-03-01 00:00:00"], format="ISO8601"),
        day=[D1, D2, None],
    )
    publish_day(tmp_path, "t", D1, df, **pg)
    publish_day(tmp_path, "t", D2, frame(2, version=1), **pg)
    # re-publish D1 with fewer rows and a new column
    publish_day(tmp_path, "t", D1, frame(1, version=2).assign(extra="x"), **pg)
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(
            f"SELECT as_of_date, min(version), max(version), count(*), max(extra)"
            f' FROM "{pg_schema}".t GROUP BY 1 ORDER BY 1'
        ).fetchall()
        assert rows == [(D1, 2, 2, 1, "x"), (D2, 1, 1, 2, None)]
    publish_day(tmp_path, "t2", D1, df, **pg)
    with psycopg.connect(PG_URL) as conn:
        got = conn.execute(f'SELECT price, note, active, "at", day FROM "{pg_schema}".t2 ORDER BY qty').fetchall()
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = 't2'",
                [pg_schema],
            ).fetchall()
        )
    assert got[0][:3] == (1.5, "a,b", True) and str(got[0][3]) == "2024-03-01 10:00:00.123456"
    assert got[1][1:4] == ("", False, None) and got[1][0] is None
    assert got[2][1] is None and got[2][4] is None
    assert types["as_of_date"] == "date" and types["qty"] == "bigint"
    assert types["price"] == "double precision" and types["at"].startswith("timestamp")


@needs_pg
def test_postgres_failed_load_keeps_previous_day(tmp_path, pg_schema, monkeypatch):
    import psycopg

    from restock.publish import postgres

    pg = {"postgres_url": PG_URL, "postgres_schema": pg_schema}
    publish_day(tmp_path, "t", D1, frame(3, version=1), **pg)
    monkeypatch.setattr(postgres, "_COPY_CHUNK", 10)

    def broken(data):  # fails after DELETE, inside the transaction
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(postgres, "_csv_ready", broken)
    with pytest.raises(RuntimeError):
        publish_day(tmp_path, "t", D1, frame(5, version=2), **pg)
    with psycopg.connect(PG_URL) as conn:
        assert conn.execute(f'SELECT count(*), max(version) FROM "{pg_schema}".t').fetchone() == (3, 1)
