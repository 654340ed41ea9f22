"""What the dbt asset hands to dbt: the vars (business rules only), the partition window
(the one row of raw._dbt_run_window while dbt runs) and the partial-parse file kept
between runs; then, through real Dagster runs, that consecutive daily runs reuse dbt's
parse and leave every dbt relation equal to one range run of the same days."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock.config import RestockConfig
from tests.orchestration.conftest import tiny_settings


def test_the_vars_are_the_business_rules_and_the_warehouse_without_the_window():
    from orchestration.assets.dbt import dbt_vars

    config = RestockConfig().override({"tiers.window_weeks": 8, "extracts.inventory.quantity_unit": "case"})
    assert dbt_vars(config, "/w/warehouse.duckdb") == {
        "tier_window_weeks": 8,
        "tier_volume_band_edges": [2, 4, 7, 11, 16, 23, 32, 45, 65],
        "tier_price_band_edges": [120, 250],
        "new_customer_max_tier": 10,
        "inventory_quantity_unit": "case",
        "warehouse_path": "/w/warehouse.duckdb",
    }
    # no window: dbt re-parses the whole project whenever --vars change
    assert dbt_vars(RestockConfig(), "x.duckdb") == dbt_vars(RestockConfig(), "x.duckdb")


def test_a_partition_range_maps_to_its_inclusive_days():
    from orchestration.partitions import daily_partitions, inclusive_days

    keys = daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange("2024-01-30", "2024-02-02"))
    windows = daily_partitions.time_windows_for_partition_keys(frozenset(keys))
    window = dg.TimeWindow(min(w.start for w in windows), max(w.end for w in windows))
    assert inclusive_days(window) == (date(2024, 1, 30), date(2024, 2, 2)), "the window's end is exclusive"
    one = daily_partitions.time_window_for_partition_key("2024-02-29")
    assert inclusive_days(one) == (date(2024, 2, 29), date(2024, 2, 29))


def _window_rows(path: Path) -> list[tuple] | None:
    """The rows of raw._dbt_run_window; None when there is no such table."""
    with duckdb.connect(str(path), read_only=True) as con:
        if not con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = '_dbt_run_window'"
        ).fetchone()[0]:
            return None
        return con.execute("select min_date, max_date from raw._dbt_run_window").fetchall()


def test_the_window_is_one_row_while_dbt_runs_and_gone_afterwards_even_after_a_failure(tmp_path):
    from orchestration.assets.dbt import run_window
    from orchestration.resources import WarehouseResource

    path = tmp_path / "warehouse.duckdb"
    warehouse = WarehouseResource(path=str(path))
    with run_window(warehouse, date(2024, 1, 30), date(2024, 2, 2)):
        assert _window_rows(path) == [(date(2024, 1, 30), date(2024, 2, 2))]
    assert _window_rows(path) is None
    with duckdb.connect(str(path)) as con:  # left behind by a killed run
        con.execute(
            "create table raw._dbt_run_window as select date '2024-01-01' as min_date, date '2024-01-02' as max_date"
        )
    with run_window(warehouse, date(2024, 3, 1), date(2024, 3, 1)):
        assert _window_rows(path) == [(date(2024, 3, 1), date(2024, 3, 1))], "replaced, not added"
    with pytest.raises(RuntimeError), run_window(warehouse, date(2024, 3, 2), date(2024, 3, 2)):
        raise RuntimeError("dbt failed")
    assert _window_rows(path) is None


def test_the_partial_parse_file_is_kept_per_data_folder_and_seeds_each_fresh_target_folder(tmp_path):
    from orchestration.assets.dbt import dbt_build_args, fresh_target_path, keep_partial_parse, partial_parse_file

    assert dbt_build_args({"a": 1}) == ["build", "--vars", '{"a": 1}', "--exclude-resource-type", "unit_test"]
    kept = partial_parse_file(tmp_path / "data")
    assert kept == tmp_path / "data" / "dbt" / "partial_parse.msgpack"
    first = fresh_target_path("restock_dbt_models-0123456", kept, tmp_path / "target")
    assert first.parent == tmp_path / "target" and first.name.startswith("restock_dbt_models-0123456-")
    assert list(first.iterdir()) == [], "nothing kept yet: dagster-dbt copies in make manifest's file"
    keep_partial_parse(first, kept)
    assert not kept.exists()
    (first / "partial_parse.msgpack").write_bytes(b"state 1")  # what dbt wrote
    keep_partial_parse(first, kept)
    assert kept.read_bytes() == b"state 1"
    second = fresh_target_path("restock_dbt_models-0123456", kept, tmp_path / "target")
    assert second != first and (second / "partial_parse.msgpack").read_bytes() == b"state 1"
    (second / "partial_parse.msgpack").write_bytes(b"state 2")
    keep_partial_parse(second, kept)
    assert kept.read_bytes() == b"state 2"
    assert [p.name for p in kept.parent.iterdir()] == ["partial_parse.msgpack"], "no partial copy left"


def test_old_target_folders_are_pruned_beyond_the_last_ones_but_never_recent_ones(tmp_path):
    import os
    import time

    from orchestration.assets.dbt import prune_target_folders

    target = tmp_path / "target"
    now = time.time()
    ages = {f"restock_dbt_models-run{i}-abc": hours for i, hours in enumerate([0.1, 0.5, 2, 3, 5, 8])}
    for name, hours in ages.items():
        (target / name / "compiled").mkdir(parents=True)
        (target / name / "dbt.log").write_text("log")
        os.utime(target / name, (now - hours * 3600, now - hours * 3600))
    (target / "other_op-run9-abc").mkdir()  # another op's folders are not this prune's
    os.utime(target / "other_op-run9-abc", (now - 10 * 3600, now - 10 * 3600))
    (target / "manifest.json").write_text("{}")  # make manifest's files stay

    removed = prune_target_folders("restock_dbt_models", target, keep=3, min_age_seconds=3600)
    assert sorted(p.name for p in removed) == [
        "restock_dbt_models-run3-abc",
        "restock_dbt_models-run4-abc",
        "restock_dbt_models-run5-abc",
    ]
    assert sorted(p.name for p in target.iterdir()) == [
        "manifest.json", "other_op-run9-abc", "restock_dbt_models-run0-abc", "restock_dbt_models-run1-abc",
        "restock_dbt_models-run2-abc",
    ]  # fmt: skip
    # recent folders stay even beyond `keep`: another instance may be writing one
    removed = prune_target_folders("restock_dbt_models", target, keep=0, min_age_seconds=3600)
    assert [p.name for p in removed] == ["restock_dbt_models-run2-abc"]
    assert prune_target_folders("restock_dbt_models", target, keep=0, min_age_seconds=3600) == []


def test_the_dbt_resource_skips_dagster_dbts_version_subprocess_and_adapter(tmp_path, monkeypatch):
    import subprocess

    import dagster_dbt.core.resource as dagster_dbt_resource
    from packaging.version import parse

    from orchestration.assets.dbt import DBT_PROJECT_DIR
    from orchestration.resources import WarehouseDbtCliResource, dbt_executable

    assert Path(dbt_executable()).is_absolute(), "the venv's dbt"
    printed = subprocess.check_output([dbt_executable(), "--version"], text=True)
    resource = WarehouseDbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable(), warehouse_path=str(tmp_path / "w.duckdb")
    )

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"dagster-dbt started {args}")

    monkeypatch.setattr(dagster_dbt_resource, "check_output", no_subprocess)
    assert f"installed: {resource._cli_version}" in printed  # the version dbt --version prints
    assert resource._cli_version == parse(printed.split("installed:")[1].split()[0])
    assert resource._initialize_dbt_core_adapter(["build"]) is None


# --- through real runs -----------------------------------------------------------------

FIRST, DAY_1, DAY_2 = "2024-01-01", "2024-01-06", "2024-01-07"  # DAY_2 starts no new week
DBT_SCHEMAS = ("staging", "intermediate", "marts")


def _dbt_relations(path: Path) -> dict[str, list[tuple]]:
    """Every staging, intermediate and marts relation, rows sorted, without load times."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, list(column_name order by ordinal_position) "
            f"from information_schema.columns where table_schema in {DBT_SCHEMAS} group by all order by all"
        ).fetchall()
        return {
            f"{schema}.{table}": con.execute(
                f"select {', '.join(c for c in names if c not in ('loaded_at', '_loaded_at'))} "
                f'from "{schema}"."{table}" order by all'
            ).fetchall()
            for schema, table, names in columns
        }


def _dbt_log(run_id: str) -> str:
    """dbt's debug log of the run's dbt invocation (dagster-dbt's per-run target folder)."""
    from orchestration.assets.dbt import DBT_PROJECT_DIR

    (folder,) = (DBT_PROJECT_DIR / "target").glob(f"restock_dbt_models-{run_id[:7]}-*")
    return (folder / "dbt.log").read_text()


def test_daily_runs_reuse_the_parse_and_equal_one_range_run(landing_dir, tmp_path):
    from orchestration.assets.dbt import partial_parse_file
    from orchestration.definitions import build_definitions

    def runner(data_dir: Path):
        settings = dataclasses.replace(tiny_settings(landing_dir, data_dir), postgres_url=None)
        defs = build_definitions(settings)
        graph = defs.resolve_asset_graph()
        selection = [
            key
            for key in graph.get_all_asset_keys()
            if graph.get(key).group_name in ("raw", *DBT_SCHEMAS) and graph.get(key).is_materializable
        ]
        job = defs.resolve_job_def("restock_daily")

        def run(instance, first: str, last: str):
            tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
            result = job.execute_in_process(instance=instance, asset_selection=selection, tags=tags)
            assert result.success
            checks = result.get_asset_check_evaluations()
            assert len(checks) >= 40 and all(c.passed for c in checks)
            return result

        return settings, run

    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        daily, run_daily = runner(tmp_path / "daily")
        first = run_daily(instance, FIRST, "2024-01-05")
        kept = partial_parse_file(daily.data_dir)
        assert kept.exists(), "the first run keeps its parse"
        assert "Unable to do partial parsing" in _dbt_log(first.run_id), "the first run parses the project"
        for day in (DAY_1, DAY_2):
            result = run_daily(instance, day, day)
            log = _dbt_log(result.run_id)
            assert "Unable to do partial parsing" not in log and "Partial parsing enabled" in log, day
            assert f"cast('{day}' as date)" in log, "the marts were compiled for the day's window"
            assert _window_rows(daily.warehouse_path) is None, "the window table is gone after the run"

        ranged, run_range = runner(tmp_path / "range")
        run_range(instance, FIRST, DAY_2)

    after_days, after_range = _dbt_relations(daily.warehouse_path), _dbt_relations(ranged.warehouse_path)
    assert sorted(after_days) == sorted(after_range) and len(after_days) == 13
    for name, rows in after_range.items():
        assert after_days[name] == rows, name
    assert {d for (d, *_rest) in after_days["marts.customers"]} == {date(2024, 1, d) for d in range(1, 8)}


def test_dbt_opens_the_warehouse_with_the_configured_memory_limit(tmp_path):
    """RESTOCK_DUCKDB_MEMORY_LIMIT reaches dbt's DuckDB connection: the vars carry it and
    profiles.yml sets it (a real dbt command asks DuckDB)."""
    import json
    import subprocess

    from orchestration.assets.dbt import DBT_PROJECT_DIR, dbt_vars
    from orchestration.resources import dbt_executable

    dbt_vars_ = dbt_vars(RestockConfig(), str(tmp_path / "warehouse.duckdb"), "1GB")
    assert dbt_vars_["duckdb_memory_limit"] == "1GB"
    assert "duckdb_memory_limit" not in dbt_vars(RestockConfig(), "x.duckdb")  # none given: DuckDB's default
    shown = subprocess.run(
        [
            dbt_executable(),
            "show",
            "--inline",
            "select current_setting('memory_limit') as memory_limit",
            "--vars",
            json.dumps(dbt_vars_),
            "--output",
            "json",
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "target"),
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stdout[-2000:]
    assert '"memory_limit": "953.6 MiB"' in shown.stdout  # DuckDB's way of writing 1GB
