"""Publishing: per-day atomic Parquet files, a read-only serving.duckdb, PostgreSQL.

Plain Python (no Dagster import); the Dagster publish assets are thin wiring around
these functions. See ``restock.publish.serving`` for the atomicity scheme.
"""

from restock.publish.serving import (
    PublishResult,
    cleanup_versions,
    current_files,
    ensure_serving,
    latest_glob,
    latest_link,
    parquet_glob,
    prepare_frame,
    publish_day,
    published_days,
    published_state,
    published_tables,
    row_count,
    serving_path,
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
