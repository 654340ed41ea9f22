"""dbt models as Dagster assets: staging -> intermediate -> marts, run per partition window.

dbt tests become asset checks. A daily run rebuilds one day and a backfill one range
(incremental models replace the window). The business rules go to dbt as vars
(:func:`dbt_vars`); the partition window goes to the one-row table
``raw._dbt_run_window`` (:func:`run_window`), which the dbt macros read when they
compile a node. dbt re-parses the whole project whenever --vars change (3.5-10 s), so
a window passed as vars cost a full parse on every run; the vars now only change with
restock.yaml. dbt's partial-parse file is kept in the data folder between runs
(:func:`partial_parse_file`), as every invocation gets a fresh target folder.
"""

import functools
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from orchestration.partitions import daily_partitions, inclusive_days
from orchestration.resources import RestockResource, WarehouseResource
from restock.config import RestockConfig
from restock.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


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


def dbt_vars(config: RestockConfig, warehouse_path: str, memory_limit: str | None = None) -> dict[str, Any]:
    """--vars of every dbt build: the business rules, the warehouse file and DuckDB's
    memory limit (profiles.yml). Constant between runs (a change makes dbt re-parse
    the project), so no partition window."""
    limit = {"duckdb_memory_limit": memory_limit} if memory_limit else {}
    return {**config.dbt_vars(), "warehouse_path": warehouse_path, **limit}


# Written right before `dbt build`, dropped after it; read by macros/partition_window.sql.
RUN_WINDOW_TABLE = "raw._dbt_run_window"


@contextmanager
def run_window(warehouse: WarehouseResource, first: date, last: date) -> Iterator[None]:
    """The inclusive window [first, last] as the one row of ``raw._dbt_run_window``
    while the block runs (dbt reads it when it compiles a node). The table is dropped
    afterwards, also after a failure: nothing stays behind in the warehouse, and a bare
    `dbt build` by hand covers everything loaded."""
    with warehouse.connect() as con:
        con.execute("begin transaction")
        con.execute("create schema if not exists raw")
        con.execute(f"create or replace table {RUN_WINDOW_TABLE} (min_date date not null, max_date date not null)")
        con.execute(f"insert into {RUN_WINDOW_TABLE} values (?, ?)", [first, last])
        con.execute("commit")
    try:
        yield
    finally:
        try:
            with warehouse.connect() as con:
                con.execute(f"drop table if exists {RUN_WINDOW_TABLE}")
        except Exception as error:  # never hide the run's own outcome; the next run replaces it
            dg.get_dagster_logger().warning(f"could not drop {RUN_WINDOW_TABLE}: {error}")


def partial_parse_file(data_dir: str | Path) -> Path:
    """Where dbt's partial-parse state is kept between runs: per data folder, as it
    depends on the warehouse path (the profile) and the vars."""
    return Path(data_dir) / "dbt" / PARTIAL_PARSE_FILE


def fresh_target_path(prefix: str, kept_partial_parse: Path, target_dir: Path = DBT_PROJECT_DIR / "target") -> Path:
    """A new dbt target folder ``<prefix>-<random>`` for one invocation (artifacts of
    runs stay apart, as with dagster-dbt's own), holding the kept partial-parse file
    when there is one. dbt reads that file from its target folder and rewrites it there
    when the project changed; dagster-dbt copies in the one of `make manifest` (whose
    vars differ: a full parse) only into a folder without one."""
    target_path = target_dir / f"{prefix}-{uuid.uuid4().hex[:7]}"
    target_path.mkdir(parents=True)
    if kept_partial_parse.exists():
        shutil.copyfile(kept_partial_parse, target_path / PARTIAL_PARSE_FILE)
    return target_path


def keep_partial_parse(target_path: Path, kept: Path) -> None:
    """Keep the partial-parse file of a finished invocation for the next one
    (atomically: a reader sees the old file or the new one)."""
    state = target_path / PARTIAL_PARSE_FILE
    if not state.exists():
        return
    kept.parent.mkdir(parents=True, exist_ok=True)
    part = kept.with_name(f"{kept.name}.{os.getpid()}.part")
    shutil.copyfile(state, part)
    os.replace(part, kept)


# Target folders of earlier invocations kept for debugging (dbt.log, run_results.json,
# compiled SQL; ~6.5 MB each): a daily schedule made 2.4 GB a year. Folders written in
# the last hour are never pruned: another instance sharing this dbt project (a test,
# a second data folder) may be using one.
KEEP_TARGET_FOLDERS = 20
PRUNE_AFTER_SECONDS = 3600.0


def prune_target_folders(
    prefix: str,
    target_dir: Path = DBT_PROJECT_DIR / "target",
    keep: int = KEEP_TARGET_FOLDERS,
    min_age_seconds: float = PRUNE_AFTER_SECONDS,
) -> list[Path]:
    """Remove the per-invocation target folders ``<prefix>-*`` beyond the ``keep``
    most recently modified, if older than ``min_age_seconds``. Returns those removed."""
    folders = sorted(
        (p for p in target_dir.glob(f"{prefix}-*") if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    cutoff = time.time() - min_age_seconds
    removed = [p for p in folders[keep:] if p.stat().st_mtime < cutoff]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def dbt_build_args(dbt_vars: Mapping[str, Any]) -> list[str]:
    """`dbt build` as a data run calls it. Unit tests are a development check (make
    test), not part of a data run."""
    return ["build", "--vars", json.dumps(dbt_vars), "--exclude-resource-type", "unit_test"]


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
    context.log.info(f"dbt build for {first} .. {last} into {warehouse.path}")
    from restock.progress import Progress

    # One unit per model built and per test run (an asset and its checks). No line for
    # the first node: it carries dbt's start-up (~10 s), not a rate.
    nodes = len(context.selected_asset_keys) + len(context.selected_asset_check_keys)
    progress = Progress("dbt build", nodes, context.log.info, unit="nodes", report_first=False)
    kept = partial_parse_file(restock.data_dir)
    # named like dagster-dbt's own target folders: <op>-<run id>-<random>
    target_path = fresh_target_path(f"{context.op_execution_context.op.name}-{context.run.run_id[:7]}", kept)
    with run_window(warehouse, first, last):
        invocation = dbt.cli(
            dbt_build_args(dbt_vars(restock.config, warehouse.path, warehouse.memory_limit)),
            context=context,
            target_path=target_path,
        )
        for event in invocation.stream():
            yield event
            if isinstance(event, dg.Output):
                progress.advance(through=context.asset_key_for_output(event.output_name).to_user_string())
            elif isinstance(event, (dg.AssetMaterialization, dg.AssetCheckResult)) and event.asset_key is not None:
                progress.advance(through=event.asset_key.to_user_string())
    keep_partial_parse(target_path, kept)
    removed = prune_target_folders(context.op_execution_context.op.name)
    if removed:
        context.log.info(
            f"removed {len(removed)} dbt target folders of earlier runs (the last {KEEP_TARGET_FOLDERS} kept)"
        )
    progress.finish()
