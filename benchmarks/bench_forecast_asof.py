"""Time and peak memory of one as-of forecast: a selection origin and the next (refit) origin.

    .venv/bin/python benchmarks/bench_forecast_asof.py --warehouse data/warehouse.duckdb --origin 2025-06-08

``--origin`` should be a selection origin (restock.forecasting.panel.is_selection_origin;
with the default 26-week grid: 2024-06-09, 2024-12-08, 2025-06-08, 2025-12-07, ...). For
that day and the Sunday after it, the script builds the day's customer segments and
runs the forecast step as the daily run would (it replaces those days' rows in the
analytics tables, nothing else), with the configured process pool. Prints per origin:
series, how they were obtained, wall time; then the peak RSS of the main process and
of the largest worker. The warehouse needs the marts for those days (a raw + dbt
backfill, e.g. `make backfill START=… END=… SELECT='group:raw or group:staging or
group:intermediate or group:marts'`).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import duckdb

    from restock.config import load_config
    from restock.forecasting import origins, tables
    from restock.forecasting.panel import make_pool
    from restock.segmentation import tables as segments
    from restock.warehouse import replace_day

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, default=ROOT / "data" / "warehouse.duckdb")
    parser.add_argument(
        "--origin", type=date.fromisoformat, required=True, help="a selection origin (a Sunday on the grid)"
    )
    parser.add_argument("--config", type=Path, default=ROOT / "restock.yaml")
    args = parser.parse_args()

    config = load_config(args.config)
    con = duckdb.connect(str(args.warehouse))
    segments.ensure_tables(con)
    tables.ensure_tables(con)
    pool = make_pool(config.forecasting.workers)
    try:
        for day in (args.origin, args.origin + timedelta(weeks=1)):
            started = time.perf_counter()
            rows = segments.customer_segments_for_day(con, day, config.segmentation)
            replace_day(con, "analytics.customer_segments", "as_of_date", day, rows, segments.SEGMENT_COLUMNS)
            seg_seconds = time.perf_counter() - started
            started = time.perf_counter()
            (result,) = origins.run_forecasts(con, [day], config, pool)
            print(
                f"{day}: {result.status}, {result.series} series, {result.selected} selected, "
                f"{result.fallbacks} on a rule ({result.failed_fits} failed fits), {result.forecast_rows} segment rows, "
                f"{result.share_rows} customer shares; forecast {time.perf_counter() - started:.1f} s "
                f"(customer segments {seg_seconds:.1f} s)",
                flush=True,
            )
    finally:
        if pool is not None:
            pool.shutdown()
        con.close()
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: main process {main_mb:.0f} MB, largest worker {worker_mb:.0f} MB")


if __name__ == "__main__":
    main()
