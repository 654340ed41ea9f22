"""The daily partitions every asset shares: one partition per business day.

Their first day and time zone are deployment settings (RESTOCK_PARTITION_START,
RESTOCK_TIMEZONE), read from the environment when the code location loads: a
partition set is part of the definitions, not of a run.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from restock.settings import load_settings

DEPLOYMENT = load_settings()

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=DEPLOYMENT.partition_start.isoformat(),
    timezone=DEPLOYMENT.timezone,
)


def inclusive_days(window: dg.TimeWindow) -> tuple[date, date]:
    """(first day, last day) of a partition time window, whose end is exclusive."""
    return window.start.date(), window.end.date() - timedelta(days=1)


def window_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days of the partition (or partition range, in a single-run backfill)."""
    first, last = inclusive_days(context.partition_time_window)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
