"""The replenishment tables in the warehouse: ``analytics.replenishment_plan``,
``analytics.customer_order_suggestions`` and ``analytics.inventory_alerts``, one set of
rows per ``as_of_date``; :func:`run_day` builds a day and writes it.

A re-run of a day replaces that day of the three tables in one transaction.
:func:`run_days` writes each day in its own transaction (a failing day leaves the
days before it written) and reads the inputs the days share once
(:class:`~restock.replenishment.inputs.DayCache`: the same rows as day by day).

``customer_order_suggestions`` keeps only rows with ``suggested_qty > 0`` (decision 5
of :mod:`restock.replenishment.assemble`). A warehouse written before that rule still
holds zero rows on its past days: :func:`drop_zero_suggestions` deletes them, once per
:func:`run_days` (idempotent; once they are gone the delete skips every row group on
its min/max statistics).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date

import pandas as pd
from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.config import RestockConfig
from restock.replenishment.assemble import build_replenishment
from restock.replenishment.inputs import DayCache
from restock.warehouse import replace_rows

log = logging.getLogger(__name__)

# table -> its columns in order; the tables are created from restock/warehouse_tables.yml.
TABLES = {
    name: table_registry.columns(name)
    for name in ("replenishment_plan", "customer_order_suggestions", "inventory_alerts")
}


def ensure_tables(con: DuckDBPyConnection) -> None:
    table_registry.ensure_tables(con, TABLES)


def drop_zero_suggestions(con: DuckDBPyConnection) -> int:
    """Delete the ``suggested_qty = 0`` rows an older Restock stored in
    ``analytics.customer_order_suggestions`` (they carry nothing: ``allocated_qty`` is 0
    too, see :func:`restock.replenishment.assemble.stored_suggestions`); returns the
    rows deleted. Safe to run any number of times."""
    ensure_tables(con)
    found = con.execute("delete from analytics.customer_order_suggestions where suggested_qty = 0").fetchone()
    deleted = int(found[0]) if found else 0
    if deleted:
        log.info("customer_order_suggestions: %d zero-suggestion rows of earlier runs deleted", deleted)
    return deleted


def write_replenishment(
    con: DuckDBPyConnection, day: date, frames: Mapping[str, pd.DataFrame], ensure: bool = True
) -> dict[str, int]:
    """Replace ``day`` in the three ``analytics`` tables in one transaction (a failure
    leaves the day's previous plan, suggestions and alerts together); returns rows
    written per table. ``ensure=False``: the caller has run :func:`ensure_tables`."""
    if ensure:
        ensure_tables(con)
    for table in TABLES:
        frame = frames[table]
        if len(frame) and (frame["as_of_date"] != day).any():
            raise ValueError(f"{table}: rows with an as_of_date other than {day}")
    counts = {}
    con.execute("begin transaction")
    try:
        for table, columns in TABLES.items():
            counts[table] = replace_rows(con, f"analytics.{table}", "as_of_date", day, frames[table], columns)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return counts


def run_day(con: DuckDBPyConnection, day: date, config: RestockConfig, cache: DayCache | None = None) -> dict[str, int]:
    """Build and write one day; returns rows written per table. ``cache``: the
    :class:`~restock.replenishment.inputs.DayCache` of a run of several days."""
    frames = build_replenishment(con, day, config, cache)
    ensure = cache is None or not cache.tables_ensured  # once in a run
    counts = write_replenishment(con, day, frames, ensure=ensure)
    if cache is not None:
        cache.tables_ensured = True
    return counts


def has_forecast(con: DuckDBPyConnection, day: date) -> bool:
    """A day before the first forecast origin with data has no forecast to plan from."""
    found = con.execute("select count(*) from analytics.forecast_runs where as_of_date = ?", [day]).fetchone()
    return bool(found and found[0])


def run_days(
    con: DuckDBPyConnection,
    days: Sequence[date],
    config: RestockConfig,
    progress: Callable[[int, date, dict[str, int], int], None] | None = None,
) -> tuple[dict[str, int], list[date]]:
    """Build and write every day that has a forecast; (rows per table, days skipped).
    ``progress(i, day, rows so far, days skipped so far)`` after each day."""
    drop_zero_suggestions(con)
    totals = dict.fromkeys(TABLES, 0)
    skipped: list[date] = []
    # The inputs the days share, read once (the same rows, see restock.replenishment.inputs);
    # a single day reads them directly (the reuse costs a few queries of its own).
    cache = DayCache() if len(days) > 1 else None
    try:
        for i, day in enumerate(days, 1):
            if has_forecast(con, day):
                for name, rows in run_day(con, day, config, cache).items():
                    totals[name] += rows
            else:
                skipped.append(day)
            if progress:
                progress(i, day, totals, len(skipped))
    finally:
        if cache is not None:
            cache.close(con)
    return totals, skipped


__all__ = [
    "TABLES",
    "drop_zero_suggestions",
    "ensure_tables",
    "has_forecast",
    "run_day",
    "run_days",
    "write_replenishment",
]
