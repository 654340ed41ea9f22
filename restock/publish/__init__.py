"""Publishing: per-day atomic Parquet files, a read-only serving.duckdb, PostgreSQL.

Plain Python (no Dagster import); the Dagster publish assets are thin wiring around
these modules. They write files and databases:

- ``paths``: where published tables live under ``data_dir``, which version is current
- ``frames``: a frame checked and converted to the Arrow table of one day
- ``versions``: a day published as an immutable Parquet version behind symlinks (the
  atomicity scheme), unpublished, superseded versions cleaned up
- ``serving``: serving.duckdb, the views BI tools open
- ``postgres``: the optional PostgreSQL copy
- ``gated_publish``: a day's tables gated, then published all together or not at all
- ``catalog``: the published entries of restock/warehouse_tables.yml and the docs/tables.md generated from them
"""

from restock.publish.frames import prepare_frame
from restock.publish.paths import (
    current_files,
    latest_glob,
    latest_link,
    parquet_glob,
    published_days,
    published_tables,
    serving_path,
)
from restock.publish.serving import ensure_serving
from restock.publish.versions import (
    PublishResult,
    cleanup_versions,
    publish_day,
    published_state,
    row_count,
    unpublish_day,
)

__all__ = [
    "PublishResult",
    "cleanup_versions",
    "current_files",
    "ensure_serving",
    "latest_glob",
    "latest_link",
    "parquet_glob",
    "prepare_frame",
    "publish_day",
    "published_days",
    "published_state",
    "published_tables",
    "serving_path",
    "row_count",
    "unpublish_day",
]
