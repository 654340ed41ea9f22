"""Time and peak memory of one as-of replenishment run (restock.replenishment.tables.run_day).

    cp data/warehouse.duckdb /tmp/bench.duckdb          # the script copies nothing itself
    .venv/bin/python benchmarks/bench_replenishment_asof.py --warehouse /tmp/bench.duckdb --day 2025-12-31 --in-place
    .venv/bin/python benchmarks/bench_replenishment_asof.py --warehouse data/warehouse.duckdb --day 2025-12-31 --build-only
    .venv/bin/python benchmarks/bench_replenishment_asof.py --warehouse /tmp/bench.duckdb --day 2025-12-01 --days 14 \
        --in-place [--profile 25] [--dump /tmp/rep14]

``--days N`` times :func:`restock.replenishment.tables.run_days` over the N consecutive
days from ``--day`` (a backfill: what the Dagster asset runs for a range of
partitions), prints the seconds per day and, with ``--profile K``, the K functions of
highest cumulative time (cProfile). ``--dump DIR`` then writes the three tables' rows
of those days to DIR/<table>.parquet (to compare two versions of the code).

``run_day`` builds the day's ``replenishment_plan``, ``customer_order_suggestions`` and
``inventory_alerts`` and replaces that day of the three ``analytics`` tables: it
modifies the warehouse, so the script refuses to run without ``--in-place`` (run it on
a copy). ``--build-only`` opens the file read-only and times the build without writing
(allowed on any file).

The day needs its inputs (restock/replenishment/assemble.py, "Inputs on D"): marts,
customer segments, product classes and a ``forecast_runs`` row. ``--prepare`` (with
``--in-place``) first builds the ones a partial warehouse lacks for the day, as the
daily run would: customer segments and product classes, and the ``forecast_runs`` row
of a day whose forecast origin already has forecasts (a day that is itself an origin
without forecasts is an error: run the forecast first, benchmarks/bench_forecast_asof.py).
That preparation is timed apart and not counted in the run.

Prints: wall time of the run (build and write), peak RSS of the process
(``resource.getrusage``; also the RSS before the run, imports and connection), input
sizes and rows per output table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from restock.config import RestockConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _count(con, sql: str, params: list) -> int:
    return con.execute(sql, params).fetchall()[0][0]  # fetchall: no pending result left behind


def _prepare(con, day: date, config: RestockConfig) -> list[str]:
    """Build the day's missing upstream rows; returns what was built."""
    from restock.forecasting import origins, tables
    from restock.forecasting.panel import forecast_origin
    from restock.segmentation import tables as segments
    from restock.warehouse import replace_day

    segments.ensure_tables(con)
    tables.ensure_tables(con)
    done = []
    if not _count(con, "select count(*) from analytics.customer_segments where as_of_date = ?", [day]):
        rows = segments.customer_segments_for_day(con, day, config.segmentation)
        replace_day(con, "analytics.customer_segments", "as_of_date", day, rows, segments.SEGMENT_COLUMNS)
        done.append(f"customer_segments {len(rows):,} rows")
    if not _count(con, "select count(*) from analytics.product_classes where as_of_date = ?", [day]):
        rows = segments.product_classes_for_day(con, day, config.product_classes, config.forecasting.quantity)
        replace_day(con, "analytics.product_classes", "as_of_date", day, rows, segments.PRODUCT_COLUMNS)
        done.append(f"product_classes {len(rows):,} rows")
    if not _count(con, "select count(*) from analytics.forecast_runs where as_of_date = ?", [day]):
        origin = forecast_origin(day, config.forecasting.cutoff_weekday)
        has = _count(con, "select count(*) from analytics.segment_forecasts where forecast_origin = ?", [origin])
        if origin == day or not has:
            raise SystemExit(f"{day}: no forecasts for its origin {origin}: run the forecast step for {origin} first")
        origins.run_forecasts(con, [day], config)  # maps the day to its origin, reusing the origin's rows
        done.append(f"forecast_runs {day} -> {origin} (reused)")
    return done


def _range(args: argparse.Namespace) -> None:
    """``--days``: time run_days over the range (on a warm connection), optionally profiled."""
    import cProfile
    import pstats
    from datetime import timedelta

    import duckdb

    from restock.config import load_config
    from restock.replenishment.tables import TABLES, run_days

    config = load_config(args.config)
    days = [args.day + timedelta(days=i) for i in range(args.days)]
    con = duckdb.connect(str(args.warehouse))
    try:
        con.execute("select count(*) from analytics.forecast_runs").fetchall()  # open the file before timing
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        totals, skipped = run_days(con, days, config)
        if profiler:
            profiler.disable()
        wall = time.perf_counter() - started
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            for table in TABLES:
                frame = con.execute(
                    f"select * from analytics.{table} where as_of_date between ? and ? order by all",
                    [days[0], days[-1]],
                ).df()
                frame.to_parquet(args.dump / f"{table}.parquet")
    finally:
        con.close()
    done = len(days) - len(skipped)
    print(f"{args.warehouse} {days[0]}..{days[-1]}: run_days over {len(days)} days ({len(skipped)} skipped)")
    print(f"wall {wall:.2f} s, {wall / max(done, 1):.3f} s per day; peak RSS {_peak_mb():.0f} MB")
    print("rows: " + ", ".join(f"{t} {totals[t]:,}" for t in TABLES))
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="DuckDB warehouse file (use a copy)")
    parser.add_argument("--day", type=date.fromisoformat, required=True, help="as-of day, YYYY-MM-DD")
    parser.add_argument("--config", type=Path, default=ROOT / "restock.yaml")
    parser.add_argument("--in-place", action="store_true", help="allow writing into --warehouse")
    parser.add_argument("--build-only", action="store_true", help="time the build only, read-only, no write")
    parser.add_argument(
        "--prepare", action="store_true", help="build the day's missing inputs first (needs --in-place)"
    )
    parser.add_argument("--days", type=int, default=0, help="time run_days over this many days from --day")
    parser.add_argument("--profile", type=int, default=0, help="with --days: print the top K of a cProfile")
    parser.add_argument("--dump", type=Path, help="with --days: write the days' rows to DIR/<table>.parquet")
    args = parser.parse_args()
    if args.days:
        if not args.in_place or args.build_only or args.prepare:
            parser.error("--days writes the days into --warehouse: copy the file and pass --in-place")
        _range(args)
        return
    if not args.warehouse.is_file():
        parser.error(f"--warehouse {args.warehouse} does not exist")
    if args.build_only and args.prepare:
        parser.error("--prepare writes the inputs it builds: not with --build-only")
    if not args.build_only and not args.in_place:
        parser.error(
            f"run_day writes the day into {args.warehouse}: copy the file and pass --in-place "
            "(or --build-only to time the build without writing)"
        )

    import duckdb

    from restock.config import load_config
    from restock.replenishment.assemble import build_replenishment
    from restock.replenishment.tables import TABLES, write_replenishment

    config = load_config(args.config)
    con = duckdb.connect(str(args.warehouse), read_only=args.build_only)
    try:
        if args.prepare:
            started = time.perf_counter()
            built = _prepare(con, args.day, config)
            print(f"prepared in {time.perf_counter() - started:.1f} s: {'; '.join(built) or 'nothing missing'}")
        before_mb = _peak_mb()
        started = time.perf_counter()
        frames = build_replenishment(con, args.day, config)
        build_s = time.perf_counter() - started
        if args.build_only:
            rows, write_s = {t: len(frames[t]) for t in TABLES}, 0.0
        else:
            started = time.perf_counter()
            rows = write_replenishment(con, args.day, frames)
            write_s = time.perf_counter() - started
        peak_mb = _peak_mb()
        inputs = {
            "customers": _count(
                con, "select count(*) from analytics.customer_segments where as_of_date = ?", [args.day]
            ),
            "customer forecast rows": _count(
                con,
                "select count(*) from analytics.demand_forecasts where as_of_date = ? and level = 'customer'",
                [args.day],
            ),
            "inventory rows": _count(
                con, "select count(*) from marts.inventory_positions where as_of_date = ?", [args.day]
            ),
        }
    finally:
        con.close()

    mode = "build only (read-only)" if args.build_only else "run_day (build + write)"
    print(f"{args.warehouse} {args.day}: {mode}")
    print(f"wall {build_s + write_s:.2f} s (build {build_s:.2f} s, write {write_s:.2f} s)")
    print(f"peak RSS {peak_mb:.0f} MB (before the run: {before_mb:.0f} MB)")
    print("inputs: " + ", ".join(f"{k} {v:,}" for k, v in inputs.items()))
    print("rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()))
    unmapped = len(frames["unmapped_customers"])
    if unmapped:
        print(f"customers without a warehouse (left out): {unmapped:,}")


if __name__ == "__main__":
    main()
