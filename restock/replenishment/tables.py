"""The replenishment tables in the warehouse: ``analytics.replenishment_plan``,
``analytics.customer_order_suggestions`` and ``analytics.inventory_alerts``, one set of
rows per ``as_of_date``; :func:`run_day` builds a day and writes it.

A re-run of a day replaces that day of the three tables in one transaction.
:func:`run_days` writes each day in its own transaction (a failing day leaves the
days before it written) and reads the inputs the days share once
(:class:`~restock.replenishment.inputs.DayCache`: the same rows as day by day).
:func:`run_days_in_workers` does the same for a long run with several processes
(``backfill.workers``): the same rows, ~1.45× faster on two cores (the demo).

``customer_order_suggestions`` keeps only rows with ``suggested_qty > 0`` (decision 5
of :mod:`restock.replenishment.assemble`). A warehouse written before that rule still
holds zero rows on its past days: :func:`drop_zero_suggestions` deletes them, once per
:func:`run_days` (idempotent; once they are gone the delete skips every row group on
its min/max statistics).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path

import pandas as pd
from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.config import RestockConfig
from restock.day_workers import replace_days, run_in_workers, uses_workers
from restock.replenishment.assemble import build_replenishment
from restock.replenishment.inputs import DayCache

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
    return write_days(con, [(day, frames)], ensure)


def write_days(
    con: DuckDBPyConnection, days: Sequence[tuple[date, Mapping[str, pd.DataFrame]]], ensure: bool = True
) -> dict[str, int]:
    """:func:`write_replenishment` for several days in one transaction (one commit,
    one delete and one insert per table: ~0.02 s a demo day instead of ~0.09 s);
    returns rows written per table over the days."""
    if ensure:
        ensure_tables(con)
    qualified = {f"analytics.{table}": columns for table, columns in TABLES.items()}
    counts = replace_days(
        con, qualified, "as_of_date", [(day, {f"analytics.{t}": f for t, f in frames.items()}) for day, frames in days]
    )
    return {table: counts[f"analytics.{table}"] for table in TABLES}


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


def run_days_in_workers(
    open_writer: Callable[[], AbstractContextManager[DuckDBPyConnection]],
    path: Path,
    days: Sequence[date],
    config: RestockConfig,
    progress: Callable[[int, date, dict[str, int], int], None] | None = None,
    memory_limit: str | None = None,
) -> tuple[dict[str, int], list[date]]:
    """:func:`run_days` over the warehouse file ``path`` with the days built by
    ``backfill.workers`` processes, ``backfill.block_days`` days each at a time
    (:func:`restock.day_workers.run_in_workers`): the same rows. Longer blocks reuse
    more (the cache starts cold in each) and hold more rows in memory; 14 days
    measured as fast as 28 on the demo. A run shorter than two blocks, or
    ``workers: 1``, is :func:`run_days` on one ``open_writer()`` connection."""
    if not uses_workers(config.backfill, len(days)):
        with open_writer() as con:
            return run_days(con, days, config, progress)
    with open_writer() as con:
        drop_zero_suggestions(con)
        ensure_tables(con)
    totals, skipped = run_in_workers(
        open_writer,
        path,
        days,
        _build_block,
        config,
        _write_days,
        config.backfill,
        memory_limit,
        progress,
    )
    return dict.fromkeys(TABLES, 0) | totals, skipped


def _build_block(
    con: DuckDBPyConnection, days: list[date], config: RestockConfig
) -> Iterator[tuple[date, dict[str, pd.DataFrame] | None]]:
    cache = DayCache()
    try:
        for day in days:
            if has_forecast(con, day):
                frames = build_replenishment(con, day, config, cache)
                yield day, {name: frames[name] for name in TABLES}
            else:
                yield day, None
    finally:
        cache.close(con)


def _write_days(con: DuckDBPyConnection, days: list[tuple[date, dict[str, pd.DataFrame]]]) -> dict[str, int]:
    return write_days(con, days, ensure=False)


__all__ = [
    "TABLES",
    "drop_zero_suggestions",
    "ensure_tables",
    "has_forecast",
    "run_day",
    "run_days",
    "run_days_in_workers",
    "write_days",
    "write_replenishment",
]
