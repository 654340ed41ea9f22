"""Opening the working DuckDB file.

DuckDB allows one read-write process or many readers, never both. Dagster runs are
serialised (dagster_home/dagster.yaml), but another tool may hold the file for a
moment (a dbt subprocess finishing, a person's DuckDB CLI), so opening waits and
retries for a bounded time instead of failing a long backfill on the first try.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def connect(path: Path, read_only: bool = False, wait_seconds: float = 120.0, memory_limit: str | None = None):
    """The DuckDB file at ``path``, waiting while another process holds it.
    ``memory_limit``: DuckDB's (e.g. "4GB"; None: DuckDB's default, 80 % of the RAM)."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            if memory_limit:
                # SET, not connect(config=...): DuckDB refuses a second connection to a
                # file with another config than the open ones (a reader's, a test's).
                con.execute(f"set memory_limit = '{memory_limit}'")
            return con
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            log.warning("warehouse %s is locked by another process; retrying in %.1fs", path, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def replace_day(con, table: str, day_column: str, day: date, frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """Delete ``day`` from ``table`` and insert ``frame``'s ``columns`` in one
    transaction: a re-run of a day replaces it, a failure keeps the previous rows."""
    con.execute("begin transaction")
    try:
        rows = replace_rows(con, table, day_column, day, frame, columns)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return rows


def replace_rows(con, table: str, day_column: str, day: date, frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """:func:`replace_day` inside a transaction the caller holds (several tables at once)."""
    return replace_rows_of_days(con, table, day_column, [day], frame, columns)


def replace_rows_of_days(
    con, table: str, day_column: str, days: Sequence[date], frame: pd.DataFrame, columns: Sequence[str]
) -> int:
    """:func:`replace_rows` for several days at once: delete ``days``, insert ``frame``
    (whose rows belong to them; the caller checks)."""
    if not days:
        return 0
    con.execute(f"delete from {table} where {day_column} in ({', '.join('?' * len(days))})", list(days))
    if len(frame):
        con.register("_replace_day_rows", frame[list(columns)])
        con.execute(f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from _replace_day_rows")
        con.unregister("_replace_day_rows")
    return len(frame)
