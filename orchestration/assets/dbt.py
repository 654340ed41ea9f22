"""dbt models as Dagster assets: staging -> intermediate -> marts, run per partition window.

dbt tests become asset checks. The partition window and the business rules go to dbt
as vars (:func:`dbt_vars_for_window`), so a daily run rebuilds one day and a backfill
one range (incremental models replace the window).
"""

import functools
import json
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.partitions import daily_partitions, inclusive_days
from orchestration.resources import RestockResource, WarehouseResource
from restock.config import RestockConfig
from restock.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project; its manifest is parsed by `make manifest` (every make target
    depends on it) or, under `dagster dev`, by prepare_if_dev. Loading the code
    location never runs dbt."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"no dbt manifest at {project.manifest_path}: run `make manifest` (or `dbt parse` in dbt_project/)"
        )
    return project


class RestockDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # models/<layer>/... -> group "staging" / "intermediate" / "marts"
        fqn = dbt_resource_props.get("fqn") or []
        return fqn[1] if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2 else None


def dbt_vars_for_window(first: date, last: date, config: RestockConfig, warehouse_path: str) -> dict[str, Any]:
    """--vars of one dbt build: the inclusive window, the business rules, the warehouse file."""
    return {
        "min_date": first.isoformat(),
        "max_date": last.isoformat(),
        **config.dbt_vars(),
        "warehouse_path": warehouse_path,
    }


@dbt_assets(
    manifest=dbt_project().manifest_path,
    project=dbt_project(),
    partitions_def=daily_partitions,
    dagster_dbt_translator=RestockDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
)
def restock_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, restock: RestockResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    first, last = inclusive_days(context.partition_time_window)
    dbt_vars = dbt_vars_for_window(first, last, restock.config, warehouse.path)
    context.log.info(f"dbt build for {first} .. {last} into {warehouse.path}")
    from restock.progress import Progress

    # One unit per model built and per test run (an asset and its checks). No line for
    # the first node: it carries dbt's start-up (~10 s), not a rate.
    nodes = len(context.selected_asset_keys) + len(context.selected_asset_check_keys)
    progress = Progress("dbt build", nodes, context.log.info, unit="nodes", report_first=False)
    # Unit tests are a development check (make test), not part of a data run.
    for event in dbt.cli(
        ["build", "--vars", json.dumps(dbt_vars), "--exclude-resource-type", "unit_test"], context=context
    ).stream():
        yield event
        if isinstance(event, dg.Output):
            progress.advance(through=context.asset_key_for_output(event.output_name).to_user_string())
        elif isinstance(event, (dg.AssetMaterialization, dg.AssetCheckResult)) and event.asset_key is not None:
            progress.advance(through=event.asset_key.to_user_string())
    progress.finish()
