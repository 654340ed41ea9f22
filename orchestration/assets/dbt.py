"""dbt models as Dagster assets: staging -> intermediate -> marts, run per partition window.

dbt tests become asset checks. The partition window goes to dbt as vars, so a daily
run rebuilds one day and a backfill one range (incremental models replace the window).
"""


import json
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.environment import CONFIG, SETTINGS
from orchestration.partitions import daily_partitions
from restock.config import dbt_vars
from restock.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
if not dbt_project.manifest_path.exists():
    # A fresh clone has no manifest yet: parse once (make targets do this up front).
    dbt_project.preparer.prepare(dbt_project)


class RestockDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # models/<layer>/... -> group "staging" / "intermediate" / "marts"
        fqn = dbt_resource_props.get("fqn") or []
        return fqn[1] if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2 else None


def window_vars(start_day, end_day_inclusive) -> dict[str, Any]:
    return {"min_date": start_day.isoformat(), "max_date": end_day_inclusive.isoformat(), **dbt_vars(CONFIG)}


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    partitions_def=daily_partitions,
    dagster_dbt_translator=RestockDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
)
def restock_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    window = context.partition_time_window
    dbt_vars_json = json.dumps(window_vars(window.start.date(), window.end.date() - timedelta(days=1)))
    context.log.info(f"dbt build for {window.start.date()} .. {window.end.date() - timedelta(days=1)}")
    # Unit tests are a development check (make test), not part of a data run.
    yield from dbt.cli(
        ["build", "--vars", dbt_vars_json, "--exclude-resource-type", "unit_test"], context=context
    ).stream()


def dbt_resource() -> DbtCliResource:
    # The dbt next to this interpreter (the project venv), so nothing depends on PATH.
    venv_dbt = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(venv_dbt) if venv_dbt.exists() else "dbt",
    )


__all__ = ["restock_dbt_models", "dbt_resource", "dbt_project", "SETTINGS"]
