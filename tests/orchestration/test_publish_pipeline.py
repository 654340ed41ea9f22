"""The publish step of the real pipeline: what BI tools read after a run, and a reader
process querying serving.duckdb while the pipeline re-publishes several days."""

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock.publish import published_state

FIRST, LAST = "2024-01-01", "2024-01-09"
FORECAST_DAYS = ["2024-01-07", "2024-01-08", "2024-01-09"]  # the first forecast origin is 01-07


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as inst:
        yield inst


def _range(first, last):
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


@pytest.fixture(scope="module")
def published(pipeline, instance):
    """The tiny pipeline run (or reused from test_pipeline) and published (also to
    PostgreSQL, in a schema of its own, when .ci/run started a server)."""
    from orchestration.assets.publish import SOURCES

    defs, settings = pipeline
    if settings.postgres_url:
        import psycopg

        with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {settings.postgres_schema} CASCADE")

    job = defs.resolve_job_def("restock_daily")
    con = duckdb.connect(str(settings.warehouse_path)) if settings.warehouse_path.exists() else None
    have = con.execute("select count(*) from analytics.forecast_runs").fetchall()[0][0] if con else 0
    if con:
        con.close()
    if not have:
        assert job.execute_in_process(instance=instance, tags=_range(FIRST, LAST)).success
    keys = [dg.AssetKey(["published", t]) for t in SOURCES]
    result = job.execute_in_process(instance=instance, asset_selection=keys, tags=_range(FIRST, LAST))
    assert result.success
    return job, keys, settings, list(SOURCES)


def _warehouse_counts(settings, tables) -> dict[str, dict[str, int]]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {
            t: dict(
                con.execute(
                    f"select as_of_date::varchar, count(*) from analytics.{t} "
                    "where as_of_date between ? and ? group by 1",
                    [FIRST, LAST],
                ).fetchall()
            )
            for t in tables
        }
    finally:
        con.close()


def test_published_tables_equal_the_warehouse_days_and_checks_pass(published, instance):
    job, keys, settings, tables = published
    expected = _warehouse_counts(settings, tables)
    serving = duckdb.connect(str(settings.data_dir / "serving.duckdb"), read_only=True)
    try:
        for table in tables:
            got = dict(serving.execute(f"select as_of_date::varchar, count(*) from {table} group by 1").fetchall())
            assert got == {d: n for d, n in expected[table].items() if d in FORECAST_DAYS}, table
            latest = serving.execute(f"select distinct as_of_date::varchar from {table}_latest").fetchall()
            # An empty day is published too (e.g. no accuracy review before the first weeks).
            assert latest == ([(LAST,)] if expected[table].get(LAST) else []), table
        assert serving.execute("select count(*) from published_tables where has_view").fetchall() == [(len(tables),)]
    finally:
        serving.close()
    assert sorted(expected["customer_order_suggestions"]) == FORECAST_DAYS, "days before the first forecast have none"
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:  # only suggestions of at least one unit are stored; the gate still finds every active customer's
        zero = con.execute("select count(*) from analytics.customer_order_suggestions where suggested_qty = 0")
        assert zero.fetchall() == [(0,)]
    finally:
        con.close()
    for key in keys:
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(key, "publishable")]
        )[dg.AssetCheckKey(key, "publishable")]
        assert check.status.value == "SUCCEEDED", key


def test_postgres_target_holds_the_same_days(published):
    job, keys, settings, tables = published
    if not settings.postgres_url:
        pytest.skip("RESTOCK_POSTGRES_URL not set (.ci/run starts a PostgreSQL server and sets it)")
    import psycopg

    expected = _warehouse_counts(settings, tables)
    with psycopg.connect(settings.postgres_url) as conn:
        for table in tables:
            rows = conn.execute(
                f"SELECT as_of_date::text, count(*) FROM {settings.postgres_schema}.{table} GROUP BY 1"
            ).fetchall()
            assert dict(rows) == {d: n for d, n in expected[table].items() if d in FORECAST_DAYS}, table


def test_readers_see_whole_days_while_the_pipeline_republishes(published, instance, tmp_path):
    job, keys, settings, tables = published
    expected = {
        t: {d: n for d, n in days.items() if d in FORECAST_DAYS}
        for t, days in _warehouse_counts(settings, tables).items()
    }
    expected_path, stop, result_path = tmp_path / "expected.json", tmp_path / "stop", tmp_path / "result.json"
    expected_path.write_text(json.dumps(expected))
    reader = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("serving_reader.py")),
            str(settings.data_dir),
            str(expected_path),
            str(stop),
            str(result_path),
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while not Path(str(stop) + ".ready").exists():
            assert reader.poll() is None and time.monotonic() < deadline, "reader did not start"
            time.sleep(0.1)
        for _ in range(3):  # three runs, each re-publishing the three forecast days
            result = job.execute_in_process(
                instance=instance, asset_selection=keys, tags=_range(FORECAST_DAYS[0], LAST)
            )
            assert result.success
    finally:
        stop.touch()
        reader.wait(timeout=120)
    summary = json.loads(result_path.read_text())
    print(f"reader: {summary['reads']} reads, {summary['error_count']} errors, {summary['partial_count']} partial")
    assert summary["error_count"] == 0, summary["errors"]
    assert summary["partial_count"] == 0, summary["partial"]
    assert summary["reads"] >= 7 * 2 * 3, "the reader must have queried during the runs"
    assert {f"{t} {d}" for t, days in expected.items() for d in days} <= set(summary["days_seen"])


def test_a_failing_publish_gate_fails_the_run_and_keeps_what_readers_see(published, instance):
    job, keys, settings, tables = published
    before = published_state(settings.data_dir)
    con = duckdb.connect(str(settings.warehouse_path))
    row = con.execute(
        "select customer_id, sku, suggested_qty from analytics.customer_order_suggestions "
        "where as_of_date = ? order by customer_id, sku limit 1",
        [LAST],
    ).fetchall()[0]
    con.execute(
        "update analytics.customer_order_suggestions set suggested_qty = -7 "
        "where as_of_date = ? and customer_id = ? and sku = ?",
        [LAST, row[0], row[1]],
    )
    con.close()
    try:
        result = job.execute_in_process(
            instance=instance, asset_selection=keys, partition_key=LAST, raise_on_error=False
        )
        assert not result.success
        failure = result.failure_data_for_node("published_tables")
        assert "not published" in failure.error.message and "suggested_qty" in failure.error.message
        checks = {c.asset_key.path[-1]: c for c in result.get_asset_check_evaluations()}
        assert not checks["customer_order_suggestions"].passed
        assert checks["replenishment_plan"].passed
        detail = checks["customer_order_suggestions"].metadata["first_failure"].value
        assert "-7" in detail and "suggested_qty" in detail
        assert Path(checks["customer_order_suggestions"].metadata["data_docs"].value).exists()
        assert published_state(settings.data_dir) == before, "yesterday's publish must stay as it was"
    finally:
        con = duckdb.connect(str(settings.warehouse_path))
        con.execute(
            "update analytics.customer_order_suggestions set suggested_qty = ? "
            "where as_of_date = ? and customer_id = ? and sku = ?",
            [row[2], LAST, row[0], row[1]],
        )
        con.close()
    assert job.execute_in_process(instance=instance, asset_selection=keys, partition_key=LAST).success
