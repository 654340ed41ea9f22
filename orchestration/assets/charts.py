"""Charts on the asset pages: the Markdown of restock.asset_charts as Dagster metadata.

A chart never fails its asset: restock.asset_charts leaves out a chart that fails and
reports it through the run's log, and anything else that goes wrong here is a warning
too (the asset's tables are written by then).
"""

import time
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

if TYPE_CHECKING:  # duckdb loads with the first run, not with the code location
    from duckdb import DuckDBPyConnection

    from restock.config import RestockConfig


def chart_metadata(
    context: dg.AssetExecutionContext,
    build: Callable[..., dict[str, str]],
    con: "DuckDBPyConnection",
    day: date,
    config: "RestockConfig",
) -> dict[str, Any]:
    """``{key: MetadataValue.md}`` of ``build(con, day, config, warn)``, one of the
    functions of restock.asset_charts; {} when it fails (logged as a warning)."""
    started = time.monotonic()
    try:
        charts = build(con, day, config, context.log.warning)
    except Exception as error:  # a picture never fails the asset
        context.log.warning(f"charts of {day} left out: {type(error).__name__}: {error}")
        return {}
    kilobytes = sum(len(text) for text in charts.values()) / 1024
    context.log.info(f"{len(charts)} chart(s) of {day} in {time.monotonic() - started:.2f} s ({kilobytes:.0f} KB)")
    return {key: dg.MetadataValue.md(text) for key, text in charts.items()}
