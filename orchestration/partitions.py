"""The daily partitions every asset shares: one partition per business day."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from orchestration.environment import CONFIG, SETTINGS

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=SETTINGS.partition_start.isoformat(),
    timezone=CONFIG["schedule"]["timezone"],
)


def window_days(context: dg.AssetExecutionContext) -> list[date]:
    """The days of the partition (or partition range, in a single-run backfill)."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()  # end is exclusive
    return [first + timedelta(days=i) for i in range((end - first).days)]
