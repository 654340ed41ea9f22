"""The Restock code location: raw extracts -> dbt models -> segments, forecasts and
their accuracy review -> replenishment -> gated publishing, one daily-partitioned graph.

Loading it reads no YAML and runs no dbt: the environment gives the partitions and
the folders (restock.settings); restock.yaml is read by the resources on first use
in a run. :func:`build_definitions` builds the same graph for other settings (tests).
"""

from __future__ import annotations

import warnings

import dagster as dg
from dagster_shared.utils.warnings import BetaWarning, PreviewWarning

# Single-run backfills are "beta" in this Dagster version and we rely on them; without this
# every process that loads the code location repeats the same warnings.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

# isort: split

from orchestration.alerting import alerting_sensors, freshness_checks  # noqa: E402
from orchestration.assets.dbt import restock_dbt_models  # noqa: E402
from orchestration.assets.forecasting import forecasting_assets  # noqa: E402
from orchestration.assets.performance import performance_assets  # noqa: E402
from orchestration.assets.publish import publish_assets  # noqa: E402
from orchestration.assets.raw import raw_assets  # noqa: E402
from orchestration.assets.replenishment import replenishment_assets  # noqa: E402
from orchestration.automation import daily_job, daily_schedule, landing_sensor  # noqa: E402
from orchestration.partitions import DEPLOYMENT  # noqa: E402
from orchestration.resources import build_resources  # noqa: E402
from restock.settings import Settings  # noqa: E402


def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, the daily job, schedule and sensor, the alerting sensors and the
    published tables' freshness checks (orchestration/alerting.py), with resources for ``settings``.

    The partitions (first day, time zone) are the code location's, from the
    environment: ``settings.partition_start`` and ``settings.timezone`` only feed the
    resources.
    """
    return dg.Definitions(
        assets=[
            *raw_assets,
            restock_dbt_models,
            *forecasting_assets,
            *replenishment_assets,
            *performance_assets,
            *publish_assets,
        ],
        asset_checks=freshness_checks,
        jobs=[daily_job],
        schedules=[daily_schedule],
        sensors=[landing_sensor, *alerting_sensors(settings)],
        resources=build_resources(settings),
        # One DuckDB file takes one writer: run a job's steps one after another.
        executor=dg.in_process_executor,
    )


defs = build_definitions(DEPLOYMENT)
