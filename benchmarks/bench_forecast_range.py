"""Time and accuracy of the forecast step over a run of consecutive origins.

    .venv/bin/python benchmarks/bench_forecast_range.py --warehouse W --start 2024-03-03 --end 2024-06-02

Copies the warehouse (``--warehouse``, which needs its marts and customer_segments for
the origins, e.g. a demo backfill's data/warehouse.duckdb) to a temporary file and
recomputes the forecasts of every origin from ``--start`` to ``--end`` in order, as a
backfill would (each origin reads the choices the earlier ones stored), with the
configured process pool. Prints per origin the wall time, the series and how their
forecasts were made (selection, refit, class default); then the accuracy of those
origins against the demand that arrived (the origin's population, horizons 1..8 where
the warehouse has the week): WAPE and relative bias at segment × SKU and total level.
Use it to compare two versions of the forecasting code on the same origins.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
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

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first origin (a cut-off weekday)")
    parser.add_argument("--end", type=date.fromisoformat, required=True, help="last origin")
    parser.add_argument("--config", type=Path, default=ROOT / "restock.yaml")
    args = parser.parse_args()

    config = load_config(args.config)
    with tempfile.TemporaryDirectory(prefix="bench-forecast-range-") as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, copy)
        con = duckdb.connect(str(copy))
        tables.ensure_tables(con)
        pool = make_pool(config.forecasting.workers)
        total = 0.0
        try:
            origin = args.start
            while origin <= args.end:
                started = time.perf_counter()
                (result,) = origins.run_forecasts(con, [origin], config, pool)
                seconds = time.perf_counter() - started
                total += seconds
                methods = con.execute(
                    """select method, count(*) from analytics.segment_forecasts
                       where forecast_origin = ? and horizon = 1 group by all order by all""",
                    [origin],
                ).fetchall()
                print(
                    f"{origin}: {result.status}, {result.series} series, {result.selected} choices stored, "
                    f"methods {dict(methods)}; {seconds:.1f} s",
                    flush=True,
                )
                origin += timedelta(weeks=1)
            print(f"forecast step over the range: {total:.1f} s")
            _accuracy(con, args.start, args.end, config.forecasting.quantity)
        finally:
            if pool is not None:
                pool.shutdown()
            con.close()
    main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: main process {main_mb:.0f} MB, largest worker {worker_mb:.0f} MB")


def _accuracy(con, start: date, end: date, quantity: str) -> None:
    """WAPE and relative bias of the range's forecasts, horizons 1..8, against the
    demand of each origin's population (weeks the warehouse holds in full)."""
    last_week = con.execute("select max(week_start) from marts.customer_sku_weekly_demand").fetchone()[0]
    con.execute(
        f"""create or replace temp table _points as
            with actual as (
                select m.forecast_origin, m.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
                from marts.customer_sku_weekly_demand w
                join analytics.forecast_members m using (customer_id)
                where m.forecast_origin between ? and ? and w.week_start > m.forecast_origin
                  and w.week_start < ?
                group by all)
            select f.forecast_origin, f.segment_id, f.sku, f.horizon, f.forecast_qty::double as forecast,
                   coalesce(a.qty, 0) as actual
            from analytics.segment_forecasts f
            left join actual a
              on a.forecast_origin = f.forecast_origin and a.segment_id = f.segment_id
             and a.sku = f.sku and a.week_start = f.period_start
            where f.forecast_origin between ? and ? and f.period_start < ?""",
        [start, end, last_week, start, end, last_week],
    )
    print("accuracy (h 1..8; WAPE = Σ|f - a| / Σa, bias = Σ(f - a) / Σa):")
    for label, group in (
        ("segment × SKU", "forecast_origin, segment_id, sku, horizon"),
        ("total", "forecast_origin, horizon"),
    ):
        for horizons in ((1, 1), (1, 8)):
            wape, bias, n = con.execute(
                f"""select sum(abs(f - a)) / sum(a), sum(f - a) / sum(a), count(*) from (
                        select sum(forecast) as f, sum(actual) as a from _points
                        where horizon between ? and ? group by {group})""",
                list(horizons),
            ).fetchone()
            print(f"  {label:14s} h{horizons[0]}-{horizons[1]}: WAPE {wape:.4f}, bias {bias:+.4f} ({n} points)")


if __name__ == "__main__":
    main()
