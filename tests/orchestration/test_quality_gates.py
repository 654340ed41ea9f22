"""The raw validation gates in the real job (real instance, real dbt, real publish):
a bad orders file quarantines its day, fails the blocking check and stops everything
downstream; the warehouse, the marts and what BI reads stay as they were; the good
file back releases the day. Per-case coverage of bad inputs: tests/ingest/test_gated.py.

Uses the session's tiny landing folder (shared with other modules): the one file it
changes is restored byte for byte, with its modification time, whatever happens.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock.publish import published_state

FIRST, DAY = "2024-01-01", "2024-01-09"  # the last day other modules build too
BAD_ROW = 17  # data row (header excluded) whose quantity the bad delivery breaks


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as inst:
        yield inst


@pytest.fixture(scope="module")
def built(pipeline, instance):
    """The job, and a warehouse holding FIRST .. DAY (built here unless a module before did)."""
    defs, settings = pipeline
    job = defs.resolve_job_def("restock_daily")
    have = False
    if settings.warehouse_path.exists():
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        try:
            have = (
                con.execute("select count(*) from marts.order_lines where partition_date = ?", [DAY]).fetchone()[0] > 0
            )
        except duckdb.CatalogException:
            have = False
        finally:
            con.close()
    if not have:
        result = job.execute_in_process(
            instance=instance, tags={ASSET_PARTITION_RANGE_START_TAG: FIRST, ASSET_PARTITION_RANGE_END_TAG: DAY}
        )
        assert result.success
    return job, settings


def _query(settings, sql, params=()):
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _state(settings) -> dict[str, list]:
    return {
        "raw_orders": _query(settings, "select * from raw.orders where _partition_date = ? order by all", [DAY]),
        "raw_loads": _query(
            settings, "select * from raw._loads where extract = 'orders' and partition_date = ?", [DAY]
        ),
        "order_lines": _query(settings, "select * from marts.order_lines where partition_date = ? order by all", [DAY]),
        "weekly_demand": _query(
            settings,
            "select * from marts.customer_sku_weekly_demand "
            "where week_start = date_trunc('week', ?::date) order by all",
            [DAY],
        ),
    }


def _bad_orders(good: bytes, column: str = "quantity", value: str = "-3") -> bytes:
    rows = list(csv.reader(io.StringIO(good.decode("utf-8"))))
    rows[BAD_ROW][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _check(result, name):
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_bad_orders_file_is_quarantined_blocks_downstream_and_is_released_by_the_good_file(
    built, instance, landing_dir
):
    job, settings = built
    path = landing_dir / "orders" / f"{DAY}.csv"
    good, stat = path.read_bytes(), path.stat()
    before = _state(settings)
    published_before = published_state(settings.data_dir)
    assert before["raw_orders"] and before["order_lines"]
    assert "serving.duckdb" in published_before and len(published_before) > 1, "nothing published to compare"
    try:
        path.write_bytes(_bad_orders(good))
        bad_run = job.execute_in_process(instance=instance, partition_key=DAY, raise_on_error=False)

        # The blocking check fails and nothing downstream of the raw layer runs.
        assert not bad_run.success
        check = _check(bad_run, "orders_contract")
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        materialized = {e.asset_key.path[0] for e in bad_run.get_asset_materialization_events()}
        assert materialized == {"raw"}, materialized
        assert all(_check(bad_run, f"{e}_contract").passed for e in ("customers", "products", "inventory"))

        # The metadata names the file, the row and the column, and links the Data Docs page.
        meta = {k: v.value for k, v in check.metadata.items()}
        assert f"{path} row {BAD_ROW}: quantity='-3'" in meta["message"], meta["message"]
        assert meta["source_file"] == str(path) and meta["days_quarantined"] == 1
        failed = meta["failed_expectations"]
        assert any(
            f["column"] == "quantity" and f["unexpected_count"] == 1 and f["rows"][0]["source_row"] == BAD_ROW
            for f in failed
        ), failed
        docs = Path(meta["data_docs"])
        assert docs.is_file() and settings.data_dir / "quality" in docs.parents
        assert meta["data_docs_url"] == docs.resolve().as_uri()
        assert "-3" in docs.read_text(encoding="utf-8")

        # The warehouse keeps the day's accepted rows; the file is quarantined, byte for byte.
        after = _state(settings)
        assert after == before
        (record,) = _query(
            settings,
            "select checksum_sha256, quarantine_file, reason, released_at "
            "from raw._quarantine where extract = 'orders' and partition_date = ? "
            "and released_at is null",
            [DAY],
        )
        assert Path(record[1]).read_bytes() == path.read_bytes()
        assert record[0] == hashlib.sha256(path.read_bytes()).hexdigest() and f"row {BAD_ROW}" in record[2]
        # What BI reads is untouched.
        assert published_state(settings.data_dir) == published_before

        # dbt never reads a rejected file: rebuilding the day's marts now uses the accepted rows.
        from orchestration.assets.dbt import restock_dbt_models

        dbt_run = job.execute_in_process(
            instance=instance, partition_key=DAY, asset_selection=list(restock_dbt_models.keys)
        )
        assert dbt_run.success
        assert _state(settings) == before
    finally:
        path.write_bytes(good)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    # The good file back: the day passes, the quarantine is released, the whole run succeeds.
    good_run = job.execute_in_process(instance=instance, partition_key=DAY)
    assert good_run.success
    assert _check(good_run, "orders_contract").passed
    assert _query(
        settings,
        "select count(*) from raw._quarantine where extract = 'orders' and partition_date = ? and released_at is null",
        [DAY],
    ) == [(0,)]
    restored = _state(settings)
    assert restored["order_lines"] == before["order_lines"] and restored["weekly_demand"] == before["weekly_demand"]
    assert [r[:-1] for r in restored["raw_orders"]] == [r[:-1] for r in before["raw_orders"]]  # all but _loaded_at
    materialized = {e.asset_key.path[0] for e in good_run.get_asset_materialization_events()}
    assert {"raw", "marts", "published"} <= materialized


def _gzip_cut(good: bytes) -> bytes:
    import gzip

    packed = gzip.compress(good)
    return packed[: len(packed) // 2]


# Other ways a delivery goes wrong, through the real job: each leaves the warehouse's
# raw day and what BI reads unchanged, and the good file releases it. (Every case of
# the catalogue, with its message: tests/ingest/test_gated.py.)
BAD_DELIVERIES = {
    # id: (extract, how the day's file is replaced, blocked by the check or the step fails)
    "0-byte orders file": ("orders", lambda good: {".csv": b""}, "check"),
    "unknown sku": ("orders", lambda good: {".csv": _bad_orders(good, "sku", "XX99999")}, "check"),
    "truncated orders .csv.gz": ("orders", lambda good: {".csv.gz": _gzip_cut(good)}, "check"),
    "missing orders file": ("orders", lambda good: {}, "step"),
}


@pytest.mark.parametrize("case", list(BAD_DELIVERIES), ids=list(BAD_DELIVERIES))
def test_bad_delivery_through_the_job_changes_nothing_downstream(built, instance, landing_dir, case):
    job, settings = built
    extract, bad_files, blocked_by = BAD_DELIVERIES[case]
    path = landing_dir / extract / f"{DAY}.csv"
    good, stat = path.read_bytes(), path.stat()
    replacement = bad_files(good)
    before, published_before = _state(settings), published_state(settings.data_dir)
    written = []
    try:
        path.unlink()
        for suffix, data in replacement.items():
            target = landing_dir / extract / f"{DAY}{suffix}"
            target.write_bytes(data)
            written.append(target)
        bad_run = job.execute_in_process(instance=instance, partition_key=DAY, raise_on_error=False)
        assert not bad_run.success
        materialized = {e.asset_key.path[0] for e in bad_run.get_asset_materialization_events()}
        assert materialized <= {"raw"}, materialized
        if blocked_by == "check":
            check = _check(bad_run, f"{extract}_contract")
            message = check.metadata["message"].value
            assert not check.passed and f"{extract}/{DAY}" in message, message
        else:
            failure = bad_run.failure_data_for_node(f"raw__{extract}")
            assert failure is not None and f"{extract}/{DAY}.csv" in failure.error.to_string()
        assert _state(settings) == before
        assert published_state(settings.data_dir) == published_before
    finally:
        for target in written:
            target.unlink(missing_ok=True)
        path.write_bytes(good)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    raw_keys = [dg.AssetKey(["raw", name]) for name in ("customers", "products", "orders", "inventory", "promotions")]
    release = job.execute_in_process(instance=instance, partition_key=DAY, asset_selection=raw_keys)
    assert release.success and _check(release, f"{extract}_contract").passed
    assert _query(
        settings,
        "select count(*) from raw._quarantine where extract = ? and partition_date = ? and released_at is null",
        [extract, DAY],
    ) == [(0,)]
