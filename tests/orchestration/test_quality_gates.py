"""The raw validation gates in the real job (real instance, real dbt, real publish):
a bad orders file quarantines its day, fails the blocking check and stops everything
downstream; the warehouse, the marts and what BI reads stay as they were; the good
file back releases the day. Implausible snapshots (half the inventory rows, every
on hand at 0, half the products lost) are quarantined the same way; a withdrawn
snapshot leaves the day as a run that never saw it. Per-case coverage of bad inputs:
tests/ingest/test_gated.py, test_plausibility.py, test_withdraw.py.

Uses the session's tiny landing folder (shared with other modules): the files it
changes are restored byte for byte, with their modification time, and the files it
adds are removed, whatever happens.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock.contract import day_of_file
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
    # Load times left out: a run loads the good files of the other extracts again.
    return {
        "raw_orders": _query(
            settings, "select * exclude (_loaded_at) from raw.orders where _partition_date = ? order by all", [DAY]
        ),
        "raw_inventory": _query(
            settings, "select * exclude (_loaded_at) from raw.inventory where _partition_date = ? order by all", [DAY]
        ),
        "raw_products": _query(settings, "select * exclude (_loaded_at) from raw.products order by all"),
        "raw_loads": _query(
            settings,
            "select * exclude (loaded_at) from raw._loads where extract = 'orders' and partition_date = ?",
            [DAY],
        ),
        "raw_other_loads": _query(
            settings,
            "select * exclude (loaded_at) from raw._loads where extract <> 'orders' and partition_date = ? order by all",
            [DAY],
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
    assert restored["raw_orders"] == before["raw_orders"]
    materialized = {e.asset_key.path[0] for e in good_run.get_asset_materialization_events()}
    assert {"raw", "marts", "published"} <= materialized


def _gzip_cut(good: bytes) -> bytes:
    import gzip

    packed = gzip.compress(good)
    return packed[: len(packed) // 2]


def _file_in_force(landing_dir: Path, extract: str) -> tuple[Path | None, bytes]:
    """The extract's file for DAY (None: a snapshot not delivered that day) and the text
    of the file in force on DAY (that one, or the latest earlier snapshot; un-gzipped)."""
    files = sorted(
        (day, path)
        for path in (landing_dir / extract).iterdir()
        if (day := day_of_file(path.name)) is not None and day <= date.fromisoformat(DAY)
    )
    day, path = files[-1]
    data = path.read_bytes()
    return (path if str(day) == DAY else None), gzip.decompress(data) if path.name.endswith(".gz") else data


def _every_other_row(good: bytes) -> bytes:
    """The header and every other data row (bytes: GBK files stay GBK)."""
    lines = good.rstrip(b"\n").split(b"\n")
    return b"\n".join([lines[0], *lines[1::2]]) + b"\n"


def _on_hand_zero(good: bytes) -> bytes:
    rows = list(csv.reader(io.StringIO(good.decode("utf-8"))))
    column = rows[0].index("on_hand_qty")
    for row in rows[1:]:
        row[column] = "0"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


# Other ways a delivery goes wrong, through the real job: each leaves the warehouse's
# raw day and what BI reads unchanged, and the good file releases it. (Every case of
# the catalogue, with its message: tests/ingest/test_gated.py.) The implausible ones
# pass their suites: only the plausibility gates (quality.plausibility) stop them.
BAD_DELIVERIES = {
    # id: (extract, the day's files, from the text of the file in force; blocked by the check or the step fails)
    "0-byte orders file": ("orders", lambda good: {".csv": b""}, "check"),
    "unknown sku": ("orders", lambda good: {".csv": _bad_orders(good, "sku", "XX99999")}, "check"),
    "truncated orders .csv.gz": ("orders", lambda good: {".csv.gz": _gzip_cut(good)}, "check"),
    "missing orders file": ("orders", lambda good: {}, "step"),
    "inventory without every other row": (
        "inventory",
        lambda good: {".csv.gz": gzip.compress(_every_other_row(good))},
        "check",
    ),
    "inventory with every on hand at 0": ("inventory", lambda good: {".csv": _on_hand_zero(good)}, "check"),
    "products snapshot that lost half its SKUs": ("products", lambda good: {".csv": _every_other_row(good)}, "check"),
}
EXPECTED_FAILURE = {
    "inventory without every other row": "plausible_sku_coverage",
    "inventory with every on hand at 0": "plausible_on_hand_not_all_zero",
    "products snapshot that lost half its SKUs": "plausible_sku_coverage",
}


@pytest.mark.parametrize("case", list(BAD_DELIVERIES), ids=list(BAD_DELIVERIES))
def test_bad_delivery_through_the_job_changes_nothing_downstream(built, instance, landing_dir, case):
    job, settings = built
    extract, bad_files, blocked_by = BAD_DELIVERIES[case]
    path, good = _file_in_force(landing_dir, extract)
    original = (path.read_bytes(), path.stat()) if path is not None else None
    replacement = bad_files(good)
    before, published_before = _state(settings), published_state(settings.data_dir)
    written = []
    try:
        if path is not None:
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
            if case in EXPECTED_FAILURE:
                assert EXPECTED_FAILURE[case] in message, message
                failed = check.metadata["failed_expectations"].value
                assert EXPECTED_FAILURE[case] in {f["type"] for f in failed}, failed
            assert _state(settings) == before
        else:
            failure = bad_run.failure_data_for_node(f"raw__{extract}")
            assert failure is not None and f"{extract}/{DAY}.csv" in failure.error.to_string()
            # The file left the landing folder: the day's rows are withdrawn (as never delivered);
            # nothing downstream ran, so the marts are as they were.
            after = _state(settings)
            assert after["raw_orders"] == [] and after["raw_loads"] == [], "a removed file is withdrawn"
            assert {k: v for k, v in after.items() if k not in ("raw_orders", "raw_loads")} == {
                k: v for k, v in before.items() if k not in ("raw_orders", "raw_loads")
            }
        assert published_state(settings.data_dir) == published_before
    finally:
        for target in written:
            target.unlink(missing_ok=True)
        if path is not None and original is not None:
            path.write_bytes(original[0])
            os.utime(path, ns=(original[1].st_atime_ns, original[1].st_mtime_ns))
    raw_keys = [dg.AssetKey(["raw", name]) for name in ("customers", "products", "orders", "inventory", "promotions")]
    release = job.execute_in_process(instance=instance, partition_key=DAY, asset_selection=raw_keys)
    assert release.success and _check(release, f"{extract}_contract").passed
    assert _query(
        settings,
        "select count(*) from raw._quarantine where extract = ? and partition_date = ? and released_at is null",
        [extract, DAY],
    ) == [(0,)]
    if path is None:  # a snapshot delivered for DAY only in the test: the day is back on the earlier one
        assert _query(
            settings, "select status from raw._loads where extract = ? and partition_date = ?", [extract, DAY]
        ) == [("no_delivery",)]


# --------------------------------------------------------------- withdrawing a delivery


def _day_tables(settings) -> dict[str, list]:
    """What DAY holds in the warehouse (marts and analytics rows of the day, the raw
    products in force) and in its published Parquet files, without file names, run ids
    or load times. Floats are compared to 9 significant digits (sums follow DuckDB's
    parallel order; issue 12 point 11)."""

    def clean(rows: list[tuple]) -> list[tuple]:
        return sorted((tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in row) for row in rows), key=repr)

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        skip = ("_source_file", "_loaded_at", "source_file", "loaded_at", "run_id", "computed_at", "created_at")
        tables: dict[str, list] = {}
        columns = con.execute(
            "select table_schema, table_name, list(column_name order by ordinal_position) "
            "from information_schema.columns where table_schema in ('raw', 'marts', 'analytics') "
            "group by all order by all"
        ).fetchall()
        for schema, table, names in columns:
            keep = ", ".join(f'"{c}"' for c in names if c not in skip)
            day_column = next((c for c in ("as_of_date", "partition_date", "inventory_date") if c in names), None)
            if schema == "raw" and table in ("products", "_loads"):
                where = "" if table == "products" else "where extract = 'products'"
            elif day_column is not None:
                where = f"where {day_column} = '{DAY}'"
            else:
                continue
            tables[f"{schema}.{table}"] = clean(
                con.execute(f'select {keep} from {schema}."{table}" {where}').fetchall()
            )
    finally:
        con.close()
    published = settings.data_dir / "published"
    reader = duckdb.connect()
    try:
        for folder in sorted(published.glob(f"*/as_of_date={DAY}")):
            relation = reader.sql(f"select * from read_parquet('{folder}/*.parquet')")
            keep = [f'"{c}"' for c in relation.columns if c not in ("run_id", "published_at")]
            tables[f"published.{folder.parent.name}"] = clean(relation.select(*keep).fetchall())
    finally:
        reader.close()
    return tables


def test_a_withdrawn_products_snapshot_leaves_the_day_as_a_run_that_never_saw_it(built, instance, landing_dir):
    job, settings = built
    assert job.execute_in_process(instance=instance, partition_key=DAY).success
    never_saw_it = _day_tables(settings)
    assert any(k.startswith("published.") and v for k, v in never_saw_it.items()), "nothing published to compare"

    own, good = _file_in_force(landing_dir, "products")
    assert own is None, "the tiny demo has no products snapshot on DAY"
    wrong = landing_dir / "products" / f"{DAY}.csv"
    rows = list(csv.reader(io.StringIO(good.decode("gb18030"))))
    lead = rows[0].index("lead_time_days")
    for row in rows[1:]:  # every lead time 3 weeks longer: plausible, passes every gate, and wrong
        row[lead] = str(int(row[lead]) + 21)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    try:
        wrong.write_bytes(out.getvalue().encode("gb18030"))
        assert job.execute_in_process(instance=instance, partition_key=DAY).success
        with_it = _day_tables(settings)
        changed = {k for k in never_saw_it if with_it.get(k) != never_saw_it[k]}
        assert {"raw.products", "marts.products", "published.replenishment_plan"} <= changed, changed
    finally:
        wrong.unlink(missing_ok=True)  # the withdrawal

    withdrawn = job.execute_in_process(instance=instance, partition_key=DAY)
    assert withdrawn.success
    after = _day_tables(settings)
    assert after.keys() == never_saw_it.keys()
    assert {k for k in after if after[k] != never_saw_it[k]} == set()
    assert _query(
        settings, "select status from raw._loads where extract = 'products' and partition_date = ?", [DAY]
    ) == [("no_delivery",)]
    kept = list((settings.data_dir / "withdrawn" / "products" / DAY).glob("*.rows.parquet"))
    assert len(kept) == 1
