"""A re-run of a day with unchanged files republishes every value to the last digit
(issue 12, point 11).

A sum of DOUBLEs depends on the order its terms are added in, and DuckDB's threads
add them in no fixed order: re-running the last demo day used to republish e.g.
220756.2 as 220756.19999999998 in customer_segments.monetary. Before the re-run, every
table of the warehouse is rewritten with its rows in a shuffled physical order (the
same rows), so code whose result follows the order rows are stored or scanned in
fails here every time, not only when the threads happen to race differently.

Backfills the whole tiny landing folder of the session (2024-01-01 .. 01-21) into a
data folder of its own (no PostgreSQL: the Parquet files are compared). 01-21 is a
Sunday: a forecast origin with an accuracy review of the forecasts made on 01-07 and
01-14, so its re-run recomputes every published table (segments, classes, forecasts,
accuracy, plan, suggestions, alerts). Three weeks, not two: with two, every customer
has at most two order days in its RFM window and a sum of two terms does not depend
on their order, so the code this test guards against passed it.

The backfill builds the customer_segments and replenishment days and the accuracy
reviews in two worker processes (blocks of one day or origin, restock.yaml
``backfill``), the re-run builds its one day in the run's own process: the comparison
also shows that the workers give the same values.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock import table_registry
from restock.publish.paths import current_files
from restock.settings import PROJECT_ROOT, Settings
from tests.orchestration.conftest import TINY

FIRST, LAST = TINY.start.isoformat(), (TINY.start + timedelta(days=TINY.days - 1)).isoformat()
PUBLISHED = [name for name, entry in table_registry.registry()["tables"].items() if entry["published"]]


def _published(data_dir) -> tuple[dict[str, pa.Table], dict[str, dict[date, str]]]:
    """Every served day of every published table, as one Arrow table sorted by its
    key (all columns); and the data file of each day."""
    tables, files = {}, {}
    for name in PUBLISHED:
        days = current_files(data_dir, name)
        files[name] = {day: str(path) for day, path in days.items()}
        data = pa.concat_tables([pq.read_table(path) for path in days.values()]) if days else None
        assert data is not None and data.num_rows, f"{name}: nothing published"
        key = table_registry.table(name)["key"]
        order = key + [c for c in data.column_names if c not in key]
        tables[name] = data.sort_by([(c, "ascending") for c in order]).replace_schema_metadata(None)
    return tables, files


def _differences(before: dict[str, pa.Table], after: dict[str, pa.Table]) -> list[str]:
    """table.column: how many values differ (exact comparison, NaN equal to NaN)."""
    found = []
    for name in PUBLISHED:
        a, b = before[name], after[name]
        if a.schema != b.schema or a.num_rows != b.num_rows:
            found.append(f"{name}: {a.num_rows} rows {a.schema} before, {b.num_rows} rows {b.schema} after")
            continue
        left, right = a.to_pandas(), b.to_pandas()
        for column in left.columns:
            x, y = left[column], right[column]
            same = (x == y).to_numpy(dtype=bool) | (x.isna() & y.isna()).to_numpy(dtype=bool)
            if not same.all():
                i = int((~same).argmax())
                found.append(f"{name}.{column}: {int((~same).sum())} rows, e.g. {x.iloc[i]!r} -> {y.iloc[i]!r}")
    return found


def _shuffle_every_table(path) -> int:
    """Rewrite every base table of the warehouse with the same rows in a random
    physical order; returns how many tables."""
    con = duckdb.connect(str(path))
    try:
        con.execute("select setseed(0.11)")
        tables = con.execute(
            """select table_schema, table_name from information_schema.tables
               where table_type = 'BASE TABLE' and table_schema not in ('information_schema', 'pg_catalog')
               order by 1, 2"""
        ).fetchall()
        for schema, name in tables:
            relation = f'"{schema}"."{name}"'
            con.execute("begin transaction")
            con.execute(f"create temp table _shuffled as select * from {relation} order by random()")
            con.execute(f"delete from {relation}")
            con.execute(f"insert into {relation} select * from _shuffled")
            con.execute("drop table _shuffled")
            con.execute("commit")
        return len(tables)
    finally:
        con.close()


@pytest.fixture(scope="module")
def reruns(landing_dir, tmp_path_factory):
    from orchestration.definitions import build_definitions

    raw = yaml.safe_load((PROJECT_ROOT / "restock.yaml").read_text(encoding="utf-8"))
    raw["backfill"].update(workers=2, block_days=1)
    config_path = tmp_path_factory.mktemp("rerun_config") / "restock.yaml"
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    settings = Settings(
        landing_dir=landing_dir,
        data_dir=tmp_path_factory.mktemp("rerun_data"),
        config_path=config_path,
        partition_start=TINY.start,
    )
    defs = build_definitions(settings)
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("rerun_home"))) as instance:
        # resolved inside a live instance: Dagster's load context may hold an earlier test's
        job = defs.resolve_job_def("restock_daily")
        backfill = job.execute_in_process(
            instance=instance, tags={ASSET_PARTITION_RANGE_START_TAG: FIRST, ASSET_PARTITION_RANGE_END_TAG: LAST}
        )
        assert backfill.success
        before, files_before = _published(settings.data_dir)
        shuffled = _shuffle_every_table(settings.warehouse_path)
        assert job.execute_in_process(instance=instance, partition_key=LAST).success
        after, files_after = _published(settings.data_dir)
    return before, after, files_before, files_after, shuffled


def test_a_rerun_of_the_last_day_republishes_every_value_unchanged(reruns):
    before, after, files_before, files_after, shuffled = reruns
    assert shuffled > 20, "the raw, marts and analytics tables were shuffled"
    last = date.fromisoformat(LAST)
    for name in PUBLISHED:
        # The day was published again (new immutable files), the days before were not.
        assert files_after[name][last] != files_before[name][last], name
        assert {d: f for d, f in files_after[name].items() if d != last} == {
            d: f for d, f in files_before[name].items() if d != last
        }, name
    differences = _differences(before, after)
    assert not differences, "values changed by a re-run with unchanged files:\n" + "\n".join(differences)
    for name in PUBLISHED:  # the same data, to the bit, types included
        assert after[name].equals(before[name]), name


def test_amounts_are_published_as_decimal(reruns):
    _, after, _, _, _ = reruns
    assert after["customer_segments"].schema.field("monetary").type == pa.decimal128(18, 2)
    assert after["product_classes"].schema.field("total_value").type == pa.decimal128(18, 2)
    assert after["replenishment_plan"].schema.field("unit_cost").type == pa.decimal128(18, 2)
    # The value shares of a day add up to 1 from the exact amounts.
    classes = after["product_classes"].to_pandas()
    day = classes[classes["as_of_date"] == classes["as_of_date"].max()]
    assert float(day["value_share"].sum()) == pytest.approx(1.0, abs=1e-12)
    assert pd.Series([float(v) for v in day["total_value"]]).gt(0).any()
