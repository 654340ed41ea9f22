"""Opening the working DuckDB file.

DuckDB allows one read-write process or many readers, never both. Dagster runs are
serialised (dagster_home/dagster.yaml), but another tool may hold the file for a
moment (a dbt subprocess finishing, a person's DuckDB CLI), so opening waits and
retries for a bounded time instead of failing a long backfill on the first try.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


def connect(path: Path, read_only: bool = False, wait_seconds: float = 120.0):
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            log.warning("warehouse %s is locked by another process; retrying in %.1fs", path, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
