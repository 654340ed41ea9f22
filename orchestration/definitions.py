"""The Restock code location: raw extracts -> dbt models -> segments, forecasts and
their accuracy review -> replenishment -> gated publishing, one daily-partitioned graph."""

from __future__ import annotations

import warnings

import dagster as dg
from dagster_shared.utils.warnings import BetaWarning, PreviewWarning

# Single-run backfills are "beta" in this Dagster version and we rely on them; without this
# every process that loads the code location repeats the same warnings.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

# isort: split

from orchestration.assets.dbt import dbt_resource, restock_dbt_models
from orchestration.assets.forecasting import forecasting_assets
from orchestration.assets.publish import publish_assets
from orchestration.assets.raw import raw_assets
from orchestration.assets.replenishment import replenishment_assets
from orchestration.automation import daily_job, daily_schedule, landing_sensor
from orchestration.environment import SETTINGS
from orchestration.resources import WarehouseResource

defs = dg.Definitions(
    assets=[*raw_assets, restock_dbt_models, *forecasting_assets, *replenishment_assets, *publish_assets],
    jobs=[daily_job],
    schedules=[daily_schedule],
    sensors=[landing_sensor],
    resources={
        "warehouse": WarehouseResource(path=str(SETTINGS.warehouse_path)),
        "dbt": dbt_resource(),
    },
    # One DuckDB file takes one writer: run a job's steps one after another.
    executor=dg.in_process_executor,
)
