"""Materialize the whole graph (raw -> dbt marts) through a real Dagster instance.

A backfill of a range as one run, then the same days as daily runs from an empty
warehouse, then a re-run of one day: the marts must be identical every time.
"""

from __future__ import annotations

import json
from datetime import timedelta

import dagster as dg
import pandas as pd
import pyarrow.csv as pacsv
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock.warehouse import connect

MARTS = ("customers", "products", "order_lines", "customer_sku_weekly_demand", "inventory_positions")
ANALYTICS = (
    "customer_segments",
    "product_classes",
    "segment_forecasts",
    "customer_forecast_shares",
    "forecast_runs",
    "forecast_members",
    "accuracy_reviews",
    "replenishment_plan",
    "customer_order_suggestions",
    "inventory_alerts",
    "kpis",
    "replenishment_replay",
)
FIRST, LAST = "2024-01-01", "2024-01-09"  # Monday of week 1 .. Tuesday of week 2


def _snapshot(settings) -> dict[str, pd.DataFrame]:
    con = connect(settings.warehouse_path, read_only=True)
    try:
        tables = {m: con.execute(f"select * from marts.{m} order by all").df() for m in MARTS}
        tables.update({t: con.execute(f"select * from analytics.{t} order by all").df() for t in ANALYTICS})
        return tables
    finally:
        con.close()


def _assert_same(left, right):
    for name in (*MARTS, *ANALYTICS):
        pd.testing.assert_frame_equal(left[name], right[name], check_dtype=True, obj=name)


def _landing_confirmed_qty(landing_dir, first, last) -> int:
    total, day = 0, pd.Timestamp(first).date()
    while day <= pd.Timestamp(last).date():
        table = pacsv.read_csv(landing_dir / "orders" / f"{day}.csv").to_pandas()
        total += int(table.loc[table["status"] == "confirmed", "quantity"].sum())
        day += timedelta(days=1)
    return total


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as inst:
        yield inst


def test_definitions_load(pipeline):
    defs, _ = pipeline
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/orders", "raw/customers", "raw/products", "raw/inventory", "raw/promotions"} <= keys
    assert {
        "marts/order_lines",
        "marts/customers",
        "marts/customer_sku_weekly_demand",
        "marts/inventory_positions",
    } <= keys
    # Gates stop what is downstream: dbt tests (severity error), the raw contracts and
    # the published-table gates are blocking checks.
    specs = list(defs.resolve_asset_graph().asset_check_keys)
    graph = defs.resolve_asset_graph()
    blocking = {key: graph.get_check_spec(key).blocking for key in specs}
    from orchestration.assets.dbt import dbt_project

    manifest = json.loads(dbt_project().manifest_path.read_text())
    warn_only = {
        n["name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and n["config"]["severity"].lower() == "warn"
    }
    dbt_checks = [k for k in blocking if k.asset_key.path[0] in ("staging", "marts")]
    # a model's not_null / not_negative columns are one check each (one dbt node per
    # model and kind, dbt_project/tests/generic/not_null_columns.sql)
    names = {k.name for k in dbt_checks}
    assert len(dbt_checks) >= 40 and warn_only and {"order_lines_not_null", "stg_crm__orders_not_negative"} <= names
    assert all(blocking[k] == (k.name not in warn_only) for k in dbt_checks), "dbt tests of severity error block"
    published = [k for k in blocking if k.asset_key.path[0] == "published"]
    gates = [k for k in published if k.name == "publishable"]
    assert len(gates) == 9 and all(blocking[k] for k in gates)
    # freshness (orchestration/alerting.py) reports, it does not stop anything
    fresh = [k for k in published if k.name == "fresh"]
    assert len(fresh) == 9 and not any(blocking[k] for k in fresh)
    assert len(published) == 18


def _backfill(job, instance, first, last):
    result = job.execute_in_process(
        instance=instance, tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    )
    assert result.success
    return result


def test_backfill_daily_runs_and_rerun_give_identical_marts(pipeline, landing_dir, instance):
    defs, settings = pipeline
    job = defs.resolve_job_def("restock_daily")

    backfill = _backfill(job, instance, FIRST, LAST)
    checks = backfill.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    after_backfill = _snapshot(settings)
    # Every confirmed carton in the landing files reaches the order-lines mart, once.
    assert int(after_backfill["order_lines"]["ordered_qty"].sum()) == _landing_confirmed_qty(landing_dir, FIRST, LAST)
    assert after_backfill["customers"]["as_of_date"].nunique() == 9
    assert (after_backfill["customer_sku_weekly_demand"]["ordered_qty"] == 0).any(), "zero weeks are explicit"
    # Segments and classes every day; forecasts from the first cut-off Sunday (01-07)
    # on, reused by the following days; the first days' origin (2023-12-31) has no data.
    assert after_backfill["customer_segments"]["as_of_date"].nunique() == 9
    assert after_backfill["product_classes"]["as_of_date"].nunique() == 9
    runs = after_backfill["forecast_runs"]
    assert sorted(pd.to_datetime(runs["as_of_date"]).dt.strftime("%Y-%m-%d")) == [
        "2024-01-07",
        "2024-01-08",
        "2024-01-09",
    ]
    assert set(pd.to_datetime(runs["forecast_origin"]).dt.strftime("%Y-%m-%d")) == {"2024-01-07"}
    forecasts = after_backfill["segment_forecasts"]
    assert len(forecasts) and set(forecasts["horizon"]) == set(range(1, 9))
    assert pd.Timestamp(forecasts["period_start"].min()) == pd.Timestamp("2024-01-08"), (
        "horizon 1: the week after the origin"
    )
    # Replenishment from the first day with a forecast: every inventory row planned,
    # suggestions for the customers' next cycle.
    plan = after_backfill["replenishment_plan"]
    assert sorted(pd.to_datetime(plan["as_of_date"]).dt.strftime("%Y-%m-%d").unique()) == [
        "2024-01-07",
        "2024-01-08",
        "2024-01-09",
    ]
    inventory_rows = after_backfill["inventory_positions"]
    assert len(plan[plan["as_of_date"] == plan["as_of_date"].max()]) >= len(
        inventory_rows[inventory_rows["as_of_date"] == inventory_rows["as_of_date"].max()]
    )
    assert (plan["recommended_order_qty"] >= 0).all() and len(after_backfill["customer_order_suggestions"]) > 0

    # From an empty warehouse: a shorter backfill, then the last days as daily runs
    # (crossing a week boundary: the weekly mart is rebuilt one day at a time).
    settings.warehouse_path.unlink()
    _backfill(job, instance, FIRST, "2024-01-06")
    for day in ("2024-01-07", "2024-01-08", "2024-01-09"):
        assert job.execute_in_process(instance=instance, partition_key=day).success
    _assert_same(after_backfill, _snapshot(settings))

    # A re-run of a day in the middle (e.g. after a re-delivery of the same files).
    assert job.execute_in_process(instance=instance, partition_key="2024-01-04").success
    _assert_same(after_backfill, _snapshot(settings))

    event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "orders"]))
    meta = event.asset_materialization.metadata
    assert event.asset_materialization.partition == "2024-01-04"
    assert meta["source_file"].value.endswith("orders/2024-01-04.csv")
    assert len(meta["checksum_sha256"].value) == 64 and meta["row_count"].value > 0
